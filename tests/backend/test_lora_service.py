"""A LoRA job through the service: the spec's `lora` over REST (the form's spelling of targets
included), the worker trains adapters alone and saves them, and a NeuronTune job takes that
adapter artifact as its parent ("job:<id>")."""
from __future__ import annotations

import json

from fastapi.testclient import TestClient

from backend.api import create_app

from .conftest import TINY_JOB, make_settings, wait_for, worker_log

LORA_JOB = {**TINY_JOB, "device": "cpu", "train": {"max_steps": 4, "eval_every": 2, "lr": 3e-3},
            "diagnostics": {"probes": 4, "sample": 4, "cid_every": 0, "scope": "lora"},
            "lora": {"r": 4, "alpha": 8, "targets": "q v"}}


def finished(client: TestClient, job_id: int, worker) -> dict:
    job = wait_for(lambda: (j := client.get(f"/api/jobs/{job_id}").json())["status"] not in ("queued", "running")
                   and j, None, f"job {job_id} to finish", every_s=0.5)
    assert job["status"] in ("succeeded", "collapsed"), (job["error"], worker_log(worker))
    return job


def test_a_lora_job_and_neurontune_on_its_adapters(tmp_path, spawn_worker):
    settings = make_settings(tmp_path / "data")
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        refused = client.post("/api/jobs", json={**LORA_JOB, "lora": None})
        assert refused.status_code == 422 and "scope 'lora'" in refused.text
        assert client.post("/api/jobs", json={**LORA_JOB, "lora": {"r": 0}}).status_code == 422
        created = client.post("/api/jobs", json=LORA_JOB)
        assert created.status_code == 201, created.text
        assert created.json()["spec"]["lora"] == {"r": 4, "alpha": 8.0, "dropout": 0.0, "targets": ["q", "v"]}
        worker = spawn_worker(settings)
        parent = finished(client, created.json()["id"], worker)
        logs = client.get(f"/api/jobs/{parent['id']}/logs").json()
        assert "LoRA r=4, alpha=8" in json.dumps(logs)

        tuned = client.post("/api/jobs", json={**LORA_JOB, "lora": None, "method": "neurontune",
                                               "neurontune": {"parent_artifact": f"job:{parent['id']}"}})
        assert tuned.status_code == 201, tuned.text
        job = finished(client, tuned.json()["id"], worker)
        results = client.get(f"/api/jobs/{job['id']}/results").json()["metrics"]
        assert results["steps"] == 0 and results["parent"]["source"].startswith("artifact")
        saved = settings.artifact_dir(job["id"])
        assert json.loads((saved / "lora.json").read_text())["lora"]["r"] == 4
