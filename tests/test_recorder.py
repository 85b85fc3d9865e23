"""Recorders: what goes in comes out, in memory and through a JSONL file."""
import json

from jobs.contracts.cid import CidPoint
from jobs.contracts.results import JobResults
from jobs.recorder import InfluenceLists, JsonlRecorder, MemoryRecorder, TeeRecorder


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
    rec = JsonlRecorder(path, flush_every=3)
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
