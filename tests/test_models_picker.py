"""The model picker (issue 18 item 9): `deconfound models`, GET /api/models, the typed client and
the job form's dropdown list the built-ins, the supported families and the local models found
under the data directory, with size, family and pooling, read without loading weights."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from transformers import BertConfig, BertModel

from backend.api import create_app
from backend.cli import main
from client import ApiClient
from dashboard.spec_form import model_choices
from jobs.contracts.api import ModelsOut
from jobs.model_catalogue import FAMILIES, builtin_models, catalogue, human_count
from jobs.models import load_model

from .backend.conftest import make_settings

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128}


def bert_count(config: BertConfig) -> int:
    return sum(p.numel() for p in BertModel(config).parameters())


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """A data directory with: a BERT with weights (safetensors), a BERT config alone, a family
    outside the list, a folder without config.json, and a symlink out of the data directory."""
    data = tmp_path / "data"
    models = data / "models"
    weighted = BertConfig(vocab_size=1000, **SMALL)
    BertModel(weighted).save_pretrained(models / "bert-small")
    BertConfig(vocab_size=2000, **SMALL).save_pretrained(models / "bert-config-only")
    (models / "odd").mkdir()
    (models / "odd" / "config.json").write_text(json.dumps({"model_type": "no-such-family"}))
    (models / "notes").mkdir()
    (tmp_path / "outside").mkdir()
    BertConfig(vocab_size=500, **SMALL).save_pretrained(tmp_path / "outside")
    (models / "escape").symlink_to(tmp_path / "outside")
    return data


def test_the_catalogue_reads_family_pooling_and_size_without_loading(data_dir):
    found = catalogue(data_dir)
    by_name = {m.name: m for m in found.local}
    assert list(by_name) == ["models/bert-config-only", "models/bert-small", "models/odd"]  # no escape, no notes
    small = by_name["models/bert-small"]
    assert (small.family, small.kind, small.pooling, small.supported) == ("bert", "encoder", "pooler", True)
    assert small.parameters == bert_count(BertConfig(vocab_size=1000, **SMALL))  # from the safetensors header
    assert small.size_bytes == (data_dir / "models/bert-small/model.safetensors").stat().st_size
    config_only = by_name["models/bert-config-only"]
    assert config_only.parameters == bert_count(BertConfig(vocab_size=2000, **SMALL))  # from the config, on meta
    assert config_only.size_bytes is None and "no weight files" in config_only.note
    odd = by_name["models/odd"]
    assert not odd.supported and odd.family == "no-such-family" and odd.kind is None
    assert "not a declared family" in odd.note
    assert {f.model_type for f in found.families} == {t for t, *_ in FAMILIES} >= {"bert", "deberta-v2", "qwen2"}
    assert {f.kind for f in found.families if f.model_type in ("llama", "gpt2")} == {"decoder"}
    assert catalogue(data_dir / "nowhere").local == []


def test_the_builtin_tiny_is_counted_as_load_model_builds_it():
    tiny = next(m for m in builtin_models() if m.name == "tiny")
    assert tiny.parameters == sum(p.numel() for p in load_model("tiny", device="cpu").model.encoder.parameters())
    minilm = next(m for m in builtin_models() if m.name == "minilm")
    assert 22_000_000 < minilm.parameters < 23_500_000 and minilm.size_bytes > 0


def test_deconfound_models_prints_builtins_families_and_local_models(data_dir):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "backend.cli", "models", "--data-dir", str(data_dir)],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "tiny" in lines and "minilm" in lines
    small = lines[str(data_dir / "models" / "bert-small")]
    assert "local" in small and "bert" in small and "encoder" in small and "pooler" in small
    assert f" {human_count(bert_count(BertConfig(vocab_size=1000, **SMALL)))} " in small  # 168K
    for family in ("DeBERTa-v2/v3", "ModernBERT", "Qwen2", "Llama", "GPT-2"):
        assert family in out
    assert "escape" not in out


def test_deconfound_models_json_is_the_apis_answer(data_dir, capsys):
    assert main(["models", "--data-dir", str(data_dir), "--json"]) == 0
    answer = ModelsOut.model_validate_json(capsys.readouterr().out)
    assert answer == catalogue(data_dir)


@pytest.fixture
def http(data_dir) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(data_dir)), base_url="http://127.0.0.1") as test_client:
        yield test_client


def test_get_models_answers_the_typed_list_and_the_client_parses_it(http, data_dir):
    response = http.get("/api/models")
    assert response.status_code == 200
    answer = ModelsOut.model_validate(response.json())
    small = next(m for m in answer.local if m.name == "models/bert-small")
    assert small.family == "bert" and small.pooling == "pooler"
    assert small.parameters == bert_count(BertConfig(vocab_size=1000, **SMALL))
    assert {m.name for m in answer.builtin} == {"tiny", "minilm"} and answer.default == "minilm"
    assert str(data_dir) not in response.text  # no absolute path in a public answer
    typed = ApiClient(http).models()
    assert isinstance(typed, ModelsOut) and typed == answer


def test_the_forms_model_choices_say_family_size_and_pooling(data_dir):
    choices = {c["value"]: c for c in model_choices(catalogue(data_dir))}
    assert list(choices)[:2] == ["tiny", "minilm"]
    small = choices["models/bert-small"]
    assert small["name"] == "models/bert-small"
    count = bert_count(BertConfig(vocab_size=1000, **SMALL))
    assert small["detail"] == f"bert encoder · {count / 1e3:.3g}K params · pooling pooler"
    assert "not a declared family" in choices["models/odd"]["detail"]
    assert "22.7M params" in choices["minilm"]["detail"]
