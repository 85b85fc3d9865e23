"""Counterfactuals and the no-confound control on your own data (issue 17, item 3): a
counterfactual column gives the flip rate and the control's text; a confound rule strips its
match for both; without either, no-confound is refused before the model loads (the CLI) and at
submit (REST), in one line."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from jobs.data import load_dataset
from jobs.data.dataset import DataError
from jobs.recorder import NullRecorder
from jobs.runner import run
from jobs.spec import DatasetSpec, JobSpec
from tests.helpers import WAIT_S


def write_pronoun_data(folder, counterfactual: bool, splits=("train", "dev", "test")) -> None:
    """Sports/weather sentences opened by a pronoun that mostly agrees with the topic; with
    counterfactual=True each row also carries the text with the other pronoun."""
    folder.mkdir(parents=True, exist_ok=True)
    for split in splits:
        with (folder / f"{split}.jsonl").open("w") as f:
            for i in range(40):
                label = ("sports", "weather")[i % 2]
                pronoun = ("she", "he")[(i % 2) ^ (i % 5 == 0)]
                other = "he" if pronoun == "she" else "she"
                topic = ("the match", "the rain")[i % 2]
                row = {"text": f"{pronoun} saw {topic} {i}", "label": label, "confound": pronoun}
                if counterfactual:
                    row["counterfactual"] = f"{other} saw {topic} {i}"
                f.write(json.dumps(row) + "\n")


def custom(folder, **spec) -> DatasetSpec:
    return DatasetSpec(name="custom", path=str(folder), **spec)


def test_a_counterfactual_column_gives_the_flip_text_and_the_control(tmp_path):
    write_pronoun_data(tmp_path / "d", counterfactual=True)
    data = load_dataset(custom(tmp_path / "d"))
    assert data.counterfactual("she saw the match 2") == "he saw the match 2"
    assert data.control["test"].texts[0] == data.counterfactual(data.test.texts[0]) != data.test.texts[0]
    assert data.meta["counterfactual_source"] == "column 'counterfactual'"
    # Without the column: neither; a rule strips its match for both.
    write_pronoun_data(tmp_path / "plain", counterfactual=False)
    assert load_dataset(custom(tmp_path / "plain")).counterfactual is None
    ruled = load_dataset(custom(tmp_path / "plain", confound_column=None, confound_rule="token:she"))
    assert ruled.counterfactual("she saw the rain 3").strip() == "saw the rain 3" and ruled.control


def test_a_column_given_in_some_files_only_is_a_one_line_error(tmp_path):
    write_pronoun_data(tmp_path / "d", counterfactual=True, splits=("train", "dev"))
    write_pronoun_data(tmp_path / "d", counterfactual=False, splits=("test",))
    with pytest.raises(DataError, match=r"test\.jsonl, field 'counterfactual': the other files have"):
        load_dataset(custom(tmp_path / "d"))


def tiny(folder, method: str, **extra) -> JobSpec:
    return JobSpec.model_validate({"model": "tiny", "device": "cpu", "method": method, "dataset": custom(folder),
                                   "train": {"max_steps": 4, "lr": 1e-3, "batch_size": 8, "eval_every": 100},
                                   "diagnostics": {"cid_every": 0, "probes": 2, "sample": 2}, **extra})


def test_the_flip_rate_and_no_confound_run_on_a_counterfactual_column(tmp_path):
    write_pronoun_data(tmp_path / "d", counterfactual=True)
    finetuned = run(tiny(tmp_path / "d", "finetune"), NullRecorder())
    assert finetuned.metrics["test"]["flip_rate"] is not None
    control = run(tiny(tmp_path / "d", "no-confound"), NullRecorder())
    assert control.status in ("succeeded", "collapsed") and "confounded_test" in control.metrics


def test_no_confound_without_a_confound_free_copy_is_refused_in_one_line_before_the_model_loads(tmp_path):
    write_pronoun_data(tmp_path / "plain", counterfactual=False)
    done = subprocess.run([sys.executable, "-m", "jobs.cli", "run", "--dataset", "custom", "--data-path",
                           str(tmp_path / "plain"), "--model", "tiny", "--method", "no-confound", "--out",
                           str(tmp_path / "log.jsonl")], capture_output=True, text=True, timeout=WAIT_S)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "'counterfactual' column" in last and "loading model" not in done.stderr
