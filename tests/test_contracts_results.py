"""The typed contracts of results and CID points: old rows still load, thinning is the one rule."""
from __future__ import annotations

from jobs.contracts.cid import CidPoint, thin, thin_cid
from jobs.contracts.results import JobResults, results_of


def test_an_old_metrics_row_loads_with_its_extra_keys_and_extra_splits():
    stored = {"test": {"acc": 0.75, "per_group": {"a|b": 0.5}, "worst_group_acc": 0.5, "agree_acc": 0.9,
                       "disagree_acc": 0.6, "n": 4},
              "shifted": {"acc": 0.5, "per_group": {}, "n": 2}, "cid": 0.1, "note": "kept"}
    results = results_of(stored)
    assert results.test.acc == 0.75 and abs(results.test.agree_gap - 0.3) < 1e-12
    assert results.model_extra["note"] == "kept" and list(results.splits()) == ["test", "shifted"]
    assert results.split("shifted").n == 2 and results.split("dev") is None
    assert results.model_dump(mode="json", exclude_unset=True) == stored  # what the store keeps is what came
    assert results_of(None) is None and JobResults().cid is None


def test_thinning_keeps_every_kth_point_the_pinned_ones_and_the_last():
    assert thin(list(range(10)), None) == list(range(10)) and thin(list(range(10)), 10) == list(range(10))
    kept = thin(list(range(10_001)), 100)
    assert kept[0] == 0 and kept[-1] == 10_000 and len(kept) <= 102 and kept[1] - kept[0] == 101
    points = [CidPoint(step=s, phase="live", value=0.0) for s in range(1000)]
    points[500:500] = [CidPoint(step=500, phase="pre-round", value=0.5), CidPoint(step=500, phase="post-round",
                                                                                  value=0.1)]
    shown = thin_cid(points, 50)
    assert len(shown) <= 52 and {p.phase for p in shown} == {"live", "pre-round", "post-round"}
    assert shown[-1] is points[-1]
