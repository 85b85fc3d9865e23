"""Mid-job checkpoints: a run stopped and resumed gives exactly the numbers of a run never stopped
(the unstopped run is the oracle), on the tiny model, for every method of the shared loop."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from jobs.checkpoint import FILE_NAME, Checkpointer
from jobs.recorder import MemoryRecorder
from jobs.runner import run
from jobs.spec import JobSpec
from tests.helpers import communicate, wait_for

# 12 label steps of 16; influence rounds after steps 4 and 8; CID and accuracy every 4 steps.
SPEC = {
    "model": "tiny", "device": "cpu", "seed": 7,
    "dataset": {"name": "textlen", "options": {"train_size": 64, "dev_size": 32, "test_size": 32}},
    "train": {"max_steps": 12, "batch_size": 16, "lr": 5e-3, "warmup": 0.2, "eval_every": 4, "max_length": 32},
    "influence": {"interval": 4, "probes_per_round": 4, "round_epochs": 2, "tuples_per_update": 2, "k": 2},
    "diagnostics": {"probes": 4, "sample": 4, "cid_every": 4, "histogram_probes": 1},
}
# What a run reports at the end; wall times aside, a resumed run must match these exactly.
FINAL = ("test", "dev", "train", "cid", "steps", "seed", "attempts", "status")


def spec_for(method: str) -> JobSpec:
    return JobSpec(**SPEC, method=method)


class StopWhen:
    """should_stop() for a run: true from the moment `seen(recorder)` first holds."""

    def __init__(self, recorder: MemoryRecorder, seen):
        self.recorder, self.seen, self.fired = recorder, seen, False

    def __call__(self) -> bool:
        self.fired = self.fired or bool(self.seen(self.recorder))
        return self.fired


def points(recorder: MemoryRecorder) -> dict:
    """Every curve point and CID a run recorded, in order (the ETA's progress calls aside)."""
    return {"scalars": list(recorder.scalars),
            "cids": [(c["step"], c["phase"], c["value"], c["per_probe"]) for c in recorder.cids],
            "influence": [(i.step, i.phase, i.probe, i.a_scores, i.b_scores) for i in recorder.influences]}


@pytest.fixture(scope="module")
def unstopped() -> dict:
    """The oracle: each method run once, start to end, without checkpoints."""
    out = {}
    for method in ("finetune", "adversarial", "influence-tuning", "embedding-tuning", "no-confound"):
        recorder = MemoryRecorder()
        outcome = run(spec_for(method), recorder)
        out[method] = (outcome, points(recorder))
    return out


@pytest.mark.parametrize("method", ["finetune", "adversarial", "influence-tuning", "embedding-tuning", "no-confound"])
def test_a_run_stopped_between_steps_resumes_to_the_unstopped_numbers(tmp_path, unstopped, method):
    recorder = MemoryRecorder()
    # Stopped after label step 6 (between the rounds): the stop saves the state after step 6.
    stop = StopWhen(recorder, lambda r: any(step >= 6 for step, _, _ in r.progresses))
    first = run(spec_for(method), recorder, stop, checkpoint_dir=tmp_path, checkpoint_every_s=3600)
    assert first.status == "cancelled" and first.metrics["steps"] == 6
    assert (tmp_path / FILE_NAME).is_file()

    second = run(spec_for(method), recorder, checkpoint_dir=tmp_path, checkpoint_every_s=3600)
    assert "resumed from the checkpoint after step 6 of 12" in recorder.logs
    oracle, oracle_points = unstopped[method]
    # (adversarial ends at chance on this 64-row TextLen since the generator's vocabulary grew:
    # "collapsed" is a finished run too, and the resumed one must say the same)
    assert second.status == oracle.status and second.status in ("succeeded", "collapsed")
    assert {k: second.metrics[k] for k in FINAL} == {k: oracle.metrics[k] for k in FINAL}
    assert points(recorder) == oracle_points  # the curves, CIDs and A/B lists too: nothing lost, nothing twice
    assert not (tmp_path / FILE_NAME).exists()  # ended: removed


def test_a_neurontune_parent_stopped_midway_resumes_to_the_unstopped_numbers(tmp_path):
    # The parent finetuned here runs through the shared loop, checkpoints included: stopped after
    # its label step 6, the job resumes there, and NeuronTune on the finished parent gives the
    # numbers of a job never stopped (its before/after CID points included).
    oracle_recorder = MemoryRecorder()
    oracle = run(spec_for("neurontune"), oracle_recorder)
    recorder = MemoryRecorder()
    stop = StopWhen(recorder, lambda r: any(step >= 6 for step, _, _ in r.progresses))
    first = run(spec_for("neurontune"), recorder, stop, checkpoint_dir=tmp_path, checkpoint_every_s=3600)
    assert first.status == "cancelled" and first.metrics["steps"] == 6 and first.metrics["checkpoint_step"] == 6
    second = run(spec_for("neurontune"), recorder, checkpoint_dir=tmp_path, checkpoint_every_s=3600)
    assert "resumed from the checkpoint after step 6 of 12" in recorder.logs
    compared = (*FINAL, "cid_before", "parent", "neurontune")
    assert second.status == "succeeded"
    assert {k: second.metrics[k] for k in compared} == {k: oracle.metrics[k] for k in compared}
    assert points(recorder) == points(oracle_recorder)
    assert [phase for _, phase, _, _ in points(recorder)["cids"]][-2:] == ["pre-round", "final"]
    assert not (tmp_path / FILE_NAME).exists()


class Killed(Exception):
    """Stands for a kill -9: the run ends where it is, nothing saved on the way out."""


@dataclass
class CountingRecorder(MemoryRecorder):
    """A MemoryRecorder that also keeps every loss/influence point as it is recorded (begin()
    cuts the lists back to a checkpoint's mark; this does not), and that can die at one."""

    recorded_updates: list[int] = field(default_factory=list)
    die_at_update: int | None = None

    def scalar(self, name, step, value):
        if name == "loss/influence":
            if step == self.die_at_update:
                raise Killed(f"killed before update {step} was recorded")
            self.recorded_updates.append(int(step))
        super().scalar(name, step, value)


# Rounds of SPEC: after steps 4 and 8, each 2 passes of 2 updates; updates 5-8 are the second round's.
UPDATES = 8


@pytest.mark.parametrize("updates_done", [5, 6, 8])
def test_a_run_stopped_inside_a_round_resumes_at_its_next_update(tmp_path, unstopped, updates_done):
    # Stopped after update 5 (mid-pass), 6 (between the round's passes) or 8 (the last one, before
    # the post-round CID): the stop saves the round where it stands, and the resume goes on from
    # the next update, without taking label step 8 or any update again.
    recorder = CountingRecorder()
    stop = StopWhen(recorder, lambda r: len(r.series("loss/influence")) >= updates_done)
    first = run(spec_for("influence-tuning"), recorder, stop, checkpoint_dir=tmp_path, checkpoint_every_s=3600)
    assert first.status == "cancelled" and first.metrics["steps"] == 8
    assert first.metrics["checkpoint_step"] == 8
    second = run(spec_for("influence-tuning"), recorder, checkpoint_dir=tmp_path, checkpoint_every_s=3600)
    assert ("resumed from the checkpoint after step 8 of 12 (partway through influence-tuning's work after it)"
            in recorder.logs)
    assert recorder.recorded_updates == list(range(1, UPDATES + 1))  # each update once, none taken again
    assert [s for s, _ in recorder.series("loss/train")] == list(range(1, 13))
    oracle, oracle_points = unstopped["influence-tuning"]
    assert {k: second.metrics[k] for k in FINAL} == {k: oracle.metrics[k] for k in FINAL}
    assert points(recorder) == oracle_points  # the pre-round CID once, the post-round one, the curves


def test_a_run_killed_inside_a_round_resumes_from_the_update_it_last_saved(tmp_path, unstopped):
    # Saves are due at every update boundary (every 0 s); the run dies while recording update 7:
    # the save after update 6 stands, and the resume takes update 7 again, not the round.
    recorder = CountingRecorder(die_at_update=7)
    with pytest.raises(Killed):
        run(spec_for("influence-tuning"), recorder, checkpoint_dir=tmp_path, checkpoint_every_s=0)
    assert recorder.recorded_updates == [1, 2, 3, 4, 5, 6]
    recorder.die_at_update = None
    second = run(spec_for("influence-tuning"), recorder, checkpoint_dir=tmp_path, checkpoint_every_s=0)
    assert any(line.startswith("resumed from the checkpoint after step 8 of 12 (partway") for line in recorder.logs)
    assert recorder.recorded_updates == list(range(1, UPDATES + 1))
    oracle, oracle_points = unstopped["influence-tuning"]
    assert {k: second.metrics[k] for k in FINAL} == {k: oracle.metrics[k] for k in FINAL}
    assert points(recorder) == oracle_points


def test_a_checkpoint_of_another_spec_or_a_damaged_file_is_not_resumed(tmp_path):
    checkpointer = Checkpointer(tmp_path, spec_for("finetune"))
    checkpointer.save({"step": 3}, MemoryRecorder())
    assert checkpointer.latest()["step"] == 3
    other = JobSpec(**{**SPEC, "seed": 8}, method="finetune")
    assert Checkpointer(tmp_path, other).latest() is None  # another seed: another job
    (tmp_path / FILE_NAME).write_bytes(b"not a checkpoint")
    assert checkpointer.latest() is None
    recorder = MemoryRecorder()
    outcome = run(spec_for("finetune"), recorder, checkpoint_dir=tmp_path)
    assert outcome.status == "succeeded" and not any("resumed" in line for line in recorder.logs)


def _jsonl_points(path: Path) -> tuple[list, list]:
    """What a `deconfound run` log holds of the training (timestamps aside): the curve and CID
    points, and the final test metrics."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    points = [{k: v for k, v in row.items() if k != "t"} for row in rows if row["kind"] in ("scalar", "cid")]
    return points, [row["metrics"]["test"] for row in rows if row["kind"] == "result"]


def test_ctrl_c_in_deconfound_run_saves_and_the_same_command_resumes(tmp_path):
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(repo)}
    flags = ["--model", "tiny", "--max-steps", "150", "--seed", "3", "--cid-every", "50",
             "--set", "dataset.options.train_size=64", "--set", "dataset.options.dev_size=32",
             "--set", "dataset.options.test_size=32", "--set", "train.batch_size=8", "--set", "train.epochs=1000"]

    def deconfound(out: str, *extra: str, **popen) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "backend.cli", "run", *flags, "--out", str(tmp_path / out),
                                 *extra], cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, **popen)

    unbroken = deconfound("unbroken.jsonl")
    checkpoint = tmp_path / "state"
    resumable = ("--checkpoint-dir", str(checkpoint), "--checkpoint-every", "0")
    first = deconfound("run.jsonl", *resumable)
    wait_for(lambda: (checkpoint / FILE_NAME).is_file() or first.poll() is not None, "the first checkpoint",
             every_s=0.1)
    first.send_signal(signal.SIGINT)
    _, err = communicate(first)
    assert first.returncode == 130, err
    assert "run the same command again to resume from step" in err
    stopped_at = int(err.split("resume from step ")[1].split()[0])
    assert 0 < stopped_at < 150

    assert (checkpoint / FILE_NAME).is_file(), "no checkpoint after the stop"
    second = deconfound("run.jsonl", *resumable)
    out, err = communicate(second)
    assert second.returncode == 0, err
    _, unbroken_err = communicate(unbroken)  # read its pipes: a full pipe would block it
    assert unbroken.returncode == 0, unbroken_err
    log = (tmp_path / "run.jsonl").read_text()
    assert f"resumed from the checkpoint after step {stopped_at} of 150" in log, err[-2000:]
    assert _jsonl_points(tmp_path / "run.jsonl") == _jsonl_points(tmp_path / "unbroken.jsonl")
    assert not (checkpoint / FILE_NAME).exists()
