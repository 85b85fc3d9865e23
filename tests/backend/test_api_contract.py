"""The API's contract, endpoint by endpoint, good and bad input (no worker: jobs stay queued)."""
from __future__ import annotations

import copy
import json

import pytest
from fastapi.openapi.utils import get_openapi
from fastapi.testclient import TestClient

from backend.api import create_app, estimate, jobs
from jobs.spec import METHODS

from ..test_spec import float_fields, spec_with
from .conftest import TINY_JOB, make_settings


def submit(client, spec=None, **headers):
    body = json.dumps(TINY_JOB if spec is None else spec)  # json.dumps lets Infinity through, as a client might
    return client.post("/api/jobs", content=body, headers={"content-type": "application/json", **headers})


def with_changes(**changes) -> dict:
    spec = copy.deepcopy(TINY_JOB)
    spec.update(changes)
    return spec


def test_health_and_docs(client):
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["database"] == "sqlite"
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert "JobSpec" in schema["components"]["schemas"] and "TrainSpec" in schema["components"]["schemas"]
    body = schema["paths"]["/api/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"] == "#/components/schemas/JobSpec"


def test_submit_and_read(client):
    response = submit(client)
    assert response.status_code == 201
    job = response.json()
    assert job["status"] == "queued" and job["attempt"] == 0 and job["dataset"] == "textlen"
    # defaults filled in (the tiny random model trains at its own learning rate, not 2e-5)
    assert job["spec"]["train"]["max_steps"] == 4 and job["spec"]["train"]["lr"] == 1e-3
    assert client.get(f"/api/jobs/{job['id']}").json()["spec"] == job["spec"]
    assert client.get("/api/jobs/999").status_code == 404


def test_preset_fills_in_what_the_spec_leaves_out(client):
    job = submit(client, with_changes(method="adversarial", preset="paper")).json()
    assert job["spec"]["train"]["lr"] == 5e-5 and job["spec"]["train"]["max_steps"] == 4


@pytest.mark.parametrize("changes, location, names", [
    ({"method": "bogus"}, ["body", "method"], ["finetune", "influence-tuning", "no-confound"]),
    ({"dataset": {"name": "imdb"}}, ["body", "dataset"], ["textlen", "msgs", "custom", "upload:<id>"]),
    ({"dataset": "imdb"}, ["body", "dataset"], ["textlen", "msgs", "custom", "upload:<id>"]),
    ({"preset": "fast"}, ["body", "preset"], ["paper", "textlen/finetune"]),
])
@pytest.mark.parametrize("route", ["/api/jobs", "/api/jobs/estimate"])
def test_unknown_choice_is_422_at_its_field_naming_the_valid_ones(client, route, changes, location, names):
    """A choice JobSpec knows by itself is the model's to refuse: 422, one line, at its field."""
    response = client.post(route, json=with_changes(**changes))
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == location and "\n" not in error["msg"] and error["msg"].startswith("unknown "), error
    assert "valid" in error["msg"] and all(name in error["msg"] for name in names), error


def test_unknown_model_is_400_naming_the_valid_ones(client):
    """Whether a model exists depends on this server (its data directory, the hub): 400."""
    response = submit(client, with_changes(model="bert-base-uncased"))
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "valid" in detail and all(name in detail for name in ["tiny", "minilm"]), detail


def test_paper_preset_without_a_paper_setting_is_422_at_the_preset(client):
    # Custom data takes TextLen's paper settings (issue 17); NeuronTune has none anywhere.
    response = submit(client, with_changes(dataset={"name": "custom", "path": "x.csv"}, preset="paper",
                                           method="neurontune"))
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "preset"] and "paper presets exist for textlen and msgs" in error["msg"]


def test_openapi_body_is_jobspec_generated_with_its_bounds(client):
    """FastAPI's own schema, from the routes alone (no hand patch): JobSpec is the body of both
    routes, and its numeric fields carry their bounds."""
    app = client.app
    routes = [r for r in (*jobs.router.routes, *estimate.router.routes)
              if r.path in ("/api/jobs", "/api/jobs/estimate") and "POST" in r.methods]
    assert len(routes) == 2 and not any(r.openapi_extra for r in routes)
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
    assert schema == client.get("/openapi.json").json() | {"info": schema["info"]}
    for path in ("/api/jobs", "/api/jobs/estimate"):
        body = schema["paths"][path]["post"]["requestBody"]
        assert body["required"] and body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/JobSpec"}
        assert set(schema["paths"][path]["post"]["responses"]) >= {"400", "422"}
    models = schema["components"]["schemas"]
    spec = models["JobSpec"]["properties"]
    assert (spec["seed"]["minimum"], spec["seed"]["maximum"]) == (0, 2**32 - 1)
    assert models[spec["method"]["$ref"].rsplit("/", 1)[1]]["enum"] == list(METHODS)  # the MethodName enum
    assert "paper" in spec["preset"]["enum"]
    assert spec["retry_collapsed"]["maximum"] == 10
    assert (models["DatasetSpec"]["properties"]["seed"]["maximum"], models["TrainSpec"]["properties"]["lr"]
            ["exclusiveMinimum"], models["TrainSpec"]["properties"]["lr"]["maximum"]) == (2**32 - 1, 0, 1.0)
    assert models["TrainSpec"]["properties"]["batch_size"] | {"minimum": 1, "maximum": 4096} == \
        models["TrainSpec"]["properties"]["batch_size"]
    assert models["JobOut"]["properties"]["spec"]["allOf"][0]["$ref"] == "#/components/schemas/JobSpec"


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("location", float_fields())
def test_non_finite_number_in_any_float_field_is_422_naming_it(client, location, value):
    body = json.dumps(with_changes(**spec_with(location, 0.5))).replace("0.5", value)  # as json.dumps would send inf
    for route in ("/api/jobs", "/api/jobs/estimate"):
        response = client.post(route, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422
        assert [e["loc"] for e in response.json()["detail"]] == [["body", *location]], response.json()


@pytest.mark.parametrize("changes, location", [
    ({"train": {"lr": -1}}, ["body", "train", "lr"]),
    ({"train": {"batch_size": "many"}}, ["body", "train", "batch_size"]),
    ({"seed": "x"}, ["body", "seed"]),
    ({"unknown_field": 1}, ["body", "unknown_field"]),
    ({"diagnostics": {"score": "l2"}}, ["body", "diagnostics", "score"]),
    ({"dataset": {"name": "textlen", "access_rate": 2}}, ["body", "dataset", "access_rate"]),
    ({"seed": -1}, ["body", "seed"]),
    ({"seed": 2**32}, ["body", "seed"]),
    ({"dataset": {"name": "textlen", "seed": 2**70}}, ["body", "dataset", "seed"]),
    ({"train": {"lr": float("inf")}}, ["body", "train", "lr"]),
])
def test_malformed_spec_is_422_with_the_field(client, changes, location):
    response = submit(client, with_changes(**changes))
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(error["loc"] == location for error in errors), errors
    assert all(error["msg"] for error in errors)


def test_largest_seed_is_accepted(client):
    assert submit(client, with_changes(seed=2**32 - 1)).json()["seed"] == 2**32 - 1


def test_body_that_is_not_a_spec_is_422(client):
    assert client.post("/api/jobs", content=b"{not json", headers={"content-type": "application/json"}).status_code == 422
    assert client.post("/api/jobs", json=[1, 2]).status_code == 422
    assert client.post("/api/jobs").status_code == 422


@pytest.mark.parametrize("dataset", [
    {"name": "custom", "path": "/etc/passwd"},
    {"name": "custom", "path": "../../../etc/passwd"},
    {"name": "custom", "path": "uploads/../../outside.csv"},
    {"name": "textlen", "options": {"conll_train": "/etc/passwd", "conll_test": "/etc/passwd"}},
    {"name": "msgs", "options": {"msgs_dir": "/tmp"}},
    # `source` is how TextLen and MSGS name their original files today
    {"name": "msgs", "options": {"source": "/tmp"}},
    {"name": "textlen", "options": {"source": "../../etc"}},
])
def test_files_outside_the_data_dir_are_refused(client, dataset):
    response = submit(client, with_changes(dataset=dataset))
    assert response.status_code == 400 and "outside the data directory" in response.json()["detail"]


def test_symlink_out_of_the_data_dir_is_refused(client, settings, tmp_path):
    outside = tmp_path / "secret.csv"
    outside.write_text("text,label,confound\na,0,0\n")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "link.csv").symlink_to(outside)
    response = submit(client, with_changes(dataset={"name": "custom", "path": "link.csv"}))
    assert response.status_code == 400 and "outside the data directory" in response.json()["detail"]


def test_model_paths_must_be_inside_the_data_dir(client, settings):
    assert submit(client, with_changes(model="/usr")).status_code == 400
    assert submit(client, with_changes(model="../")).status_code == 400
    (settings.data_dir / "models" / "mine").mkdir(parents=True)
    (settings.data_dir / "models" / "mine" / "config.json").write_text("{}")  # a model directory, as far as told
    job = submit(client, with_changes(model="models/mine"))
    assert job.status_code == 201 and job.json()["model"] == "models/mine"


def test_custom_dataset_needs_an_existing_upload(client):
    response = submit(client, with_changes(dataset={"name": "custom"}))
    assert response.status_code == 400 and "upload:<id>" in response.json()["detail"]
    response = submit(client, with_changes(dataset={"name": "custom", "path": "upload:7"}))
    assert response.status_code == 400 and "no uploaded dataset 'upload:7'" in response.json()["detail"]


def test_list_filters_and_pages(client):
    ids = [submit(client, with_changes(method=m)).json()["id"] for m in ("finetune", "finetune", "adversarial")]
    client.post(f"/api/jobs/{ids[0]}/cancel")
    every = client.get("/api/jobs").json()
    assert every["total"] == 3 and [j["id"] for j in every["items"]] == ids[::-1]
    assert [j["id"] for j in client.get("/api/jobs?method=adversarial").json()["items"]] == [ids[2]]
    assert [j["id"] for j in client.get("/api/jobs?status=cancelled").json()["items"]] == [ids[0]]
    assert client.get("/api/jobs?status=queued&method=finetune").json()["total"] == 1
    assert client.get("/api/jobs?dataset=msgs").json()["total"] == 0
    page = client.get("/api/jobs?limit=2&offset=1").json()
    assert page["total"] == 3 and [j["id"] for j in page["items"]] == [ids[1], ids[0]]
    assert client.get("/api/jobs?status=done").status_code == 400
    assert client.get("/api/jobs?limit=0").status_code == 422
    assert client.get("/api/jobs?experiment=1").json()["total"] == 0


def test_cancel_and_delete_a_queued_job(client, settings):
    job_id = submit(client).json()["id"]
    assert client.delete(f"/api/jobs/{job_id}").status_code == 409  # not finished
    cancelled = client.post(f"/api/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 409
    artifact = settings.artifact_dir(job_id)
    artifact.mkdir(parents=True)
    (artifact / "model.pt").write_bytes(b"x")
    assert client.delete(f"/api/jobs/{job_id}").status_code == 204
    assert client.get(f"/api/jobs/{job_id}").status_code == 404 and not artifact.exists()
    assert client.delete(f"/api/jobs/{job_id}").status_code == 404
    assert client.post("/api/jobs/12345/cancel").status_code == 404


def test_data_of_a_job_without_points(client):
    job_id = submit(client).json()["id"]
    metrics = client.get(f"/api/jobs/{job_id}/metrics").json()
    assert metrics["series"] == {} and metrics["names"] == [] and metrics["last_step"] is None
    assert client.get(f"/api/jobs/{job_id}/cid").json()["points"] == []
    assert client.get(f"/api/jobs/{job_id}/cid?phase=sometimes").status_code == 400
    assert client.get(f"/api/jobs/{job_id}/influence").status_code == 404
    results = client.get(f"/api/jobs/{job_id}/results").json()
    assert results["metrics"] is None and results["rows"] == [] and results["status"] == "queued"
    assert client.get(f"/api/jobs/{job_id}/logs").json()["lines"] == []
    for path in ("metrics", "cid", "influence", "results", "logs"):
        assert client.get(f"/api/jobs/999/{path}").status_code == 404


def test_catalogue(client):
    datasets = client.get("/api/datasets").json()
    by_name = {d["name"]: d for d in datasets["builtin"]}
    assert set(by_name) == {"textlen", "msgs"}
    textlen = by_name["textlen"]["stats"]["splits"]
    assert (textlen["train"]["size"], textlen["dev"]["size"], textlen["test"]["size"]) == (1500, 480, 500)
    assert textlen["train"]["agreement"] == pytest.approx(0.9, abs=0.01)
    assert datasets["uploaded"] == []
    assert {m["name"] for m in client.get("/api/models").json()["builtin"]} == {"tiny", "minilm"}
    methods = client.get("/api/methods").json()["methods"]
    assert [m["name"] for m in methods] == list(METHODS) and all(m["description"] for m in methods)
    presets = client.get("/api/presets").json()
    assert "paper" in presets["names"] and presets["presets"]["textlen/adversarial"]["train"]["lr"] == 5e-5


def test_token_guards_every_mutating_endpoint(tmp_path):
    settings = make_settings(tmp_path / "data", api_token="s3cret")
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        good = {"Authorization": "Bearer s3cret"}
        bad = {"Authorization": "Bearer wrong"}
        for headers in ({}, bad):
            response = submit(client, **headers)
            assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        job_id = submit(client, **good).json()["id"]
        assert client.get(f"/api/jobs/{job_id}").status_code == 200  # reads stay open
        assert client.get("/api/jobs").status_code == 200
        assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 401
        assert client.post(f"/api/jobs/{job_id}/cancel", headers=good).status_code == 200
        assert client.delete(f"/api/jobs/{job_id}", headers=bad).status_code == 401
        assert client.delete(f"/api/jobs/{job_id}", headers=good).status_code == 204
        upload = {"file": ("d.csv", b"text,label,confound\n", "text/csv")}
        assert client.post("/api/datasets", files=upload).status_code == 401
        assert client.post("/api/experiments", json={"base": TINY_JOB}).status_code == 401
        assert client.post("/api/experiments", json={"base": TINY_JOB}, headers=good).status_code == 201
