"""A job's whole life through the API and a real worker process: queued, running with points
readable as they come, finished with results and a saved model, deleted with all of it."""
from __future__ import annotations

from sqlalchemy import func, select

from backend.store.models import POINT_TABLES
from tests.helpers import wait_exit

from .conftest import long_job, wait_for, worker_log

FINISHED = ("succeeded", "collapsed")


def test_submit_run_read_while_running_and_after(client, settings, db, spawn_worker):
    job_id = client.post("/api/jobs", json=long_job(60)).json()["id"]
    worker = spawn_worker(settings, "--exit-when-idle")

    def seen_while_running():
        metrics = client.get(f"/api/jobs/{job_id}/metrics?name=loss/train").json()["series"]
        cid = client.get(f"/api/jobs/{job_id}/cid").json()["points"]
        job = client.get(f"/api/jobs/{job_id}").json()
        assert job["status"] in ("queued", "running"), (job, worker_log(worker))
        losses = metrics.get("loss/train", {}).get("steps", [])
        return job if job["status"] == "running" and len(losses) >= 3 and cid else None

    running = wait_for(seen_while_running, 90, "points of the running job")
    assert running["attempt"] == 1 and running["worker_id"].endswith(":cpu")
    assert running["progress"]["total"] == 60 and running["progress"]["step"] >= 1
    since = client.get(f"/api/jobs/{job_id}/metrics?name=loss/train").json()["last_step"]

    assert wait_exit(worker) == 0, worker_log(worker)
    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["status"] in FINISHED, (job, worker_log(worker))
    assert job["finished_at"] and job["error"] is None and job["wall_s"] > 0

    losses = client.get(f"/api/jobs/{job_id}/metrics?name=loss/train").json()["series"]["loss/train"]
    assert losses["steps"] == list(range(1, 61))
    newer = client.get(f"/api/jobs/{job_id}/metrics?name=loss/train&since_step={since}").json()
    assert newer["series"]["loss/train"]["steps"] == list(range(since + 1, 61))
    phases = [p["phase"] for p in client.get(f"/api/jobs/{job_id}/cid").json()["points"]]
    assert phases[0] == "live" and phases[-1] == "final"
    lists = client.get(f"/api/jobs/{job_id}/influence?k=3").json()
    assert lists["step"] == 60 and len(lists["top_a"]) <= 3 and all(e["text"] for e in lists["top_a"])

    results = client.get(f"/api/jobs/{job_id}/results").json()
    rows = {(r["split"], r["group"], r["metric"]) for r in results["rows"]}
    for split in ("train", "dev", "test"):
        assert {(split, None, "acc"), (split, None, "worst_group_acc")} <= rows
        assert sum(1 for s, g, _ in rows if s == split and g) == 4  # the four (label|confound) groups
    assert results["metrics"]["steps"] == 60 and results["metrics"]["test"]["n"] == 32
    [artifact] = results["artifacts"]
    saved = settings.data_dir / artifact["path"]
    assert artifact["path"] == f"artifacts/job-{job_id}" and (saved / "model.pt").is_file()
    assert any("attempt 1:" in line["message"] for line in client.get(f"/api/jobs/{job_id}/logs").json()["lines"])

    assert client.delete(f"/api/jobs/{job_id}").status_code == 204
    assert not saved.exists()
    with db.session() as session:
        assert all(session.scalar(select(func.count()).select_from(t)) == 0 for t in POINT_TABLES)


def test_a_job_that_cannot_load_its_data_fails_with_the_message(client, settings, spawn_worker):
    """Data the submission loaded fine and that broke before the worker read it (unknown options
    and the like are refused at submission: tests/backend/test_refusals.py)."""
    rows = "text,label,confound\n" + "".join(f"t {i},{i % 2},{i // 2 % 2}\n" for i in range(40))
    uploaded = client.post("/api/datasets", files={"file": ("d.csv", rows.encode())}).json()
    response = client.post("/api/jobs", json={**long_job(4), "dataset": uploaded["path"]})
    assert response.status_code == 201, response.text
    [stored] = (settings.data_dir / "uploads").glob("*.csv")
    stored.write_text(rows + "t 40,,1\n")
    worker = spawn_worker(settings, "--exit-when-idle")
    assert wait_exit(worker) == 0, worker_log(worker)
    job = client.get(f"/api/jobs/{response.json()['id']}").json()
    assert job["status"] == "failed" and job["error"].startswith("DataError"), job["error"]
    assert "row 42, field 'label'" in job["error"] and "\n" not in job["error"], job["error"]
