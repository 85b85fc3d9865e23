"""Sweeps: a hyperparameter grid whose best point per (dataset, method) by mean dev accuracy is
selected; over REST, and end to end with `deconfound sweep --api` against a real server."""
from __future__ import annotations

import dataclasses
import socket
import threading

import pytest
import uvicorn
from sqlalchemy import update

from backend.api import create_app
from backend.cli import main
from backend.queue.worker import Worker
from backend.services.experiments import TableJob, expand_request, table_rows, welch_p
from backend.services.protocols import sweep_request
from backend.store.models import Job
from jobs.contracts.results import JobResults
from jobs.presets import SEARCH_SPACES
from tests.helpers import WAIT_S

from .conftest import TINY_JOB, make_settings, wait_for


def _job(method: str, lr: float, seed: int, dev: float, test: float, flip: float = 0.1,
         status: str = "succeeded") -> TableJob:
    return TableJob(dataset="textlen", method=method, params={"train.lr": lr}, status=status,
                    spec={"dataset": {"name": "textlen", "access_rate": 1.0}},
                    metrics=JobResults.model_validate(
                        {"dev": {"acc": dev}, "test": {"acc": test, "flip_rate": flip, "worst_group_acc": test - 0.1,
                                                       "per_group": {}}, "cid": 0.01}))


def test_selection_picks_the_best_mean_dev_accuracy():
    # lr 1e-5: better test but worse dev; lr 3e-5: best dev on average (one seed alone is not).
    jobs = [_job("influence-tuning", 1e-5, 1, 0.70, 0.90), _job("influence-tuning", 1e-5, 2, 0.80, 0.92),
            _job("influence-tuning", 3e-5, 1, 0.82, 0.80, flip=0.3), _job("influence-tuning", 3e-5, 2, 0.76, 0.84,
                                                                           flip=0.5),
            _job("influence-tuning", 3e-5, 3, 0.99, 0.10, status="collapsed"),  # left out of every mean
            _job("finetune", 1e-5, 1, 0.60, 0.70), _job("finetune", 1e-5, 2, 0.61, 0.72),
            _job("finetune", 2e-5, 1, 0.65, 0.75), _job("finetune", 2e-5, 2, 0.66, 0.77)]
    rows = {(r.method, r.params["train.lr"]): r for r in table_rows(jobs)}
    assert rows[("influence-tuning", 3e-5)].dev_acc_mean == pytest.approx(0.79)
    assert rows[("influence-tuning", 1e-5)].dev_acc_mean == pytest.approx(0.75)
    assert [key for key, r in rows.items() if r.selected] == [("finetune", 2e-5), ("influence-tuning", 3e-5)]
    best = rows[("influence-tuning", 3e-5)]
    assert (best.jobs, best.finished) == (3, 2)
    assert best.test_acc_mean == pytest.approx(0.82) and best.flip_rate_mean == pytest.approx(0.4)
    assert best.access_rate == 1.0
    # No finetuning row at lr 3e-5: the p-value is against the selected finetuning row (lr 2e-5).
    assert best.p_vs_finetune == pytest.approx(welch_p([0.80, 0.84], [0.75, 0.77]))
    assert rows[("influence-tuning", 1e-5)].p_vs_finetune == pytest.approx(welch_p([0.90, 0.92], [0.70, 0.72]))
    # Without any dev accuracy nothing is chosen among several points; a lone point is its own choice.
    no_dev = [dataclasses.replace(j, metrics=JobResults(test=j.metrics.test)) for j in jobs]
    chosen = [(r.method, r.params["train.lr"]) for r in table_rows(no_dev) if r.selected]
    assert chosen == []
    assert all(r.selected for r in table_rows(jobs[:2] + jobs[5:7]))


def test_sweep_table_over_rest(client, db):
    request = sweep_request(["textlen"], ["finetune", "adversarial"], {"train.lr": [1e-5, 3e-5]}, [1, 2],
                            TINY_JOB, name="lr sweep")
    created = client.post("/api/experiments", json=request.model_dump(mode="json"))
    assert created.status_code == 201, created.text
    experiment = created.json()
    assert experiment["kind"] == "sweep" and len(experiment["job_ids"]) == 8
    jobs = client.get(f"/api/jobs?experiment={experiment['id']}&limit=100").json()["items"]
    dev = {("finetune", 1e-5): [0.7, 0.8], ("finetune", 3e-5): [0.6, 0.6],
           ("adversarial", 1e-5): [0.5, 0.5], ("adversarial", 3e-5): [0.9, 0.5]}
    with db.session() as session:
        for job in jobs:
            acc = dev[(job["method"], job["params"]["train.lr"])][job["seed"] - 1]
            session.execute(update(Job).where(Job.id == job["id"]).values(status="succeeded", metrics={
                "dev": {"acc": acc}, "test": {"acc": acc - 0.05, "flip_rate": 0.2, "per_group": {}}}))
        session.commit()
    table = client.get(f"/api/experiments/{experiment['id']}/table").json()
    assert table["kind"] == "sweep" and len(table["rows"]) == 4
    assert [(r["method"], r["params"], r["dev_acc_mean"]) for r in table["selected_rows"]] == [
        ("adversarial", {"train.lr": 3e-5}, pytest.approx(0.7)), ("finetune", {"train.lr": 1e-5}, pytest.approx(0.75))]
    assert all(r["flip_rate_mean"] == pytest.approx(0.2) and r["access_rate"] == 1.0 for r in table["rows"])

    spaces = {(s["dataset"], s["method"]): s for s in client.get("/api/experiments/search-spaces").json()}
    assert spaces[("textlen", "adversarial")]["grid"]["adversarial.weight"] == [0.1, 0.3, 1.0, 3.0]
    assert spaces[("msgs", "influence-tuning")]["points"] == 3 * 3 * 4 * 1
    assert set(spaces) == {tuple(k.split("/")) for k in SEARCH_SPACES}
    scales = {s["name"]: s for s in client.get("/api/experiments/scales").json()}
    assert scales["paper"]["model"] == "bert-base-uncased" and scales["paper"]["seeds"] == [2021, 2022, 2023, 2024, 2025]
    assert scales["cpu"]["model"] == "minilm" and scales["cpu"]["seeds"] == [2021, 2022, 2023]


def test_paper_grid_expands_per_dataset_and_method():
    request = sweep_request(["textlen", "msgs"], ["adversarial", "embedding-tuning"], {"influence.k": [3]}, [2021],
                            {"preset": "paper"}, named="paper")
    expanded = expand_request(request.resolved_parts(), request.kind)
    per = {}
    for spec, params in expanded:
        per.setdefault((spec["dataset"]["name"], spec["method"]), []).append(params)
    assert {k: len(v) for k, v in per.items()} == {("textlen", "adversarial"): 2 * 3 * 4,
                                                   ("msgs", "adversarial"): 2 * 3 * 4,
                                                   ("textlen", "embedding-tuning"): 3 * 3 * 4 * 3,
                                                   ("msgs", "embedding-tuning"): 3 * 3 * 4 * 1}
    assert {p["train.epochs"] for p in per[("msgs", "adversarial")]} == {3, 6, 12}
    assert all(p["influence.k"] == 3 for p in per[("msgs", "embedding-tuning")])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    """A real API server (uvicorn, with a token) and a worker on its store, in threads."""
    settings = make_settings(tmp_path / "served", api_token="s3cret")
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=_free_port(),
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    wait_for(lambda: server.started, 30, "the API server to start")
    worker = Worker(settings, device="cpu", poll_s=0.2)
    worker_thread = threading.Thread(target=worker.run_forever, daemon=True)
    worker_thread.start()
    yield f"http://127.0.0.1:{server.config.port}"
    worker.shutdown.set()
    worker_thread.join(timeout=WAIT_S)
    server.should_exit = True


def test_sweep_command_through_the_api(served, capsys):
    tiny = ["--set", 'dataset.options={"train_size": 64, "dev_size": 32, "test_size": 32}',
            "--set", "train.batch_size=16", "--set", "train.warmup=0", "--set", "train.eval_every=8",
            "--set", 'diagnostics={"probes": 4, "sample": 4, "cid_every": 8, "histogram_probes": 1}']
    command = ["sweep", "--dataset", "textlen", "--method", "finetune", "--grid", "train.lr=5e-3,1e-6",
               "--seeds", "2021", "--model", "tiny", "--max-steps", "16", "--api", served, *tiny]
    assert main(command) == 2  # no token: refused, nothing submitted
    assert "401" in capsys.readouterr().out
    assert main([*command, "--token", "s3cret"]) == 0
    out = capsys.readouterr().out
    assert "submitted" in out and "[2/2 jobs]" in out and "Table 2: sweep textlen finetune" in out, out
    # The selected row is the grid point with the better dev accuracy (lr 1e-6 learns nothing in 16 steps).
    selected = [line for line in out.splitlines() if "✓" in line]
    assert len(selected) == 1 and "train.lr=0.005" in selected[0], out
    assert main([*command, "--token", "s3cret"]) == 0 and "resumed (2 finished)" in capsys.readouterr().out
    # Another grid under the same name is refused in one line.
    assert main([*command[:6], "train.lr=1e-4", *command[7:], "--token", "s3cret"]) == 2
    assert "made from other settings" in capsys.readouterr().out



def test_reproduce_command_through_the_api(served, capsys):
    """The protocol submitted over REST and followed to its tables, Figure 3's numbers included
    (fetched from GET /api/experiments/{id}/cid)."""
    command = ["reproduce", "textlen", "--scale", "tiny", "--api", served, "--token", "s3cret"]
    assert main(command) == 0
    out = capsys.readouterr().out
    assert "submitted" in out and "[5/5 jobs]" in out and "Table 2: reproduce textlen tiny" in out, out
    assert "Figure 3" in out, out
    figure = out[out.index("Figure 3"):]
    assert "final" in figure and "live" in figure and "pre-round" in figure, out
