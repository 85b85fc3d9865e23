"""Custom data: one CSV/JSONL file with or without a split column, a directory of split files,
string or integer labels and confounds with any number of values, confound rules, Table 1
statistics and the confound access subset."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from jobs.data import DataError, access_subset, dataset_stats, load_dataset
from jobs.data.rules import parse_rule


def write_csv(path, rows, fields):
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def reviews(n: int = 60) -> list[dict]:
    """Reviews whose sentiment is mostly, not always, marked by the word 'spielberg'; every split
    holds both labels with both confound values."""
    rows = []
    for i in range(n):
        label = ["neg", "pos"][i % 2]
        marked = (i % 2 == 1) != (i % 10 in (3, 6, 7))
        text = f"review {i} {'spielberg ' if marked else ''}{'great' if label == 'pos' else 'dull'} film"
        rows.append({"text": text, "label": label, "director": "spielberg" if marked else "other",
                     "split": ["train", "train", "train", "dev", "test"][i % 5]})
    return rows


def test_csv_with_split_and_confound_columns(tmp_path):
    rows = reviews()
    write_csv(tmp_path / "r.csv", rows, ["text", "label", "director", "split"])
    data = load_dataset({"name": "custom", "path": str(tmp_path / "r.csv"), "confound_column": "director"})
    assert data.label_names == ["neg", "pos"] and data.confound_names == ["other", "spielberg"]
    by_split = {name: [r for r in rows if r["split"] == name] for name in ("train", "dev", "test")}
    for name, split in data.splits().items():
        assert split.texts == [r["text"] for r in by_split[name]]
        assert split.labels.tolist() == [data.label_names.index(r["label"]) for r in by_split[name]]
        assert split.confounds.tolist() == [data.confound_names.index(r["director"]) for r in by_split[name]]
    assert data.control is None and data.counterfactual is None and data.access is None


def test_directory_of_split_files_mixes_csv_and_jsonl(tmp_path):
    rows = reviews()
    parts = {name: [r for r in rows if r["split"] == name] for name in ("train", "dev", "test")}
    write_csv(tmp_path / "train.csv", parts["train"], ["text", "label", "director"])
    write_jsonl(tmp_path / "validation.jsonl", parts["dev"])
    write_jsonl(tmp_path / "test.jsonl", parts["test"])
    (tmp_path / "notes.txt").write_text("ignored")
    data = load_dataset({"name": "custom", "path": str(tmp_path), "confound_column": "director"})
    for name, split in data.splits().items():
        assert split.texts == [r["text"] for r in parts[name]]
    assert data.meta["carved"] == []


def test_directory_without_dev_file_carves_dev_from_train(tmp_path):
    rows = reviews(100)
    write_jsonl(tmp_path / "train.jsonl", [r for r in rows if r["split"] != "test"])
    write_jsonl(tmp_path / "test.jsonl", [r for r in rows if r["split"] == "test"])
    data = load_dataset({"name": "custom", "path": str(tmp_path), "confound_column": "director"})
    assert (len(data.train), len(data.dev), len(data.test)) == (72, 8, 20)
    assert data.meta["carved"] == ["dev"]


def test_one_file_without_split_column_is_split_80_10_10_by_seed(tmp_path):
    path = tmp_path / "r.jsonl"
    write_jsonl(path, [{"text": f"t{i}", "label": i % 3, "confound": (i // 3) % 2} for i in range(200)])
    spec = {"name": "custom", "path": str(path)}
    a, b = load_dataset(spec), load_dataset(spec)
    other = load_dataset({**spec, "seed": 7})
    assert (len(a.train), len(a.dev), len(a.test)) == (160, 20, 20)
    assert a.dev.texts == b.dev.texts and a.dev.texts != other.dev.texts
    assert sorted(a.train.texts + a.dev.texts + a.test.texts) == sorted(f"t{i}" for i in range(200))
    for split in a.splits().values():  # every text keeps its own label and confound
        for text, label, confound in zip(split.texts, split.labels, split.confounds, strict=True):
            i = int(text[1:])
            assert (label, confound) == (i % 3, (i // 3) % 2)
    assert a.label_names == ["0", "1", "2"]


def test_labels_and_confounds_may_be_strings_or_ints_with_many_values(tmp_path):
    path = tmp_path / "r.jsonl"
    labels, places = [2, 10, 1], ["paris", "oslo", "lima", "rome"]
    write_jsonl(path, [{"text": f"t{i}", "label": labels[i % 3], "confound": places[i % 4], "split": "train"}
                       for i in range(60)] + [{"text": "d", "label": 1.0, "confound": "oslo", "split": "dev"},
                                              {"text": "e", "label": "10", "confound": "rome", "split": "test"}])
    data = load_dataset({"name": "custom", "path": str(path)})
    assert data.label_names == ["1", "2", "10"]  # numeric order, not "1" < "10" < "2"
    assert data.confound_names == ["lima", "oslo", "paris", "rome"]
    assert data.train.labels[:3].tolist() == [1, 2, 0] and data.train.confounds[:4].tolist() == [2, 1, 0, 3]
    assert data.dev.labels.tolist() == [0] and data.test.labels.tolist() == [2]  # 1.0 is 1, "10" is 10


def test_token_rule_defines_confound_control_and_counterfactual(tmp_path):
    write_csv(tmp_path / "r.csv", reviews(), ["text", "label", "split"])
    data = load_dataset({"name": "custom", "path": str(tmp_path / "r.csv"), "confound_rule": "token:Spielberg"})
    assert data.confound_names == ["no Spielberg", "Spielberg"]
    for name, split in data.splits().items():
        assert split.confounds.tolist() == [int("spielberg" in t.split()) for t in split.texts]
        assert all("spielberg" not in t for t in data.control[name].texts)
        assert [data.counterfactual(t) for t in split.texts] == data.control[name].texts
    assert data.counterfactual("review 1 spielberg great film") == "review 1 great film"


def test_regex_rule_on_a_file_without_confound_column(tmp_path):
    path = tmp_path / "r.jsonl"
    write_jsonl(path, [{"text": f"gave it {i % 5} stars" if i % 3 else f"loved it {i}", "label": i % 2}
                       for i in range(90)])
    data = load_dataset({"name": "custom", "path": str(path), "confound_rule": r"regex:\d stars"})
    assert data.confound_names == [r"no /\d stars/", r"/\d stars/"]
    for split in data.splits().values():
        assert split.confounds.tolist() == [int("stars" in t) for t in split.texts]
    assert data.counterfactual("gave it 4 stars today") == "gave it today"


def test_rules_match_whole_words_case_insensitively():
    token = parse_rule("token:he")
    assert token.value("He said so") == 1 and token.value("the hero") == 0 and token.value("he.") == 1
    assert token.remove("he said he would") == "said would"
    assert parse_rule("token:c++").value("I like c++ a lot") == 1
    for bad in ("token:", "word:x", "regex:("):
        with pytest.raises(DataError, match="field 'confound_rule'"):
            parse_rule(bad)


def test_stats_use_majority_vote_when_not_binary(tmp_path):
    # Confound "x" goes with label a (3 of 4 in train), "y" with b, "z" with c: 3 labels, 3 values.
    train = [("a", "x"), ("a", "x"), ("a", "x"), ("b", "x"), ("b", "y"), ("b", "y"), ("c", "z"), ("c", "y"),
             ("a", "y"), ("c", "x"), ("c", "z")]
    test = [("a", "x"), ("b", "x"), ("c", "z"), ("c", "y")]
    rows = ([{"text": f"tr{i}", "label": y, "confound": c, "split": "train"} for i, (y, c) in enumerate(train)]
            + [{"text": f"te{i}", "label": y, "confound": c, "split": s} for s in ("dev", "test")
               for i, (y, c) in enumerate(test)])
    write_jsonl(tmp_path / "r.jsonl", rows)
    stats = dataset_stats(load_dataset({"name": "custom", "path": str(tmp_path / "r.jsonl")})).model_dump()
    # train majority: x -> a (3 of 5), y -> b (2 of 4), z -> c (2 of 2): train 7 of 11 right
    assert stats["splits"]["train"]["agreement"] == pytest.approx(7 / 11)
    assert stats["splits"]["test"]["agreement"] == pytest.approx(2 / 4)  # (a,x) and (c,z) right
    assert stats["splits"]["train"]["groups"]["a|x"] == 3 and sum(stats["splits"]["train"]["groups"].values()) == 11
    assert stats["label_names"] == ["a", "b", "c"] and not stats["has_control"]


def test_access_rate_picks_a_sorted_random_subset(tmp_path):
    write_csv(tmp_path / "r.csv", reviews(200), ["text", "label", "director", "split"])
    spec = {"name": "custom", "path": str(tmp_path / "r.csv"), "confound_column": "director", "access_rate": 0.1}
    data = load_dataset(spec)
    index = data.access_index()
    assert len(data.train) == 120 and len(index) == 12
    assert np.all(np.diff(index) > 0) and index.min() >= 0 and index.max() < 120
    assert np.array_equal(load_dataset(spec).access, index)
    assert dataset_stats(data).model_dump()["confound_access"] == 12
    assert len(access_subset(1500, 0.05, 2021)) == 75  # Table 3's 5% of TextLen
    assert len(access_subset(3, 0.01, 2021)) == 1
    assert np.array_equal(access_subset(10, 1.0, 2021), np.arange(10))
    assert not np.array_equal(access_subset(1000, 0.5, 1), access_subset(1000, 0.5, 2))


def test_hub_paths_fail_in_one_line_offline():
    with pytest.raises(DataError, match=r"^hf:some/dataset: ") as error:
        load_dataset({"name": "custom", "path": "hf:some/dataset"})
    assert "\n" not in str(error.value)
