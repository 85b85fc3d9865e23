"""Bad input is refused in one line that names the file, row and field, and nothing is returned
half-loaded: the bad row may be the last one."""
from __future__ import annotations

import json

import pytest

from jobs.data import DataError, load_dataset


def refused(spec: dict, pattern: str) -> DataError:
    with pytest.raises(DataError, match=pattern) as error:
        load_dataset(spec)
    assert "\n" not in str(error.value)
    return error.value


def rows(n: int = 40) -> list[dict]:
    """Good rows: labels 0/1, confounds u/v, every (label, confound) group present."""
    return [{"text": f"text {i}", "label": i % 2, "confound": "uv"[(i // 2) % 2]} for i in range(n)]


def write_jsonl(path, records) -> str:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return str(path)


def write_csv(path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def custom(path: str, **extra) -> dict:
    return {"name": "custom", "path": path, **extra}


def test_missing_csv_column_names_the_header_line(tmp_path):
    path = write_csv(tmp_path / "d.csv", ["text,confound"] + [f"t{i},u" for i in range(5)])
    error = refused(custom(path), r"d\.csv, row 1, field 'label': missing column \(columns: text, confound\)")
    assert (error.row, error.field) == (1, "label")


def test_missing_jsonl_field_names_its_line(tmp_path):
    records = rows()
    del records[-1]["confound"]
    refused(custom(write_jsonl(tmp_path / "d.jsonl", records)), r"d\.jsonl, row 40, field 'confound': missing field")


def test_empty_text_names_row_and_field(tmp_path):
    lines = ["text,label,confound"] + [f"t{i},{i % 2},{'uv'[(i // 2) % 2]}" for i in range(20)]
    lines[-1] = "   ,1,u"
    refused(custom(write_csv(tmp_path / "d.csv", lines)), r"d\.csv, row 21, field 'text': missing or empty value")


def test_invalid_json_line(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [*rows(), '{"text": "broken", "label": 1'])
    refused(custom(path), r"d\.jsonl, row 41: invalid JSON")
    path = write_jsonl(tmp_path / "e.jsonl", [*rows(5), "[1, 2]"])
    refused(custom(path), r"e\.jsonl, row 6: expected a JSON object, got list")


def test_unreadable_bytes_and_surplus_cells(tmp_path):
    (tmp_path / "d.csv").write_bytes(b"text,label,confound\nok,1,u\n\xff\xfe,0,v\n")
    refused(custom(str(tmp_path / "d.csv")), r"d\.csv, row \d: not UTF-8 text")
    path = write_csv(tmp_path / "e.csv", ["text,label,confound", "a,1,u", "b,0,v,extra"])
    refused(custom(path), r"e\.csv, row 3: 4 cells for 3 columns")


def test_label_with_one_class(tmp_path):
    records = [{**r, "label": "spam"} for r in rows()]
    refused(custom(write_jsonl(tmp_path / "d.jsonl", records)),
            r"d\.jsonl, field 'label': the label has one class in train \('spam'\)")


def test_confound_with_one_value(tmp_path):
    records = [{**r, "group": "same"} for r in rows()]
    refused(custom(write_jsonl(tmp_path / "d.jsonl", records), confound_column="group"),
            r"d\.jsonl, field 'group': the confound has one value in train \('same'\)")


def test_a_label_without_a_b_group(tmp_path):
    # label 1 always comes with confound v in train: no example of label 1 has another value
    records = [{**r, "confound": "v"} if r["label"] == 1 else r for r in rows()]
    refused(custom(write_jsonl(tmp_path / "d.jsonl", records)),
            r"d\.jsonl, field 'confound': every train example of label '1' has confound 'v': no B group")


def test_unknown_split_name(tmp_path):
    records = [{**r, "split": ["train", "dev", "test"][i % 3]} for i, r in enumerate(rows(60))]
    records[-1]["split"] = "holdout"
    refused(custom(write_jsonl(tmp_path / "d.jsonl", records)),
            r"d\.jsonl, row 60, field 'split': unknown split 'holdout'")


def test_a_split_that_ends_up_empty(tmp_path):
    records = [{**r, "split": "dev" if i < 3 else "train"} for i, r in enumerate(rows(3))]
    refused(custom(write_jsonl(tmp_path / "d.jsonl", records)), r"d\.jsonl: the train split is empty")


def test_rule_that_matches_nothing_or_everything(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", rows())
    refused(custom(path, confound_rule="token:zebra"), r"d\.jsonl, field 'confound_rule': rule 'token:zebra' "
                                                       r"matches no training text")
    refused(custom(path, confound_rule="regex:text"), r"field 'confound_rule': rule 'regex:text' matches every")
    refused(custom(path, confound_rule="regex:(unclosed"), r"field 'confound_rule': bad regular expression")


def test_custom_data_needs_a_confound_and_a_path(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", rows())
    refused(custom(path, confound_column=None), r"field 'confound_column': a custom dataset needs a confound")
    refused({"name": "custom"}, r"field 'path': a custom dataset needs a path")
    refused(custom(str(tmp_path / "absent.csv")), r"absent\.csv: no such file or directory")
    refused(custom(write_csv(tmp_path / "d.txt", ["x"])), r"d\.txt: unsupported file type '.txt'")
    (tmp_path / "empty_dir").mkdir()
    refused(custom(str(tmp_path / "empty_dir")), r"empty_dir: no train file")


def test_unknown_dataset_and_option_names_list_the_valid_ones():
    refused({"name": "imdb"}, r"field 'name': unknown dataset 'imdb'; valid: textlen, msgs, custom")
    refused({"name": "textlen", "options": {"sd": 3}}, r"textlen options, field 'sd'.*valid options: train_size")
    refused({"name": "msgs", "options": {"inoculation": 2}}, r"msgs options, field 'inoculation'")
    refused({"name": "textlen", "options": {"train_agreement": 1.0, "train_size": 20, "dev_size": 4,
                                            "test_size": 4}}, r"field 'confound'.*no B group")


def msgs_folder(tmp_path, bad_line: str | None = None, at: int = 0):
    pairs = [{"sentence": f"s {i}", "linguistic_feature_label": 1 - i % 2, "surface_feature_label": 1 - i % 2}
             for i in range(200)]
    lines = [json.dumps(r) for r in pairs] + [json.dumps({"sentence": f"i {i}", "linguistic_feature_label": i % 2,
                                                          "surface_feature_label": 1 - i % 2}) for i in range(20)]
    test = [json.dumps({"sentence": f"t {i}", "linguistic_feature_label": i % 2, "surface_feature_label": i // 2 % 2})
            for i in range(20)]
    if bad_line is not None:
        test[at] = bad_line
    write_jsonl(tmp_path / "train.jsonl", lines)
    write_jsonl(tmp_path / "test.jsonl", test)
    return str(tmp_path)


def test_official_msgs_rows_are_validated_with_row_numbers(tmp_path):
    good = msgs_folder(tmp_path)
    assert len(load_dataset({"name": "msgs", "path": good, "options": {"inoculation": 0.05}}).train) == 100
    refused({"name": "msgs", "path": msgs_folder(tmp_path, '{"sentence": "x", "linguistic_feature_label": 1}', 19)},
            r"test\.jsonl, row 20, field 'surface_feature_label': expected 0 or 1, got None")
    refused({"name": "msgs", "path": msgs_folder(tmp_path, "not json", 4)}, r"test\.jsonl, row 5: invalid JSON")
    bad_label = '{"sentence": "x", "linguistic_feature_label": "1", "surface_feature_label": 0}'
    refused({"name": "msgs", "path": msgs_folder(tmp_path, bad_label, 0)},
            r"test\.jsonl, row 1, field 'linguistic_feature_label': expected 0 or 1, got '1'")
