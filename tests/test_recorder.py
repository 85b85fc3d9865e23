"""Recorders: what goes in comes out, in memory and through a JSONL file."""
import json
import subprocess
import sys

from jobs.contracts.cid import CidPoint
from jobs.contracts.results import JobResults
from jobs.recorder import InfluenceLists, JsonlRecorder, MemoryRecorder, TeeRecorder
from tests.helpers import WAIT_S


def _feed(rec):
    rec.scalar("loss/train", 1, 0.5)
    rec.cid(CidPoint(step=0, phase="live", value=0.25, per_probe=[0.2, 0.3]))
    rec.influence(InfluenceLists(step=0, probe=3, a_index=[1], a_scores=[0.9], b_index=[2], b_scores=[0.1]))
    rec.progress(10, 20, 3.0)
    rec.result(JobResults.model_validate({"test": {"acc": 0.75}}))


def test_memory_and_jsonl_agree(tmp_path):
    mem, path = MemoryRecorder(), tmp_path / "run.jsonl"
    jl = JsonlRecorder(path, flush_every=1000)
    _feed(TeeRecorder(mem, jl))
    jl.close()
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    kinds = [x["kind"] for x in lines]
    assert kinds == ["scalar", "cid", "influence", "progress", "result"]
    assert mem.series("loss/train") == [(1, 0.5)]
    assert lines[1]["per_probe"] == mem.cids[0]["per_probe"] == [0.2, 0.3]
    assert lines[2]["a_scores"] == [0.9] and lines[4]["metrics"]["test"]["acc"] == 0.75


def test_jsonl_flushes_in_batches(tmp_path):
    path = tmp_path / "run.jsonl"
    rec = JsonlRecorder(path, flush_every=3, clock=lambda: 0.0)  # a clock that stands still: batches only
    for step in range(5):
        rec.scalar("loss/train", step, 1.0)
    # 3 lines are out after the third call; the other 2 wait for the next batch or close()
    assert len(path.read_text().splitlines()) == 3
    rec.close()
    assert len(path.read_text().splitlines()) == 5


def test_diagnostics_reach_every_recorder(tmp_path):
    from jobs.recorder import NullRecorder
    mem, path = MemoryRecorder(), tmp_path / "d.jsonl"
    jl = JsonlRecorder(path, flush_every=1000)
    tee = TeeRecorder(mem, jl, NullRecorder())
    tee.diagnostic("neurontune.zeroed", {"count": 1, "indices": [4]})
    tee.diagnostic("neurontune.zeroed", {"count": 2, "indices": [4, 9]})  # the later one wins in memory
    jl.close()
    assert mem.diagnostics == {"neurontune.zeroed": {"count": 2, "indices": [4, 9]}}
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["kind"], r["name"], r["payload"]["count"]) for r in lines] == [
        ("diagnostic", "neurontune.zeroed", 1), ("diagnostic", "neurontune.zeroed", 2)]


def test_jsonl_writes_buffered_lines_once_flush_every_s_has_passed(tmp_path):
    now = [0.0]
    path = tmp_path / "run.jsonl"
    rec = JsonlRecorder(path, flush_every=1000, flush_every_s=2.0, clock=lambda: now[0])
    rec.scalar("loss/train", 1, 1.0)
    now[0] = 1.9
    rec.scalar("loss/train", 2, 1.0)
    assert path.read_text() == ""
    now[0] = 2.0
    rec.scalar("loss/train", 3, 1.0)
    assert len(path.read_text().splitlines()) == 3


def test_a_run_killed_with_sigkill_keeps_every_cid_point_round_and_evaluation(tmp_path):
    # Issue 17: a run killed after 8 minutes left an empty log (lines went out 50 at a time).
    path = tmp_path / "run.jsonl"
    script = f"""
import os, signal
from jobs.contracts.cid import CidPoint
from jobs.recorder import InfluenceLists, JsonlRecorder
rec = JsonlRecorder({str(path)!r}, flush_every=1000, flush_every_s=1e9)
rec.scalar("loss/train", 1, 0.7)
rec.cid(CidPoint(step=1, phase="live", value=0.3))
rec.scalar("loss/train", 2, 0.6)
rec.influence(InfluenceLists(step=2, probe=0, a_index=[1], a_scores=[0.9], b_index=[2], b_scores=[0.1]))
rec.scalar("acc/dev", 2, 0.8)
rec.scalar("loss/train", 3, 0.5)
os.kill(os.getpid(), signal.SIGKILL)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=WAIT_S)
    assert done.returncode == -9, done.stderr
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["kind"], r.get("name")) for r in lines] == [
        ("scalar", "loss/train"), ("cid", None), ("scalar", "loss/train"), ("influence", None), ("scalar", "acc/dev")]
