"""Pure helpers of sweeps and experiments: the form's grid and request body, Tables 2 and 3 with
selection, flip rate and access rate, an experiment's progress in words, CSV."""
from __future__ import annotations

import csv
import io

from dashboard import export, spec_form, tables


def _row(method: str, params: dict, dev: float | None, selected: bool, rate: float = 1.0, acc: float = 0.8) -> dict:
    return {"dataset": "textlen", "method": method, "params": params, "access_rate": rate, "jobs": 2, "finished": 2,
            "test_acc_mean": acc, "test_acc_std": 0.01, "p_vs_finetune": 0.03, "worst_group_acc_mean": 0.5,
            "worst_group_acc_std": None, "group_acc_mean": {}, "dev_acc_mean": dev, "dev_acc_std": 0.02,
            "flip_rate_mean": 0.125, "cid_mean": 0.01, "selected": selected}


def test_sweep_fields_parse_lists_and_each_method_gets_its_own_grid():
    values = {"train.lr": "1e-5, 3e-5", "influence.interval": "25,50", "train.max_steps": "6", "influence.k": ""}
    lists, errors = spec_form.sweep_lists(values)
    assert errors == {} and lists == {"train.lr": [1e-5, 3e-5], "influence.interval": [25, 50], "train.max_steps": [6]}
    assert spec_form.first_values(lists) == {"train.lr": 1e-5, "influence.interval": 25, "train.max_steps": 6}
    grids = {m: spec_form.method_grid(lists, m) for m in ("influence-tuning", "finetune")}
    # Finetuning ignores influence fields: it must not be repeated over them.
    assert grids == {"influence-tuning": {"train.lr": [1e-5, 3e-5], "influence.interval": [25, 50]},
                     "finetune": {"train.lr": [1e-5, 3e-5]}}
    lines = spec_form.describe_sweep(grids, 3)
    assert lines[0].startswith("influence-tuning: 4 grid points (train.lr 1e-05, 3e-05; influence.interval 25, 50) "
                               "× 3 seeds = 12 jobs")
    assert lines[1].startswith("finetune: 2 grid points") and lines[2].startswith("18 jobs in all")
    bad, errors = spec_form.sweep_lists({"train.lr": "1e-5, fast", "train.batch_size": "8, 8", "influence.k": "2,"})
    assert bad == {} and errors == {"train.lr": "value 2 ('fast'): not a number", "train.batch_size": "a value is "
                                    "repeated", "influence.k": "value 2 (''): empty"}


def test_the_forms_experiment_body_gives_each_method_its_own_spec():
    tuned = {"dataset": {"name": "textlen"}, "model": "tiny", "method": "influence-tuning", "seed": 2021,
             "train": {"lr": 1e-5}, "influence": {"interval": 10}}
    plain = {"dataset": {"name": "textlen"}, "model": "tiny", "method": "finetune", "seed": 2021, "train": {"lr": 1e-5}}
    # finetune first: the influence-tuning part still carries its rounds, and nothing of it leaks
    # into finetuning (the fault was one base, the first method's, for every method).
    body = spec_form.experiment_body(None, {"finetune": plain, "influence-tuning": tuned}, [1, 2])
    assert body == {"name": "dashboard experiment", "kind": "compare", "base": {}, "methods": [], "seeds": [1, 2],
                    "parts": [{"base": {"dataset": {"name": "textlen"}, "model": "tiny", "train": {"lr": 1e-5}},
                               "methods": ["finetune"], "grid": {}},
                              {"base": {"dataset": {"name": "textlen"}, "model": "tiny", "train": {"lr": 1e-5},
                                        "influence": {"interval": 10}}, "methods": ["influence-tuning"], "grid": {}}]}
    grids = {"influence-tuning": {"influence.interval": [25, 50]}, "finetune": {}}
    sweep = spec_form.experiment_body("s", {"influence-tuning": tuned, "finetune": plain}, [1], grids)
    assert sweep["kind"] == "sweep" and sweep["name"] == "s" and sweep["methods"] == []
    assert [(p["methods"], p["grid"]) for p in sweep["parts"]] == [(["influence-tuning"], {"influence.interval": [25, 50]}),
                                                                   (["finetune"], {})]


def test_the_papers_search_space_fills_the_form():
    spaces = [{"name": "paper", "dataset": "msgs", "method": "influence-tuning", "points": 36,
               "grid": {"influence.lr": [3e-5, 1e-5], "influence.round_epochs": [3], "influence.other": [1]}}]
    values, note = spec_form.search_space_values(spaces, "msgs", ["finetune", "influence-tuning"])
    assert values == {"influence.lr": "3e-05, 1e-05", "influence.round_epochs": "3"}
    assert "msgs/influence-tuning" in note and "36 grid points" in note and "influence.other" in note
    values, note = spec_form.search_space_values(spaces, "textlen", ["finetune"])
    assert values == {} and "no hyperparameters for textlen" in note


def test_table2_marks_the_selected_row_and_shows_dev_and_flip_rate():
    rows = [_row("finetune", {}, 0.7, True),
            _row("influence-tuning", {"influence.lr": 1e-5}, 0.75, False),
            _row("influence-tuning", {"influence.lr": 3e-5}, 0.78, True)]
    columns, out = tables.table2_rows(rows)
    keys = [k for k, _ in columns]
    assert "selected" in keys and "dev_acc" in keys and "flip_rate" in keys and "access" not in keys
    assert [r["selected"] for r in out] == ["✓ selected", "", "✓ selected"]
    assert out[2]["dev_acc"] == "78.0 ± 2.0" and out[2]["flip_rate"] == "12.5"
    _, only = tables.table2_rows(rows, selected_only=True)
    assert [r["method"] for r in only] == ["finetune", "influence-tuning influence.lr=3e-05"]
    # A plain comparison (one row per method) has nothing to select among: no marker column.
    assert "selected" not in [k for k, _ in tables.table2_rows(rows[:2])[0]]


def test_table3_by_access_rate_and_its_csv():
    rows = [_row("finetune", {}, 0.7, True),
            _row("influence-tuning", {}, 0.8, True, acc=0.9),
            _row("influence-tuning", {"dataset.access_rate": 0.1}, 0.7, True, rate=0.1, acc=0.6)]
    assert tables.access_rates(rows) == [1.0, 0.1] and tables.access_rates(rows[:2]) == []
    columns, out = tables.table3_rows(rows)
    assert [h for _, h in columns] == ["dataset", "method", "access 100.0 %", "access 10.0 %"]
    assert out == [{"dataset": "textlen", "method": "influence-tuning", "rate:1": "90.0 (n=2)", "rate:0.1": "60.0 (n=2)"}]
    _, table2 = tables.table2_rows(rows)
    assert table2[2]["access"] == "10.0" and table2[2]["method"] == "influence-tuning"
    parsed = list(csv.DictReader(io.StringIO(export.table3_csv(rows))))
    assert [(r["method"], r["access_rate"], r["test_acc_mean"]) for r in parsed] == [
        ("influence-tuning", "1.0", "0.9"), ("influence-tuning", "0.1", "0.6")]
    table2_csv = list(csv.DictReader(io.StringIO(export.table2_csv(rows))))
    assert table2_csv[2]["flip_rate_mean"] == "0.125" and table2_csv[2]["dev_acc_mean"] == "0.7"
    assert table2_csv[2]["selected"] == "True" and table2_csv[2]["access_rate"] == "0.1"


def test_progress_in_words():
    running = {"total": 6, "done": 2, "succeeded": 1, "collapsed": 1, "failed": 0, "cancelled": 0, "running": 1,
               "queued": 3, "workers": 1, "eta_s": 95.0}
    assert tables.progress_summary(running) == {"done": "2/6 done", "eta": "ETA 1 min 35 s",
                                                "counts": "1 succeeded · 1 collapsed · 1 running · 3 queued · "
                                                          "on 1 worker"}
    assert tables.progress_summary({**running, "done": 0, "eta_s": None})["eta"] == "ETA once a job has finished"
    assert tables.progress_summary({**running, "done": 6, "running": 0, "queued": 0, "workers": 0})["eta"] == "finished"
    assert tables.progress_summary({"total": 0, "done": 0}) == {"done": "0/0 done", "counts": "no jobs", "eta": ""}
