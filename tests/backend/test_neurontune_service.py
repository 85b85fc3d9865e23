"""NeuronTune in the service: diagnostics rows in the store and over the API, a parent chosen as
"job:<id>" (and confined to the data directory), and the loop closed: a suggested confound
becomes an influence-tuning job that the worker runs."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend.api import create_app
from backend.queue.claims import claim_next
from backend.store.db import Database
from backend.store.models import Diagnostic, Job
from backend.store.recorder import StoreRecorder
from jobs.data import load_dataset
from jobs.data.rules import parse_rule
from jobs.methods.neurontune import DIAGNOSTIC_NAMES
from jobs.runner import MODEL_DIAGNOSTIC

from .conftest import TINY_JOB, make_settings, wait_for, worker_log

# TextLen where 40 steps at lr 1e-3 make the tiny model lean on the prefix (tests/test_neurontune.py).
DATASET = {"name": "textlen", "options": {"train_size": 200, "dev_size": 100, "test_size": 100}}
PARENT = {"model": "tiny", "method": "finetune", "device": "cpu", "dataset": DATASET,
          "train": {"max_steps": 40, "batch_size": 16, "lr": 1e-3, "max_length": 48, "eval_every": 20},
          "diagnostics": {"probes": 4, "sample": 4, "cid_every": 0, "scope": "head", "histogram_probes": 1},
          # unused by finetuning; what the follow-up influence tuning inherits: two cheap rounds
          "influence": {"interval": 15, "probes_per_round": 4, "k": 2, "round_epochs": 1, "tuples_per_update": 4,
                        "scope": "head"}}
TOKEN = {"Authorization": "Bearer s3cret"}


def test_diagnostics_rows_land_per_attempt_and_come_back_over_the_api(client, db):
    job_id = client.post("/api/jobs", json=TINY_JOB).json()["id"]
    claim = claim_next(db, "w1", lease_s=0.01)
    recorder = StoreRecorder(db, claim.job_id, claim.attempt, "w1")
    recorder.diagnostic("neurontune.zeroed", {"count": 1, "indices": [3]})
    recorder.diagnostic("neurontune.scores", {"histogram": {"short": {"counts": [1, 2]}}, "lambda": float("nan")})
    recorder.diagnostic("neurontune.zeroed", {"count": 2, "indices": [3, 7]})  # recorded again: replaces
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Diagnostic)) == 0  # queued until a flush
    recorder.flush()

    everything = client.get(f"/api/jobs/{job_id}/diagnostics").json()
    assert everything["names"] == ["neurontune.zeroed", "neurontune.scores"] and everything["attempt"] == 1
    assert everything["items"]["neurontune.zeroed"] == {"count": 2, "indices": [3, 7]}
    one = client.get(f"/api/jobs/{job_id}/diagnostics/neurontune.scores").json()
    assert one["payload"]["lambda"] is None and one["payload"]["histogram"]["short"]["counts"] == [1, 2]
    missing = client.get(f"/api/jobs/{job_id}/diagnostics/nothing")
    assert missing.status_code == 404
    assert missing.json()["detail"] == (f"job {job_id} has no diagnostic 'nothing'; "
                                        "recorded: neurontune.zeroed, neurontune.scores")
    with pytest.raises(TypeError, match="must be a dict"):
        recorder.diagnostic("x", [1, 2])

    # The lease lapses, another worker takes the job: the first attempt's diagnostics are not
    # shown, and go once the new attempt begins afresh (no checkpoint to resume from).
    again = wait_for(lambda: claim_next(db, "w2", lease_s=0.01), 5, "the job to be claimed again")
    assert again.attempt == 2
    assert client.get(f"/api/jobs/{job_id}/diagnostics").json() == {"job_id": job_id, "attempt": 2, "names": [],
                                                                     "items": {}}
    StoreRecorder(db, again.job_id, again.attempt, "w2").begin(None)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Diagnostic)) == 0
    old = StoreRecorder(db, claim.job_id, claim.attempt, "w1")
    old.diagnostic("neurontune.zeroed", {"count": 9})
    old.flush()  # a worker that lost the job writes nothing
    assert old.lost and client.get(f"/api/jobs/{job_id}/diagnostics").json()["names"] == []


def test_a_neurontune_parent_is_a_job_or_a_directory_inside_the_data_dir(client, settings):
    def submit(parent):
        return client.post("/api/jobs", json={**TINY_JOB, "method": "neurontune",
                                              "neurontune": {"parent_artifact": parent}})
    queued = client.post("/api/jobs", json=TINY_JOB).json()["id"]
    assert submit("/etc").json()["detail"].startswith("neurontune.parent_artifact '/etc' is outside the data directory")
    assert submit(f"job:{queued}").json()["detail"] == (f"neurontune.parent_artifact 'job:{queued}': "
                                                        f"job {queued} has no saved model (queued)")
    assert submit("job:999").status_code == 400
    (settings.data_dir / "models" / "mine").mkdir(parents=True)
    accepted = submit(str(settings.data_dir / "models" / "mine"))
    assert accepted.status_code == 201 and accepted.json()["spec"]["neurontune"]["parent_artifact"] == "models/mine"


def finished(client: TestClient, job_id: int, worker) -> dict:
    job = wait_for(lambda: (j := client.get(f"/api/jobs/{job_id}").json())["status"] not in ("queued", "running")
                   and j, 300, f"job {job_id} to finish", every_s=0.5)
    assert job["status"] == "succeeded", (job["error"], worker_log(worker))
    return job


def test_parent_neurontune_and_a_suggested_confound_tuned_on_the_worker(tmp_path, spawn_worker):
    settings = make_settings(tmp_path / "data", api_token="s3cret")
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        worker = spawn_worker(settings)
        parent = client.post("/api/jobs", json=PARENT, headers=TOKEN).json()["id"]
        finished(client, parent, worker)
        neurontune = client.post("/api/jobs", headers=TOKEN, json={
            **PARENT, "method": "neurontune", "neurontune": {"parent_artifact": f"job:{parent}"}}).json()
        assert neurontune["spec"]["neurontune"]["parent_artifact"] == f"artifacts/job-{parent}"
        finished(client, neurontune["id"], worker)
        nt = neurontune["id"]

        # The diagnostics, in the store and back over the API.
        diagnostics = client.get(f"/api/jobs/{nt}/diagnostics").json()
        # the model's, when it loaded; the influence engine's path of its CID measurements; NeuronTune's
        assert diagnostics["names"] == [MODEL_DIAGNOSTIC, "influence.engine.cid", *DIAGNOSTIC_NAMES]
        assert diagnostics["items"]["influence.engine.cid"]["path"] in ("fast", "loop")
        items = diagnostics["items"]
        scores, zeroed = items["neurontune.scores"], items["neurontune.zeroed"]
        hidden = scores["hidden_size"]
        assert set(scores["histogram"]) == {"short", "long"}
        assert all(sum(h["counts"]) == hidden for h in scores["histogram"].values())
        assert 0 < zeroed["count"] == len(zeroed["indices"]) < hidden
        assert set(zeroed["indices"]) == set().union(*(set(c["indices"]) for c in zeroed["per_class"].values()))
        assert [c["selected"] for c in items["neurontune.candidates"]["candidates"]] == [True]
        results = client.get(f"/api/jobs/{nt}/results").json()["metrics"]
        before_after = items["neurontune.before_after"]
        parent_results = client.get(f"/api/jobs/{parent}/results").json()["metrics"]
        assert before_after["splits"]["test"]["parent"]["acc"] == parent_results["test"]["acc"]
        assert before_after["splits"]["test"]["tuned"]["worst_group_acc"] == results["test"]["worst_group_acc"]
        assert before_after["cid"] == {"parent": results["cid_before"], "tuned": results["cid_after"]}
        suggestions = items["neurontune.suggestions"]["suggestions"]
        assert [s["rank"] for s in suggestions] == list(range(1, len(suggestions) + 1))
        assert suggestions == [{"rank": i + 1, **s} for i, s in enumerate(results["neurontune"]["suggestions"])]
        rank = next(s["rank"] for s in suggestions[:3] if s["ngram"] in ("positive", "negative"))

        # Closing the loop: guarded, checked, then an influence-tuning job with the rule as confound.
        url = f"/api/jobs/{nt}/suggestions/{rank}/tune"
        assert client.post(url).status_code == 401
        assert client.post(f"/api/jobs/{nt}/suggestions/{len(suggestions) + 1}/tune", headers=TOKEN).json()[
            "detail"] == f"no suggestion {len(suggestions) + 1}; job {nt} has suggestions 1 to {len(suggestions)}"
        assert client.post(f"/api/jobs/{parent}/suggestions/1/tune", headers=TOKEN).status_code == 409
        assert client.post(url, headers=TOKEN, json={"nonsense": 1}).status_code == 422
        response = client.post(url, headers=TOKEN, json={"train": {"max_steps": 30}})
        assert response.status_code == 201, response.text
        follow_up = response.json()
        suggestion = suggestions[rank - 1]
        spec = follow_up["spec"]
        assert follow_up["method"] == spec["method"] == "influence-tuning"
        assert spec["dataset"] == {**client.get(f"/api/jobs/{parent}").json()["spec"]["dataset"],
                                   "confound_rule": suggestion["rule"]}
        assert (spec["model"], spec["seed"], spec["train"]["lr"], spec["train"]["max_steps"]) == ("tiny", 2021, 1e-3, 30)
        assert spec["influence"]["interval"] == 15  # the parent's spec, not the NeuronTune job's
        assert follow_up["params"]["suggestion"]["ngram"] == suggestion["ngram"]
        assert follow_up["lineage"]["parent_job_id"] == nt
        assert client.get(f"/api/jobs/{nt}").json()["lineage"]["parent_job_id"] == parent
        rule = parse_rule(suggestion["rule"])
        data = load_dataset(spec["dataset"])
        assert data.train.confounds.tolist() == rule.values(data.train.texts).tolist()

        finished(client, follow_up["id"], worker)
        tuned = client.get(f"/api/jobs/{follow_up['id']}/results").json()["metrics"]
        assert {group.split("|")[1] for group in tuned["test"]["per_group"]} == set(rule.names)
        for member in (parent, nt, follow_up["id"]):
            chain = client.get(f"/api/jobs/{member}/chain").json()
            assert chain["compare"] == [parent, nt, follow_up["id"]], (member, chain)
        assert client.get(f"/api/jobs/{nt}").json()["lineage"]["follow_up_ids"] == [follow_up["id"]]
        db = Database(settings.database_url)
        with db.session() as session:  # the rows themselves: one per name, of the finished attempt
            rows = session.execute(select(Diagnostic.name, Diagnostic.attempt).where(Diagnostic.job_id == nt)).all()
            # (the engine's path is recorded again when it changes: NeuronTune's masked head is measured
            # by the loop, its parent's CID by the fast engine; the API answers the latest row of a name)
            assert {name for name, _ in rows} == {MODEL_DIAGNOSTIC, "influence.engine.cid", *DIAGNOSTIC_NAMES}
            assert {attempt for _, attempt in rows} == {1}
            assert session.get(Job, follow_up["id"]).method == "influence-tuning"
        db.dispose()
