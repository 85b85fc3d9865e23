"""Experiments: a grid expands into jobs; the table is Table 2 (mean, std, Welch p vs finetuning, groups)."""
from __future__ import annotations

import math
import statistics

import pytest
from scipy import stats
from sqlalchemy import update

from backend.store.models import Job

from .conftest import TINY_JOB


def test_grid_expands_into_jobs(client):
    request = {"name": "lr sweep", "base": TINY_JOB, "methods": ["finetune", "influence-tuning"], "seeds": [1, 2],
               "datasets": ["textlen", {"name": "msgs", "options": {"train_size": 40}}],
               "grid": {"train.lr": [1e-5, 3e-5], "influence.k": [3]}}
    response = client.post("/api/experiments", json=request)
    assert response.status_code == 201, response.text
    experiment = response.json()
    assert len(experiment["job_ids"]) == 2 * 2 * 2 * 2 and experiment["status_counts"] == {"queued": 16}
    jobs = client.get(f"/api/jobs?experiment={experiment['id']}&limit=100").json()["items"]
    combos = {(j["dataset"], j["method"], j["seed"], j["spec"]["train"]["lr"]) for j in jobs}
    assert len(combos) == 16
    assert all(j["spec"]["influence"]["k"] == 3 and j["spec"]["train"]["max_steps"] == 4 for j in jobs)
    assert {j["params"]["train.lr"] for j in jobs} == {1e-5, 3e-5}
    msgs = [j for j in jobs if j["dataset"] == "msgs"]
    assert all(j["spec"]["dataset"]["options"] == {"train_size": 40} for j in msgs)
    assert client.get(f"/api/experiments/{experiment['id']}").json()["job_ids"] == experiment["job_ids"]
    assert [e["id"] for e in client.get("/api/experiments").json()] == [experiment["id"]]


@pytest.mark.parametrize("request_body, code, words", [
    ({"base": TINY_JOB, "methods": ["finetune", "magic"]}, 422,
     ["['body', 'expanded', 1, 'method']", "unknown method 'magic'", "valid"]),
    ({"base": TINY_JOB, "datasets": ["imdb"]}, 422, ["['body', 'expanded', 0, 'dataset']", "unknown dataset 'imdb'"]),
    ({"base": TINY_JOB, "grid": {"train.lr": [-1]}}, 422, []),
    ({"base": TINY_JOB, "grid": {"train.nonsense": [1]}}, 422, []),
    ({"base": TINY_JOB, "seeds": list(range(40)), "grid": {"train.lr": [1e-5] * 30}}, 400, ["at most 1000"]),
    ({"base": TINY_JOB, "methods": []}, 422, []),
    ({"base": TINY_JOB, "colour": "red"}, 422, []),
])
def test_bad_grids_create_nothing(client, request_body, code, words):
    response = client.post("/api/experiments", json=request_body)
    assert response.status_code == code, response.text
    assert all(word in str(response.json()["detail"]) for word in words), response.json()
    assert client.get("/api/jobs").json()["total"] == 0 and client.get("/api/experiments").json() == []


def test_grid_error_is_located_in_the_expansion(client):
    response = client.post("/api/experiments", json={"base": TINY_JOB, "grid": {"train.lr": [1e-5, -1]}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "expanded", 1, "train", "lr"]


def test_table_two(client, db):
    finetune = [0.70, 0.74, 0.72]
    tuned = [0.80, 0.84, 0.85]
    experiment = client.post("/api/experiments", json={
        "base": TINY_JOB, "methods": ["finetune", "influence-tuning"], "seeds": [1, 2, 3, 4]}).json()
    jobs = client.get(f"/api/jobs?experiment={experiment['id']}&limit=100").json()["items"]
    by_method = {"finetune": finetune, "influence-tuning": tuned}
    with db.session() as session:
        for job in jobs:
            accuracies = by_method[job["method"]]
            if job["seed"] == 4:  # the fourth seed of each method: collapsed, left out of the table
                values = {"status": "collapsed", "metrics": {"test": {"acc": 0.5}}}
            else:
                acc = accuracies[job["seed"] - 1]
                metrics = {"test": {"acc": acc, "worst_group_acc": acc - 0.2,
                                    "per_group": {"long|Positive .": acc + 0.1, "long|Negative .": acc - 0.2}},
                           "cid": 0.1 if job["method"] == "finetune" else 0.02}
                values = {"status": "succeeded", "metrics": metrics}
            session.execute(update(Job).where(Job.id == job["id"]).values(**values))
        session.commit()

    rows = client.get(f"/api/experiments/{experiment['id']}/table").json()["rows"]
    assert [(r["dataset"], r["method"], r["jobs"], r["finished"]) for r in rows] == [
        ("textlen", "finetune", 4, 3), ("textlen", "influence-tuning", 4, 3)]
    base, it = rows
    assert it["test_acc_mean"] == pytest.approx(statistics.mean(tuned))
    assert it["test_acc_std"] == pytest.approx(statistics.stdev(tuned))
    assert it["worst_group_acc_mean"] == pytest.approx(statistics.mean(tuned) - 0.2)
    assert it["group_acc_mean"]["long|Positive ."] == pytest.approx(statistics.mean(tuned) + 0.1)
    assert it["cid_mean"] == pytest.approx(0.02) and base["p_vs_finetune"] is None

    # Welch's t-test, written out: t over the unpooled standard error, Welch-Satterthwaite df.
    va, vb = statistics.variance(tuned) / 3, statistics.variance(finetune) / 3
    t = (statistics.mean(tuned) - statistics.mean(finetune)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 2)
    assert it["p_vs_finetune"] == pytest.approx(2 * stats.t.sf(abs(t), df))
    assert it["p_vs_finetune"] < 0.01
    assert client.get("/api/experiments/999/table").status_code == 404
