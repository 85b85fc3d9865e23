"""An influence-tuning spec that would run no round is refused at submission (job, estimate,
experiment), naming influence.interval and the largest value that works; unset, the interval
scales with the run and the estimate counts its rounds."""
from __future__ import annotations

from .conftest import TINY_JOB

SHORT_IT = {**TINY_JOB, "method": "influence-tuning", "train": {"max_steps": 40, "eval_every": 20, "batch_size": 8}}


def test_a_job_without_rounds_is_refused_naming_the_field(client):
    refused = client.post("/api/jobs", json={**SHORT_IT, "influence": {"interval": 50}})
    assert refused.status_code == 400
    detail = refused.json()["detail"]
    assert detail.startswith("influence.interval 50: a run of 40 label steps has no influence round")
    assert "at most 26" in detail and "\n" not in detail
    assert client.post("/api/jobs", json={**SHORT_IT, "influence": {"interval": 26}}).status_code == 201


def test_the_default_interval_gives_a_short_run_rounds(client):
    estimate = client.post("/api/jobs/estimate", json=SHORT_IT)
    assert estimate.status_code == 200
    assert estimate.json()["rounds"] == 4 and estimate.json()["spec"]["influence"]["interval"] is None
    assert client.post("/api/jobs/estimate", json={**SHORT_IT, "influence": {"interval": 50}}).status_code == 400
    finetune = client.post("/api/jobs", json={**SHORT_IT, "method": "finetune", "influence": {"interval": 50}})
    assert finetune.status_code == 201  # the interval means nothing to finetuning


def test_an_experiment_with_a_method_without_rounds_is_refused_whole(client):
    body = {"name": "short", "base": {**SHORT_IT, "influence": {"interval": 50}},
            "methods": ["finetune", "influence-tuning"], "seeds": [1]}
    refused = client.post("/api/experiments", json=body)
    assert refused.status_code == 400 and "influence.interval 50" in refused.json()["detail"]
    assert "method influence-tuning" in refused.json()["detail"]
    assert client.get("/api/jobs").json()["total"] == 0
