"""Figure 1 at an influence-tuning round's step: the lists before and after the round are two
snapshots, both kept, both readable (the slider stops at each)."""
from __future__ import annotations

from backend.queue.claims import claim_next
from backend.store.recorder import StoreRecorder
from jobs.recorder import InfluenceLists

from .conftest import TINY_JOB


def lists(step: int, phase: str, a: float, b: float) -> InfluenceLists:
    return InfluenceLists(step=step, probe=3, a_index=[5, 6], a_scores=[a, a], b_index=[8, 9], b_scores=[b, b],
                          phase=phase)


def test_pre_and_post_round_lists_are_separate_snapshots(client, db):
    job_id = client.post("/api/jobs", json=TINY_JOB).json()["id"]
    claim = claim_next(db, "w1", lease_s=60)
    recorder = StoreRecorder(db, claim.job_id, claim.attempt, "w1")
    # Recorded in training order; the post-round lists come after the pre-round ones at step 50.
    for item in (lists(0, "live", 0.1, 0.1), lists(50, "pre-round", 0.9, 0.1), lists(50, "post-round", 0.4, 0.35),
                 lists(80, "final", 0.3, 0.3)):
        recorder.influence(item)
    recorder.flush()

    latest = client.get(f"/api/jobs/{job_id}/influence?probe=3&k=0").json()
    assert (latest["step"], latest["phase"]) == (80, "final")
    assert latest["steps"] == [0, 50, 80]
    assert [(s["step"], s["phase"]) for s in latest["snapshots"]] == [
        (0, "live"), (50, "pre-round"), (50, "post-round"), (80, "final")]

    before = client.get(f"/api/jobs/{job_id}/influence?probe=3&step=50&phase=pre-round&k=0").json()
    after = client.get(f"/api/jobs/{job_id}/influence?probe=3&step=50&phase=post-round&k=0").json()
    assert before["a_scores"] == [0.9, 0.9] and after["a_scores"] == [0.4, 0.4]
    # A step alone means its latest snapshot: after the round.
    assert client.get(f"/api/jobs/{job_id}/influence?probe=3&step=50&k=0").json()["phase"] == "post-round"
    missing = client.get(f"/api/jobs/{job_id}/influence?probe=3&step=0&phase=post-round&k=0")
    assert missing.status_code == 404 and "recorded: live" in missing.json()["detail"]

    examples = client.get(f"/api/jobs/{job_id}/influence/examples?probe=3&step=50&phase=pre-round&k=1").json()
    assert examples["phase"] == "pre-round" and examples["a"]["most"][0]["score"] == 0.9
    assert client.get(f"/api/jobs/{job_id}/influence/examples?probe=3&step=50&k=1").json()["phase"] == "post-round"
