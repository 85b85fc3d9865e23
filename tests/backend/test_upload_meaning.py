"""Uploaded data is read as the user meant it: agreement does not hang on the values' names, a
NaN or 0.5 class is a data error, and splits are stratified by (label, confound) group with a
warning where a group cannot reach the test split (issue 16, item 7). Real uploads through the
in-process app."""
from __future__ import annotations

import json

import numpy as np
import pytest

from jobs.data import load_dataset
from jobs.data.stats import confound_pairing
from jobs.evaluate import accuracy_report


def upload(client, name: str, content: bytes, **form):
    return client.post("/api/datasets", files={"file": (name, content, "application/octet-stream")}, data=form)


def aligned_rows(n: int, aligned: float, labels=("sports", "weather"), confounds=("she", "he"),
                 split: bool = True) -> list[dict]:
    """n rows, alternating labels; the first `aligned` share of each label has the paired confound
    (labels[0] with confounds[0], labels[1] with confounds[1]), the rest the other one."""
    rows = []
    for i in range(n):
        y = i % 2
        agrees = (i // 2) < aligned * n / 2
        row = {"text": f"story {i} about {labels[y]}", "label": labels[y], "confound": confounds[y if agrees else 1 - y]}
        if split:
            row["split"] = "train" if i % 10 < 6 else "dev" if i % 10 < 8 else "test"
        rows.append(row)
    return rows


def jsonl(rows: list[dict]) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode()


def test_agreement_does_not_depend_on_the_values_names(client):
    # sports goes with she (sorted: sports=0, weather=1, he=0, she=1: "paired by sorted name" said 15%).
    answer = upload(client, "news.jsonl", jsonl(aligned_rows(200, 0.85)))
    assert answer.status_code == 201, answer.text
    stats = answer.json()["stats"]
    assert stats["agreement_pairing"] == {"he": "weather", "she": "sports"}
    assert stats["splits"]["train"]["agreement"] == pytest.approx(0.85, abs=0.02)
    # Group names are the values, not their indices.
    assert set(stats["splits"]["train"]["groups"]) == {"sports|she", "sports|he", "weather|she", "weather|he"}
    assert stats["splits"]["train"]["groups"]["sports|she"] > stats["splits"]["train"]["groups"]["sports|he"]
    # The same data under names that sort the other way: the same agreement.
    renamed = upload(client, "renamed.jsonl", jsonl(aligned_rows(200, 0.85, confounds=("a", "b")))).json()["stats"]
    assert renamed["agreement_pairing"] == {"a": "sports", "b": "weather"}
    for split in ("train", "dev", "test"):
        assert renamed["splits"][split]["agreement"] == stats["splits"][split]["agreement"]
    # Table 1 in the catalogue shows the same numbers.
    listed = {u["name"]: u["stats"] for u in client.get("/api/datasets").json()["uploaded"]}
    assert listed["news.jsonl"]["splits"]["train"]["agreement"] == stats["splits"]["train"]["agreement"]


def test_agree_and_disagree_accuracy_use_the_same_pairing(tmp_path):
    path = tmp_path / "news.jsonl"
    path.write_bytes(jsonl(aligned_rows(200, 0.85)))
    data = load_dataset({"name": "custom", "path": str(path)})
    pairing = confound_pairing(data)
    test = data.test
    # A model that reads only the confound: right exactly where the confound agrees.
    predictions = pairing[test.confounds]
    report = accuracy_report(predictions, test.labels, test.confounds, None, data.label_names,
                             data.confound_names, pairing)
    assert report["agree_acc"] == 1.0 and report["disagree_acc"] == 0.0
    assert set(report["per_group"]) <= {"sports|she", "sports|he", "weather|she", "weather|he"}
    assert report["per_group"]["sports|she"] == 1.0 and report["per_group"]["sports|he"] == 0.0


@pytest.mark.parametrize(("bad", "shown"), [("NaN", "NaN"), ("", "empty"), ("0.5", "0.5")])
@pytest.mark.parametrize("field", ["label", "confound"])
def test_nan_empty_or_half_in_a_binary_column_is_a_data_error(client, field, bad, shown):
    lines = ["text,label,confound"] + [f"row {i},{i % 2},{(i // 2) % 2}" for i in range(40)]
    cells = lines[7].split(",")
    cells[1 if field == "label" else 2] = bad
    lines[7] = ",".join(cells)  # file line 8
    answer = upload(client, "bin.csv", ("\n".join(lines) + "\n").encode())
    assert answer.status_code == 400, answer.text
    message = answer.json()["detail"]
    assert "\n" not in message and "bin.csv" in message and "row 8" in message and f"field '{field}'" in message
    assert shown in message
    # JSONL's own NaN too.
    rows = [{"text": f"row {i}", "label": i % 2, "confound": (i // 2) % 2} for i in range(40)]
    rows[3][field] = float("nan") if bad == "NaN" else (None if bad == "" else 0.5)
    answer = upload(client, "bin.jsonl", "\n".join(json.dumps(r) for r in rows).encode())
    assert answer.status_code == 400 and "row 4" in answer.json()["detail"], answer.text


def test_carved_splits_are_stratified_by_group_and_deterministic(client, tmp_path):
    # No split column: dev and test are carved from the file. A small group (10 rows of weather|she)
    # still reaches the test split, in proportion.
    rows = aligned_rows(200, 0.9, split=False)
    answer = upload(client, "bare.jsonl", jsonl(rows))
    assert answer.status_code == 201, answer.text
    stats = answer.json()["stats"]
    assert stats["warnings"] == []
    assert (stats["splits"]["dev"]["size"], stats["splits"]["test"]["size"]) == (20, 20)
    for split in ("dev", "test"):
        assert stats["splits"][split]["groups"] == {"sports|she": 9, "sports|he": 1, "weather|she": 1,
                                                    "weather|he": 9}
    path = tmp_path / "bare.jsonl"
    path.write_bytes(jsonl(rows))
    first = load_dataset({"name": "custom", "path": str(path), "seed": 7})
    again = load_dataset({"name": "custom", "path": str(path), "seed": 7})
    other = load_dataset({"name": "custom", "path": str(path), "seed": 8})
    assert first.test.texts == again.test.texts and first.test.texts != other.test.texts


def test_a_test_split_without_a_group_and_a_file_too_small_warn_at_upload(client):
    # Given splits whose test part lacks weather|she.
    rows = aligned_rows(100, 0.8)
    rows = [r for r in rows if not (r["split"] == "test" and (r["label"], r["confound"]) == ("weather", "she"))]
    answer = upload(client, "gap.jsonl", jsonl(rows))
    assert answer.status_code == 201, answer.text
    warnings = answer.json()["stats"]["warnings"]
    assert len(warnings) == 1 and "test split" in warnings[0] and "weather|she" in warnings[0], warnings
    # A file too small to give every group a row of dev and test.
    small = upload(client, "small.jsonl", jsonl(aligned_rows(12, 0.7, split=False))).json()
    assert any("too few for a stratified split" in w for w in small["stats"]["warnings"]), small
    assert client.get(f"/api/datasets/{small['id']}").json()["stats"]["warnings"] == small["stats"]["warnings"]


def test_binary_identity_pairing_is_kept_for_builtins():
    stats_pairing = confound_pairing(load_dataset({"name": "msgs"}))
    assert list(stats_pairing) == [0, 1]
    assert np.array_equal(stats_pairing, np.arange(2))


def test_a_float_column_reads_as_its_integer_classes_and_its_half_is_refused(client):
    # What pandas writes for an int column that once held a NaN: 0.0 / 1.0.
    lines = ["text,label,confound"] + [f"row {i},{i % 2}.0,{(i // 2) % 2}" for i in range(40)]
    answer = upload(client, "floats.csv", ("\n".join(lines) + "\n").encode())
    assert answer.status_code == 201, answer.text
    assert answer.json()["stats"]["label_names"] == ["0", "1"]
    lines[5] = "row 4,0.5,1"
    answer = upload(client, "floats.csv", ("\n".join(lines) + "\n").encode())
    assert answer.status_code == 400 and "row 6" in answer.json()["detail"] and "0.5" in answer.json()["detail"]
