"""What the dashboard reads from a real API server: live polling that asks only for new points,
and the endpoints added for it (cost estimate, display CID, probe examples, dataset samples)."""
from __future__ import annotations

import pytest

from dashboard import live
from dashboard.client import ApiClient, ApiError
from jobs.contracts.cid import CidPoint

from .stack import FITTING, end_job, running_job


class RecordingClient(ApiClient):
    """The real client (real HTTP), remembering the parameters of each points request."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: list[tuple] = []

    def metrics(self, job_id, names=None, since_step=None, max_points=None):
        self.calls.append(("metrics", tuple(names) if names else None, since_step))
        return super().metrics(job_id, names, since_step, max_points)

    def cid_display(self, job_id, since_step=None, max_points=None):
        self.calls.append(("cid", since_step))
        return super().cid_display(job_id, since_step, max_points)


def test_live_refresh_asks_only_for_new_points(stack):
    db, job_id, recorder = running_job(stack.database_url)
    client = RecordingClient(stack.api_url)
    for step in range(1, 11):
        recorder.scalar("loss/train", step, 1.0 / step)
    recorder.cid(CidPoint(step=0, phase="live", value=0.2, per_probe=[0.2]))
    recorder.cid(CidPoint(step=8, phase="pre-round", value=0.15, per_probe=[0.15]))  # the round's other half comes later
    recorder.flush()
    held, changed = live.refresh(client, client.job(job_id), None)
    assert changed and held["series"]["loss/train"]["steps"] == list(range(1, 11))
    assert [p["phase"] for p in held["cid"]] == ["live", "pre-round"]

    recorder.cid(CidPoint(step=8, phase="post-round", value=0.01, per_probe=[0.01]))
    for step in range(11, 21):
        recorder.scalar("loss/train", step, 1.0 / step)
    recorder.scalar("acc/dev", 12, 0.6)
    recorder.scalar("loss/influence", 1, 0.5)  # x = influence update, not label step
    recorder.flush()
    client.calls.clear()
    held, changed = live.refresh(client, client.job(job_id), held)
    assert changed and held["series"]["loss/train"]["steps"] == list(range(1, 21))  # no repeats
    assert held["series"]["acc/dev"]["steps"] == [12] and held["series"]["loss/influence"]["steps"] == [1]
    assert [(p["step"], p["phase"]) for p in held["cid"]] == [(0, "live"), (8, "pre-round"), (8, "post-round")]
    # (The calls run concurrently: which ones were made matters, not their order.)
    assert sorted(client.calls, key=repr) == sorted([("metrics", ("loss/train",), 9),
                                                     ("metrics", ("acc/dev", "loss/influence"), None),
                                                     ("cid", 7)], key=repr)

    client.calls.clear()
    held_again, changed = live.refresh(client, client.job(job_id), held)
    assert not changed and held_again == held
    assert sorted(client.calls, key=repr) == sorted([("metrics", ("acc/dev", "loss/train"), 11),
                                                     ("metrics", ("loss/influence",), 0), ("cid", 7)], key=repr)
    end_job(db, job_id)


def test_cid_display_thins_live_points_but_keeps_every_round(stack):
    db, job_id, recorder = running_job(stack.database_url)
    for step in range(0, 1000):
        recorder.cid(CidPoint(step=step, phase="live", value=step / 1000, per_probe=[0.0] * 40))
        if step % 100 == 50:
            recorder.cid(CidPoint(step=step, phase="pre-round", value=0.5))
            recorder.cid(CidPoint(step=step, phase="post-round", value=0.1))
    recorder.flush()
    client = ApiClient(stack.api_url)
    shown = client.cid_display(job_id, max_points=100)
    assert shown.total == 1020 and len(shown.points) <= 101
    assert sum(p.phase == "post-round" for p in shown.points) == 10
    assert shown.points[-1].step == 999 and set(shown.points[0].model_fields_set) == {"step", "phase", "value"}
    assert len(client.cid_display(job_id, since_step=989).points) == 10
    assert len(client.cid(job_id).points) == 1020  # the full data stays downloadable
    end_job(db, job_id)


def test_estimate_counts_what_the_run_then_records(api, finished_experiment):
    """The cost estimate's steps, rounds and CID points are those the finished run recorded."""
    client = ApiClient(api)
    job = finished_experiment["jobs"]["influence-tuning"]
    estimate = client.estimate({**FITTING, "method": "influence-tuning"})
    recorded = client.cid(job["id"]).points
    assert estimate.label_steps == job["progress"]["total"] == 24
    assert estimate.rounds == sum(p.phase == "pre-round" for p in recorded) == 2
    assert estimate.cid_points == len(recorded) == 9
    assert estimate.train_size == 64 and estimate.seconds > 0  # calibrated on the finished jobs
    assert estimate.spec["influence"]["lr"] == 3e-5  # defaults filled in
    # JobSpec's own choice and bound (422), the server's refusal (400)
    for body, status in (({"method": "nope"}, 422), ({"model": "no-such-model"}, 400), ({"train": {"lr": -1}}, 422)):
        with pytest.raises(ApiError) as error:
            client.estimate(body)
        assert error.value.status == status, body
    total = client.jobs().total
    client.estimate(FITTING)
    assert client.jobs().total == total  # a dry run queues nothing


def test_probe_examples_rank_both_groups_with_text(api, finished_experiment):
    client = ApiClient(api)
    job_id = finished_experiment["jobs"]["influence-tuning"]["id"]
    lists = client.influence(job_id, k=0)
    answer = client.probe_examples(job_id, probe=lists.probe, step=lists.step, k=2)
    for index, scores, part in ((lists.a_index, lists.a_scores, answer.a), (lists.b_index, lists.b_scores, answer.b)):
        ranked = sorted(s for s in scores if s is not None)
        assert part.size == len(ranked)
        assert [e.score for e in part.most] == ranked[::-1][:2]
        assert [e.score for e in part.least] == ranked[:2]
        assert all(e.text and e.index in index for e in part.most + part.least)
    probe = answer.probe
    assert all(e.label == probe.label for e in answer.a.most + answer.b.most)
    assert all(e.confound == probe.confound for e in answer.a.most)
    assert all(e.confound != probe.confound for e in answer.b.most)
    for bad_probe, status in ((10**6, 404), (-5, 422)):
        with pytest.raises(ApiError) as error:
            client.probe_examples(job_id, probe=bad_probe, step=0)
        assert error.value.status == status


def test_dataset_samples_and_their_errors(stack):
    client = ApiClient(stack.api_url)
    samples = client.dataset_samples("textlen", split="test", per_group=2)
    assert [(g.label, g.confound) for g in samples.groups] == [
        ("short", "Negative ."), ("short", "Positive ."), ("long", "Negative ."), ("long", "Positive .")]
    assert all(len(g.rows) == 2 and g.count > 2 for g in samples.groups)
    assert all(r.text.startswith(g.confound) for g in samples.groups for r in g.rows)
    for name, split, status in (("nope", "train", 400), ("textlen", "nope", 400), ("upload:9999", "train", 404)):
        with pytest.raises(ApiError) as error:
            client.dataset_samples(name, split=split)
        assert error.value.status == status and error.value.message


def test_client_errors_are_sentences():
    with pytest.raises(ApiError) as error:
        ApiClient("http://127.0.0.1:9", timeout_s=2).health()
    assert "cannot be reached" in error.value.message

