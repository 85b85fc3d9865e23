"""Presets and scales for a dataset of your own (issue 17, item 2): `--preset paper` on custom data
uses a stated built-in's settings, `run`/`spec` take `--scale` and `--threads`, and a spec error
is one line naming the field."""
from __future__ import annotations

import json
import subprocess
import sys

from jobs.presets import PRESETS, preset_for, preset_used, scale_spec
from jobs.spec import JobSpec
from tests.helpers import WAIT_S


def write_custom(path, rows: int = 48) -> None:
    """A small labelled JSONL dataset with a confound column (text, label, confound)."""
    with path.open("w") as f:
        for i in range(rows):
            label = i % 2
            confound = 1 - label if i % 6 in (0, 1) else label  # a third of each label disagrees
            f.write(json.dumps({"text": f"{'the' if confound else 'a'} item {i} is {'good' if label else 'bad'}",
                                "label": label, "confound": confound}) + "\n")


def cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jobs.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=WAIT_S)


def test_paper_on_custom_data_takes_textlens_settings_less_the_interval_or_the_named_builtins():
    textlen = preset_for("paper", "custom", "influence-tuning")
    assert textlen["train"] == PRESETS["textlen/influence-tuning"]["train"]
    assert "interval" not in textlen["influence"]  # rounds every fifth of the run, whatever the size
    assert preset_for("paper:msgs", "custom", "influence-tuning")["influence"]["k"] == 3
    assert preset_for("paper", "textlen", "influence-tuning") == PRESETS["textlen/influence-tuning"]
    assert "textlen/influence-tuning" in preset_used("paper", "custom", "influence-tuning")
    spec = JobSpec.model_validate({"dataset": {"name": "custom", "path": "x.jsonl"}, "method": "influence-tuning",
                                   "preset": "paper"})
    assert spec.train.lr == 2e-5 and spec.influence.interval is None


def test_spec_with_a_scale_is_what_reproduce_runs_under_the_users_flags():
    done = cli("spec", "--dataset", "textlen", "--method", "influence-tuning", "--scale", "cpu", "--seed", "7")
    assert done.returncode == 0, done.stderr
    spec = json.loads(done.stdout)
    expected = JobSpec.model_validate({**scale_spec("cpu", "textlen", "influence-tuning"),
                                       "method": "influence-tuning", "seed": 7}).model_dump(mode="json")
    assert spec == expected and spec["influence"]["scope"] == "top" and spec["model"] == "minilm"


def test_a_spec_error_is_one_line_naming_the_field():
    done = cli("spec", "--set", "train.lr=-1", "--set", "diagnostics.probes=0")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: invalid job spec: ") and "train.lr" in line and "diagnostics.probes" in line


def test_run_on_custom_data_with_the_paper_preset_and_threads_says_which_settings_it_used(tmp_path):
    write_custom(tmp_path / "mine.jsonl")
    log = tmp_path / "log.jsonl"
    done = cli("run", "--dataset", "custom", "--data-path", str(tmp_path / "mine.jsonl"), "--model", "tiny",
               "--preset", "paper", "--threads", "1", "--max-steps", "2", "--cid-every", "0",
               "--set", "train.lr=1e-3", "--out", str(log))
    assert done.returncode == 0, done.stderr
    logs = [json.loads(line).get("message", "") for line in log.read_text().splitlines()]
    assert any("paper's textlen/finetune settings" in message for message in logs), logs


def test_the_cli_table_shows_per_group_accuracy_by_name_and_the_pairing_agree_follows(tmp_path):
    rows = []
    for i in range(48):
        topic = ("sports", "weather")[i % 2]
        pronoun = ("she", "he")[(i % 2) ^ (i % 6 < 2)]
        rows.append({"text": f"{pronoun} saw {('the match', 'the rain')[i % 2]} {i}", "label": topic,
                     "confound": pronoun})
    (tmp_path / "mine.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = cli("run", "--dataset", "custom", "--data-path", str(tmp_path / "mine.jsonl"), "--model", "tiny",
               "--max-steps", "2", "--cid-every", "0", "--out", str(tmp_path / "log.jsonl"))
    assert done.returncode == 0, done.stderr
    table = done.stdout[done.stdout.index("accuracy by group"):]
    assert all(group in table for group in ("sports|she", "sports|he", "weather|he", "weather|she"))
    assert "agree = the confound is the one that goes with the label: " in done.stdout
    assert "he -> weather" in done.stdout and "she -> sports" in done.stdout
