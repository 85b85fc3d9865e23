"""Every path that expands an experiment gives each method its own spec (issue 14, item 1: the
form built every method from the first method's spec, so influence tuning listed after
finetuning ran without its round settings)."""
from __future__ import annotations

from .conftest import TINY_JOB

TEXTLEN_SMALL = TINY_JOB["dataset"]


def jobs_of(client, experiment: dict) -> dict[str, dict]:
    return {job["method"]: job for job in (client.get(f"/api/jobs/{i}").json() for i in experiment["job_ids"])}


def test_rest_presets_resolve_per_method(client):
    body = {"name": "paper", "base": {"model": "tiny", "preset": "paper", "dataset": "textlen"},
            "methods": ["finetune", "influence-tuning", "embedding-tuning", "adversarial"], "seeds": [1]}
    created = client.post("/api/experiments", json=body)
    assert created.status_code == 201, created.text
    jobs = jobs_of(client, created.json())
    assert jobs["influence-tuning"]["spec"]["influence"]["round_epochs"] == 5  # textlen/influence-tuning
    assert jobs["embedding-tuning"]["spec"]["influence"]["round_epochs"] == 10  # textlen/embedding-tuning
    assert jobs["adversarial"]["spec"]["train"]["epochs"] == 20 and jobs["finetune"]["spec"]["train"]["epochs"] == 10


def test_an_experiment_of_parts_alone_keeps_each_methods_base(client):
    """What the form sends: no shared grid, one part per method with that method's whole spec."""
    plain = {"model": "tiny", "dataset": TEXTLEN_SMALL, "train": {"max_steps": 8, "batch_size": 16}}
    tuned = {**plain, "influence": {"interval": 4, "scope": "head"}}
    body = {"name": "form", "base": {}, "methods": [], "seeds": [1, 2],
            "parts": [{"base": plain, "methods": ["finetune"]}, {"base": tuned, "methods": ["influence-tuning"]}]}
    created = client.post("/api/experiments", json=body)
    assert created.status_code == 201, created.text
    assert len(created.json()["job_ids"]) == 4
    jobs = jobs_of(client, created.json())
    assert jobs["influence-tuning"]["spec"]["influence"]["interval"] == 4
    assert jobs["finetune"]["spec"]["influence"]["interval"] is None and jobs["finetune"]["model"] == "tiny"
    nothing = client.post("/api/experiments", json={"name": "empty", "methods": [], "seeds": [1]})
    assert nothing.status_code == 422 and "no jobs" in nothing.text


def test_a_sweep_keeps_each_methods_own_grid_and_base(client):
    plain = {"model": "tiny", "dataset": TEXTLEN_SMALL, "train": {"max_steps": 8, "batch_size": 16}}
    body = {"name": "sweep", "kind": "sweep", "base": {}, "methods": [], "seeds": [1],
            "parts": [{"base": plain, "methods": ["finetune"], "grid": {"train.lr": [1e-3, 2e-3]}},
                      {"base": {**plain, "influence": {"interval": 4}}, "methods": ["influence-tuning"],
                       "grid": {"influence.lr": [1e-5, 3e-5]}}]}
    created = client.post("/api/experiments", json=body)
    assert created.status_code == 201, created.text
    specs = [client.get(f"/api/jobs/{i}").json()["spec"] for i in created.json()["job_ids"]]
    tuned = [s for s in specs if s["method"] == "influence-tuning"]
    assert sorted(s["influence"]["lr"] for s in tuned) == [1e-5, 3e-5]
    assert all(s["influence"]["interval"] == 4 and s["train"]["lr"] == 1e-3 for s in tuned)
    assert sorted(s["train"]["lr"] for s in specs if s["method"] == "finetune") == [1e-3, 2e-3]
