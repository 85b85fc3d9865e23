"""Property-based fuzzing of the job spec, experiment and upload endpoints: never a 500."""
from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.api import create_app

from .conftest import TINY_JOB, make_settings

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12)

# Every field of the spec a client might get wrong, as a path into the JSON.
SPEC_PATHS = [("model",), ("method",), ("preset",), ("seed",), ("device",), ("dtype",), ("retry_collapsed",),
              ("reference",), ("dataset",), ("dataset", "name"), ("dataset", "path"), ("dataset", "options"),
              ("dataset", "access_rate"), ("dataset", "confound_rule"), ("dataset", "text_column"),
              ("dataset", "options", "train_size"), ("dataset", "options", "conll_train"), ("train",),
              ("train", "lr"), ("train", "batch_size"), ("train", "max_steps"), ("train", "epochs"),
              ("influence", "k"), ("influence", "scope"), ("diagnostics", "probes"), ("adversarial", "weight"),
              ("no_such_field",)]
NAMED = st.sampled_from(["tiny", "minilm", "textlen", "msgs", "custom", "paper", "textlen/finetune", "finetune",
                         "influence-tuning", "upload:1", "upload:x", "../../etc/passwd", "/etc", "hf:imdb",
                         "models/x", "", ".", "cuda:7", "token:a", "regex:(", "textlen/adversarial"])


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory) -> Iterator[TestClient]:
    settings_ = make_settings(tmp_path_factory.mktemp("fuzz") / "data", upload_limit_mb=4096 / 2**20)  # 4 KiB
    with TestClient(create_app(settings_), raise_server_exceptions=False, base_url="http://127.0.0.1") as client:
        rows = "text,label,confound\n" + "".join(f"t {i},{i % 2},{i % 3 % 2}\n" for i in range(40))
        assert client.post("/api/datasets", files={"file": ("d.csv", rows.encode())}).status_code == 201
        yield client


def mutate(spec: dict, path: tuple, value) -> dict:
    spec = copy.deepcopy(spec)
    node = spec
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value
    return spec


# FUZZ_EXAMPLES=5000 for a longer hunt.
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(mutations=st.lists(st.tuples(st.sampled_from(SPEC_PATHS), JSON | NAMED), min_size=1, max_size=4))
def test_job_spec_fuzz_never_500(fuzz_client, mutations):
    spec = TINY_JOB
    for path, value in mutations:
        spec = mutate(spec, path, value)
    response = fuzz_client.post("/api/jobs", content=json.dumps(spec), headers={"content-type": "application/json"})
    assert response.status_code in (201, 400, 422), (response.status_code, response.text, spec)
    if response.status_code == 422:
        assert all(error["loc"][0] == "body" and error["msg"] for error in response.json()["detail"])


@FUZZ
@given(body=JSON)
def test_arbitrary_json_bodies_never_500(fuzz_client, body):
    for url in ("/api/jobs", "/api/experiments"):
        response = fuzz_client.post(url, content=json.dumps(body), headers={"content-type": "application/json"})
        assert response.status_code in (201, 400, 422), (url, response.status_code, response.text)


@FUZZ
@given(base=st.fixed_dictionaries({}, optional={"model": NAMED, "method": NAMED}),
       methods=st.lists(NAMED, min_size=0, max_size=3), seeds=st.lists(st.integers(), max_size=3),
       grid=st.dictionaries(st.sampled_from(["train.lr", "influence.k", "seed", "dataset.name", "x.y", "train"]),
                            st.lists(JSON | NAMED, max_size=3), max_size=2))
def test_experiment_fuzz_never_500(fuzz_client, base, methods, seeds, grid):
    body = {"base": {**TINY_JOB, **base}, "methods": methods, "seeds": seeds, "grid": grid}
    response = fuzz_client.post("/api/experiments", content=json.dumps(body), headers={"content-type": "application/json"})
    assert response.status_code in (201, 400, 422), (response.status_code, response.text)


CSVISH = st.lists(st.lists(st.text(max_size=8), min_size=1, max_size=5), max_size=30).map(
    lambda rows: "\n".join(",".join(row) for row in rows).encode())


@FUZZ
@given(name=st.text(max_size=20).map(lambda s: s) | st.sampled_from(["", "..", "a/../../b.csv"]),
       suffix=st.sampled_from([".csv", ".tsv", ".jsonl", ".ndjson", ".txt", ""]),
       content=st.binary(max_size=600) | CSVISH | st.just(b"x" * 5000),
       form=st.dictionaries(st.sampled_from(["text_column", "label_column", "confound_column", "confound_rule"]),
                            st.text(max_size=10) | NAMED, max_size=4))
def test_upload_fuzz_never_500(fuzz_client, name, suffix, content, form):
    response = fuzz_client.post("/api/datasets", files={"file": (name + suffix, content)}, data=form)
    assert response.status_code in (201, 400, 413, 422), (response.status_code, response.text)
