"""The figures as pure functions: what they draw from given API data."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from dashboard import figures

ROUND_RUN = [
    {"step": 0, "phase": "live", "value": 0.20},
    {"step": 50, "phase": "pre-round", "value": 0.15},
    {"step": 50, "phase": "post-round", "value": 0.01},
    {"step": 100, "phase": "live", "value": 0.05},
    {"step": 150, "phase": "live", "value": None},  # no probe had both groups
    {"step": 200, "phase": "final", "value": 0.04},
]


def traces(figure, name):
    return [t for t in figure.data if t.name == name]


def test_cid_figure_keeps_recording_order_so_a_round_drops_vertically():
    figure = figures.cid_figure(ROUND_RUN)
    [line] = traces(figure, "CID")
    assert list(line.x) == [0, 50, 50, 100, 150, 200]
    assert list(line.y)[1:3] == [0.15, 0.01]  # the drop at step 50
    assert line.y[4] is None  # a gap, not a zero
    [before] = traces(figure, "before a round")
    [after] = traces(figure, "after a round")
    assert list(before.x) == [50] and list(before.y) == [0.15]
    assert list(after.x) == [50] and list(after.y) == [0.01]
    assert list(traces(figure, "final")[0].y) == [0.04]
    verticals = [s for s in figure.layout.shapes if s.x0 == s.x1 == 50]
    assert len(verticals) == 1


def test_cid_figure_without_rounds_has_no_round_marks():
    figure = figures.cid_figure([p for p in ROUND_RUN if "round" not in p["phase"]])
    assert not traces(figure, "before a round") and not traces(figure, "after a round")
    assert figures.round_steps(ROUND_RUN) == [50]


def test_empty_inputs_say_why():
    for figure in (figures.cid_figure([]), figures.compare_cid_figure([]), figures.histogram_figure([], []),
                   figures.curves_figure({}, ["loss/train"], "loss", "loss"), figures.table2_figure([])):
        assert not figure.data
        assert figure.layout.annotations and figure.layout.annotations[0].text


def test_compare_overlays_one_line_per_run_and_skips_runs_without_points():
    figure = figures.compare_cid_figure([{"label": "#1 finetune", "points": ROUND_RUN},
                                         {"label": "#2 influence-tuning", "points": ROUND_RUN[:2]},
                                         {"label": "#3 queued", "points": []}])
    assert [t.name for t in figure.data] == ["#1 finetune", "#2 influence-tuning"]
    assert len(figure.data[1].x) == 2


def test_experiment_cid_draws_each_methods_mean_with_its_round_drops():
    rows = [{"dataset": "textlen", "step": 0, "phase": "live",
             "methods": {"finetune": {"mean": 0.1, "n": 3}, "influence-tuning": {"mean": 0.2, "n": 2}}},
            {"dataset": "textlen", "step": 50, "phase": "pre-round", "methods": {"influence-tuning": {"mean": 0.6, "n": 2}}},
            {"dataset": "textlen", "step": 50, "phase": "post-round", "methods": {"influence-tuning": {"mean": 0.05, "n": 2}}}]
    figure = figures.experiment_cid_figure(rows)
    assert [t.name for t in figure.data] == ["finetune", "influence-tuning"]
    tuned = figure.data[1]
    assert list(tuned.x) == [0, 50, 50] and list(tuned.y) == [0.2, 0.6, 0.05]  # the round's drop, at one step
    assert [list(c) for c in tuned.customdata] == [["live", 2], ["pre-round", 2], ["post-round", 2]]
    assert not figures.experiment_cid_figure([]).data


def test_welch_matches_scipy_and_handles_degenerate_groups():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.3, 0.1, 40), rng.normal(0.15, 0.1, 30)
    difference, p = figures.welch(list(a), list(b) + [None, float("nan")])
    assert difference == pytest.approx(a.mean() - b.mean())
    assert p == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert figures.welch([0.1], [0.2]) == (pytest.approx(-0.1), None)  # one each: no test
    assert figures.welch([], [0.2]) == (None, None)


def test_histogram_overlays_a_and_b_on_shared_bins_with_the_test_in_the_title():
    a, b = [0.30, 0.32, 0.28, 0.35], [0.10, 0.12, 0.08]
    figure = figures.histogram_figure(a, b, probe=7, step=50)
    assert [t.type for t in figure.data] == ["histogram", "histogram"]
    assert figure.data[0].name.startswith("A") and list(figure.data[0].x) == a
    assert figure.data[1].name.startswith("B") and list(figure.data[1].x) == b
    assert figure.data[0].xbins == figure.data[1].xbins  # comparable bars
    assert figure.layout.barmode == "overlay"
    difference, p = figures.welch(a, b)
    title = figure.layout.title.text
    assert "probe 7" in title and "step 50" in title
    assert f"{difference:+.3g}" in title and f"Welch p = {figures.format_p(p)}" in title
    means = sorted(s.x0 for s in figure.layout.shapes)
    assert means == pytest.approx(sorted([np.mean(a), np.mean(b)]))


def test_histogram_of_identical_scores_still_has_a_bin_width():
    figure = figures.histogram_figure([0.5, 0.5], [0.5])
    assert figure.data[0].xbins.size > 0
    assert "n/a" in figure.layout.title.text  # B has one score: no t-test


def test_curves_leave_out_series_without_points_and_mark_short_ones():
    series = {"loss/train": {"steps": list(range(500)), "values": [1.0] * 500},
              "loss/adversary": {"steps": [], "values": []},
              "acc/dev": {"steps": [10], "values": [0.5]}}
    figure = figures.curves_figure(series, ["loss/train", "loss/adversary", "acc/dev"], "t", "y")
    assert [t.name for t in figure.data] == ["loss/train", "acc/dev"]
    assert figure.data[0].mode == "lines" and figure.data[1].mode == "lines+markers"


def test_table2_figure_has_bars_with_error_bars_and_p_values():
    rows = [{"dataset": "textlen", "method": "finetune", "params": {}, "test_acc_mean": 0.7, "test_acc_std": 0.02,
             "p_vs_finetune": None},
            {"dataset": "textlen", "method": "influence-tuning", "params": {"influence.lr": 1e-5},
             "test_acc_mean": 0.8, "test_acc_std": 0.01, "p_vs_finetune": 0.003},
            {"dataset": "msgs", "method": "finetune", "params": {}, "test_acc_mean": None, "test_acc_std": None,
             "p_vs_finetune": None}]
    figure = figures.table2_figure(rows)
    assert [t.name for t in figure.data] == ["finetune", "influence-tuning influence.lr=1e-05"]
    assert list(figure.data[1].y) == [0.8] and list(figure.data[1].error_y.array) == [0.01]
    assert list(figure.data[1].text) == ["p=0.003"] and list(figure.data[0].text) == [""]


def test_format_p():
    assert figures.format_p(None) == "n/a"
    assert figures.format_p(0.04321) == "0.043"
    assert figures.format_p(1e-9) == "<1e-4"
    assert not math.isnan(figures.welch([1, 2], [1, 2])[1])
