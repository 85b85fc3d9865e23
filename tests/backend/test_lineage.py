"""Lineage from columns: a NeuronTune job's parent is the job whose saved model it names, the
parent's follow-ups are the jobs whose parent_job_id it is, a job knows its experiment's kind,
and deleting a parent leaves its children without one."""
from __future__ import annotations

from backend.store.models import Artifact, Experiment, Job, utcnow

from .conftest import TINY_JOB


def _finished_with_model(db, settings, job_id: int) -> None:
    path = settings.data_dir / "artifacts" / f"job{job_id}"
    path.mkdir(parents=True)
    with db.writing() as session:
        job = session.get(Job, job_id)
        job.status, job.attempt, job.finished_at = "succeeded", 1, utcnow()
        session.add(Artifact(job_id=job_id, attempt=1, kind="model", path=f"artifacts/job{job_id}", size_bytes=1))


def test_a_neurontune_job_is_its_parents_follow_up_until_the_parent_is_deleted(client, db, settings):
    parent = client.post("/api/jobs", json=TINY_JOB).json()
    assert parent["lineage"] == {"parent_job_id": None, "follow_up_ids": [], "experiment_id": None,
                                 "experiment_kind": None}
    _finished_with_model(db, settings, parent["id"])
    tuned = client.post("/api/jobs", json={**TINY_JOB, "method": "neurontune",
                                           "neurontune": {"parent_artifact": f"job:{parent['id']}"}})
    assert tuned.status_code == 201, tuned.text
    nt = tuned.json()["id"]
    assert tuned.json()["lineage"]["parent_job_id"] == parent["id"]
    assert client.get(f"/api/jobs/{parent['id']}").json()["lineage"]["follow_up_ids"] == [nt]
    listed = {j["id"]: j["lineage"] for j in client.get("/api/jobs").json()["items"]}
    assert listed[parent["id"]]["follow_up_ids"] == [nt] and listed[nt]["parent_job_id"] == parent["id"]
    for member in (parent["id"], nt):
        assert client.get(f"/api/jobs/{member}/chain").json()["compare"] == [parent["id"], nt]

    assert client.delete(f"/api/jobs/{parent['id']}").status_code == 204
    assert client.get(f"/api/jobs/{nt}").json()["lineage"]["parent_job_id"] is None
    assert client.get(f"/api/jobs/{nt}/chain").json()["compare"] == [nt]


def test_a_job_knows_its_experiments_kind_from_the_column(client, db):
    created = client.post("/api/experiments", json={"name": "s", "kind": "sweep", "base": TINY_JOB,
                                                    "grid": {"train.lr": [1e-3, 2e-3]}})
    assert created.status_code == 201, created.text
    experiment = created.json()
    job = client.get(f"/api/jobs/{experiment['job_ids'][0]}").json()
    assert job["lineage"]["experiment_id"] == experiment["id"] and job["lineage"]["experiment_kind"] == "sweep"
    with db.writing() as session:  # the grid keeps the request; what is answered is the column
        session.get(Experiment, experiment["id"]).grid = {**experiment["grid"], "kind": "compare"}
    assert client.get(f"/api/experiments/{experiment['id']}").json()["kind"] == "sweep"
