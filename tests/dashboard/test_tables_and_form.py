"""Pure helpers: the tables' rows, the submit form's spec and messages, display series, CSV."""
from __future__ import annotations

import csv
import io
import json
import math

import pytest
from fastapi.testclient import TestClient

from backend.api import create_app
from client import ApiError
from dashboard import export, series, spec_form, tables
from dashboard.components import progress_bar
from jobs.contracts.catalogue import DatasetsOut
from tests.backend.conftest import make_settings

SPLIT = {"acc": 0.75, "worst_group_acc": 0.5, "agree_acc": 0.9, "disagree_acc": 0.6, "flip_rate": 0.25, "n": 32,
         "per_group": {"short|Negative .": 0.9, "long|Negative .": 0.5}}


def test_behaviour_rows_show_the_gap_and_flip_rate_per_split():
    columns, rows = tables.behaviour_rows({"train": SPLIT, "test": {**SPLIT, "agree_acc": None}, "cid": 0.1})
    assert [r["split"] for r in rows] == ["train", "test"]
    assert rows[0]["gap"] == "+30.0" and rows[0]["flip_rate"] == "25.0" and rows[0]["worst_group_acc"] == "50.0"
    assert rows[1]["gap"] == ""  # undefined without agree accuracy
    assert ("flip_rate", "flip rate %") in columns
    assert tables.group_rows({"test": SPLIT})[1] == [{"group": "short|Negative .", "acc": "90.0"},
                                                      {"group": "long|Negative .", "acc": "50.0"}]


def test_table2_rows_format_mean_std_and_p_and_group_columns():
    rows = [{"dataset": "textlen", "method": "finetune", "params": {}, "jobs": 5, "finished": 5,
             "test_acc_mean": 0.7, "test_acc_std": 0.021, "p_vs_finetune": None, "worst_group_acc_mean": 0.4,
             "worst_group_acc_std": 0.1, "group_acc_mean": {"a|x": 0.9}, "cid_mean": 0.093},
            {"dataset": "textlen", "method": "influence-tuning", "params": {"influence.lr": 3e-5}, "jobs": 5,
             "finished": 4, "test_acc_mean": 0.8, "test_acc_std": None, "p_vs_finetune": 0.0012,
             "worst_group_acc_mean": None, "worst_group_acc_std": None, "group_acc_mean": {"b|y": 0.5},
             "cid_mean": None}]
    columns, out = tables.table2_rows(rows)
    assert [k for k, _ in columns if k.startswith("group:")] == ["group:a|x", "group:b|y"]
    assert out[0]["test_acc"] == "70.0 ± 2.1" and out[0]["p"] == "" and out[0]["seeds"] == "5/5"
    assert out[1]["method"] == "influence-tuning influence.lr=3e-05" and out[1]["p"] == "0.0012"
    assert out[1]["test_acc"] == "80.0" and out[1]["group:a|x"] == "" and out[1]["seeds"] == "4/5"
    text = export.table2_csv(rows)
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert parsed[1]["p_vs_finetune"] == "0.0012" and parsed[1]["params"] == "influence.lr=3e-05"


def _upload(upload_id: int, name: str, stats: dict) -> dict:
    return {"id": upload_id, "name": name, "path": f"upload:{upload_id}", "size_bytes": 1, "columns": {},
            "stats": stats, "created_at": "2024-01-01T00:00:00Z"}


def _datasets(builtin: list[dict], uploaded: list[dict]) -> DatasetsOut:
    """GET /api/datasets as the client reads it."""
    return DatasetsOut.model_validate({"builtin": builtin, "uploaded": uploaded, "custom": ""})


def test_table1_rows_from_the_datasets_endpoint():
    stats = {"label_names": ["short", "long"], "confound_names": ["Negative .", "Positive ."], "has_control": True,
             "splits": {"train": {"size": 1500, "agreement": 0.9}, "dev": {"size": 480, "agreement": 0.5},
                        "test": {"size": 500, "agreement": 0.5}}}
    _, rows = tables.table1_rows(_datasets([{"name": "textlen", "stats": stats, "description": "d", "error": None},
                                            {"name": "broken", "stats": None, "error": "no file", "description": ""}],
                                           [_upload(3, "mine.csv", {**stats, "has_control": False})]))
    assert [r["name"] for r in rows] == ["textlen", "broken", "upload:3"]
    assert rows[0]["agree_train"] == "90.0" and rows[0]["train"] == "1500" and rows[0]["control"] == "yes"
    assert "no file" in rows[1]["description"] and rows[2]["control"] == "no"
    # The pairing the agreement counts, and an upload's warnings.
    paired = {**stats, "agreement_pairing": {"she": "sports", "he": "weather"},
              "warnings": ["the test split has no rows of group(s) weather|she"]}
    _, rows = tables.table1_rows(_datasets([], [_upload(4, "news.csv", paired)]))
    assert rows[0]["pairing"] == "“she” → sports, “he” → weather"
    assert "Warning: the test split has no rows of group(s) weather|she" in rows[0]["description"]


def _texts(component) -> list[str]:
    """Every string in a Dash component tree, in order."""
    if isinstance(component, str):
        return [component]
    children = getattr(component, "children", None)
    children = children if isinstance(children, list) else [children] if children is not None else []
    return [text for child in children for text in _texts(child)]


def test_progress_bar_says_the_phase_and_whether_the_eta_is_measured():
    def shown(progress, status="running"):
        return _texts(progress_bar(progress, status))

    assert shown({"step": None, "total": None}) == ["–", "starting"]  # claimed, nothing reported yet
    assert shown({"step": 0, "total": 0, "phase": "loading model minilm"}) == ["–", "loading model minilm"]
    assert shown({"step": 0, "total": 60, "eta_s": None, "phase": "measuring CID (step 0): 96/400 examples"}) == [
        "0/60 · ETA unknown", "measuring CID (step 0): 96/400 examples"]
    assert shown({"step": 15, "total": 60, "eta_s": 754.0, "eta_guessed": True,
                  "phase": "influence round 1/4: update 5/16"}) == [
        "15/60 · ETA ≈ 12 min 34 s (guess)", "influence round 1/4: update 5/16"]
    assert shown({"step": 16, "total": 60, "eta_s": 700.0, "eta_guessed": False, "phase": "training"}) == [
        "16/60 · ETA 11 min 40 s", "training"]
    # Finished jobs: the bar full, no ETA, no phase (the last one reported is history).
    assert shown({"step": 60, "total": 60, "eta_s": 0.0, "phase": "finishing"}, "succeeded") == ["60/60"]
    assert shown({"step": 20, "total": 60, "eta_s": 80.0, "phase": "training"}, "cancelled") == ["20/60"]


def test_build_spec_sends_only_what_was_typed_and_parses_numbers():
    values = {"train.lr": "3e-5", "train.max_steps": "6", "influence.k": "3", "adversarial.weight": " ",
              "train.batch_size": ""}
    spec, errors = spec_form.build_spec("upload:4", '{"train_size": 64}', "tiny", "influence-tuning", "paper", 7,
                                        "cpu", values)
    assert errors == {}
    assert spec == {"dataset": {"name": "custom", "path": "upload:4", "options": {"train_size": 64}},
                    "model": "tiny", "method": "influence-tuning", "seed": 7, "preset": "paper", "device": "cpu",
                    "train": {"lr": 3e-5, "max_steps": 6}, "influence": {"k": 3}}
    # Fields of other methods are not sent; bad input is caught before the API.
    spec, errors = spec_form.build_spec("textlen", "[1]", None, "finetune", None, 1, None,
                                        {"influence.k": "3", "train.max_steps": "2.5", "train.lr": "fast"})
    assert "influence" not in spec
    assert errors == {"dataset.options": 'a JSON object, e.g. {"train_size": 200}',
                      "train.max_steps": "must be a whole number", "train.lr": "not a number"}


def test_any_lora_field_asks_for_lora_adapters():
    spec, errors = spec_form.build_spec("textlen", None, "tiny", "finetune", None, 1, None,
                                        {"lora.r": "4", "lora.targets": "q v o"})
    assert errors == {} and spec["lora"] == {"r": 4, "targets": "q v o"}
    assert "lora" not in spec_form.build_spec("textlen", None, "tiny", "finetune", None, 1, None, {})[0]
    lists, errors = spec_form.sweep_lists({"lora.r": "4, 8", "lora.targets": "q v, q k v o"})
    assert errors == {} and lists == {"lora.r": [4, 8], "lora.targets": ["q v", "q k v o"]}


def test_seeds():
    assert spec_form.parse_seeds("2021, 2022 2023") == ([2021, 2022, 2023], None)
    assert spec_form.parse_seeds("") == ([2021], None)
    assert spec_form.parse_seeds("1, x")[1] and spec_form.parse_seeds("1, 1")[1]


def test_api_messages_land_beside_their_fields():
    error = ApiError(422, "rejected", fields={"train.lr": "Input should be greater than 0",
                                              "diagnostics.sample.extra": "weird", "nonsense": "Extra inputs"})
    assert spec_form.field_messages(error) == {"train.lr": "Input should be greater than 0",
                                               "diagnostics.sample": "diagnostics.sample.extra: weird",
                                               "spec": "nonsense: Extra inputs"}
    assert spec_form.field_messages(ApiError(400, "unknown model 'x'; valid: tiny")) == {
        "model": "unknown model 'x'; valid: tiny"}
    assert "dataset.options" in spec_form.field_messages(
        ApiError(400, "dataset.options.conll_train '/etc' is outside the data directory"))
    assert spec_form.lookup({"train": {"lr": 1}}, "train.lr") == 1 and spec_form.lookup({}, "train.lr") is None


@pytest.mark.parametrize("change, field, words", [
    ({"method": "magic"}, "method", "valid: finetune"), ({"preset": "fast"}, "preset", "valid: paper"),
    ({"dataset": "imdb"}, "dataset", "valid: textlen"), ({"seed": 2**32}, "seed", "less than or equal to 4294967295"),
    ({"train": {"lr": math.inf}}, "train.lr", "finite number"),
])
def test_the_apis_choice_and_bound_errors_land_beside_their_fields(tmp_path, change, field, words):
    """Unknown choices are the model's 422s now, located by field: the form still puts them beside it."""
    with TestClient(create_app(make_settings(tmp_path)), base_url="http://127.0.0.1") as api:
        response = api.post("/api/jobs/estimate", content=json.dumps({"model": "tiny", **change}),
                            headers={"content-type": "application/json"})
    assert response.status_code == 422
    messages = spec_form.field_messages(ApiError.of(response))
    assert list(messages) == [field] and words in messages[field], messages


def test_estimate_in_words():
    estimate = {"train_size": 64, "label_steps": 6, "rounds": 1, "cid_points": 6, "total_example_gradients": 1234,
                "example_gradients": {"label": 384, "cid": 120, "influence": 0}, "seconds": 95.0, "basis": "3 jobs"}
    text = spec_form.describe_estimate(estimate, jobs=2)
    assert "6 label steps on 64 training examples" in text and "1,234 example gradients" in text
    assert "1 min 35 s per job" in text and "3 min 10 s for all 2" in text and "influence 0" not in text
    assert "unknown" in spec_form.describe_estimate({**estimate, "seconds": None})
    assert spec_form.format_duration(7300) == "2 h 01 min"


def test_series_merge_appends_only_new_steps_and_rethins():
    held = {"loss/train": {"steps": [1, 2, 3], "values": [0.9, 0.8, 0.7]}}
    merged = series.merge_series(held, {"loss/train": {"steps": [3, 4], "values": [0.7, 0.6]},
                                        "acc/dev": {"steps": [2], "values": [0.5]}})
    assert merged["loss/train"]["steps"] == [1, 2, 3, 4] and merged["acc/dev"]["steps"] == [2]
    assert held["loss/train"]["steps"] == [1, 2, 3]  # not modified in place
    assert series.poll_from(merged, ["loss/train", "acc/dev"]) == 1
    big = series.merge_series({}, {"x": {"steps": list(range(50)), "values": list(range(50))}}, max_points=10)
    assert len(big["x"]["steps"]) <= 11 and big["x"]["steps"][-1] == 49
    steps, values = series.thin(list(range(10_001)), list(range(10_001)), 100)
    assert len(steps) <= 101 and steps[0] == 0 and steps[-1] == 10_000 and steps == values


def test_cid_merge_drops_repeats_but_keeps_both_sides_of_a_round():
    held = [{"step": 50, "phase": "pre-round", "value": 0.2}]
    new = [{"step": 50, "phase": "pre-round", "value": 0.2}, {"step": 50, "phase": "post-round", "value": 0.0}]
    assert [p["phase"] for p in series.merge_cid(held, new)] == ["pre-round", "post-round"]


def test_csv_exports():
    text = export.cid_csv([{"job_id": 1, "points": [{"step": 0, "phase": "live", "value": 0.1, "per_probe": [0.1, None],
                                                     "extra": {"p_median": 0.5}},
                                                    {"step": 5, "phase": "final", "value": None, "per_probe": None}]}])
    assert text.splitlines() == ["job_id,step,phase,cid,p_median,probe_0,probe_1", "1,0,live,0.1,0.5,0.1,",
                                 "1,5,final,,,,"]
    lists = {"probe": 3, "step": 9, "phase": "pre-round", "a_index": [1], "a_scores": [0.5], "b_index": [2, 4],
             "b_scores": [0.1, None]}
    assert export.influence_csv(lists).splitlines() == ["probe,step,phase,group,train_index,score",
                                                        "3,9,pre-round,A,1,0.5", "3,9,pre-round,B,2,0.1",
                                                        "3,9,pre-round,B,4,"]
    assert export.metrics_csv({"b": {"steps": [1], "values": [2.0]}, "a": {"steps": [3], "values": [4.0]}}) \
        .splitlines() == ["name,step,value", "a,3,4.0", "b,1,2.0"]
