"""Defaults a new user meets: the model and learning rate a spec gets when it names none, and
influence-tuning specs that would run no round (refused before training, in the engine and CLI)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from jobs.recorder import NullRecorder
from jobs.rounds import NoRounds, no_rounds_reason, round_interval, round_steps
from jobs.runner import run
from jobs.spec import DEFAULT_MODEL, TINY_LR, JobSpec
from tests.helpers import WAIT_S

SMALL_TEXTLEN = {"name": "textlen", "options": {"train_size": 320, "dev_size": 64, "test_size": 64}}


def test_a_spec_that_names_no_model_trains_the_pretrained_one():
    assert DEFAULT_MODEL == "minilm" and JobSpec().model == "minilm" and JobSpec().train.lr == 2e-5


def test_tiny_gets_a_learning_rate_it_can_train_at_unless_one_is_given():
    assert JobSpec(model="tiny").train.lr == TINY_LR
    assert JobSpec.model_validate({"model": "tiny", "train": {"epochs": 2}}).train.lr == TINY_LR
    assert JobSpec.model_validate({"model": "tiny", "train": {"lr": 3e-5}}).train.lr == 3e-5
    # A preset is a choice too: its learning rate stands.
    assert JobSpec.model_validate({"model": "tiny", "preset": "paper"}).train.lr == 2e-5


def test_the_default_round_interval_scales_with_the_run():
    assert round_interval(None, 240) == 48 and round_steps(None, 240) == [48, 96, 144, 192]  # as the paper's 4
    assert round_steps(None, 60) == [12, 24, 36, 48] and round_steps(None, 1000) == [50 * i for i in range(1, 20)]
    assert round_steps(50, 240) == [50, 100, 150, 200] and round_steps(50, 75) == []
    for total in range(2, 300):
        assert round_steps(None, total), total  # the default always has a round once there are 2 steps


def test_zero_rounds_are_refused_with_the_largest_interval_that_works():
    reason = no_rounds_reason("influence-tuning", 50, 60)
    assert reason.startswith("influence.interval 50: a run of 60 label steps has no influence round")
    assert "at most 39" in reason and round_steps(39, 60) and not round_steps(40, 60)
    assert no_rounds_reason("finetune", 50, 60) is None and no_rounds_reason("embedding-tuning", None, 60) is None


def test_the_engine_refuses_an_influence_tuning_run_without_rounds_before_training():
    spec = JobSpec.model_validate({"model": "tiny", "method": "influence-tuning", "device": "cpu",
                                   "dataset": SMALL_TEXTLEN, "train": {"max_steps": 40},
                                   "influence": {"interval": 50}})
    with pytest.raises(NoRounds, match="at most 26"):
        run(spec, NullRecorder())


def test_the_cli_refuses_it_in_one_line():
    done = subprocess.run([sys.executable, "-m", "jobs.cli", "run", "--model", "tiny", "--method", "influence-tuning",
                           "--max-steps", "40", "--set", "influence.interval=50", "--out", "/dev/null"],
                          capture_output=True, text=True, timeout=WAIT_S)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: influence.interval 50: a run of 40 label steps")


def test_run_help_lists_every_method_and_the_default_model():
    done = subprocess.run([sys.executable, "-m", "jobs.cli", "run", "--help"], capture_output=True, text=True,
                          timeout=WAIT_S)
    text = " ".join(done.stdout.split())
    for method in ("finetune", "influence-tuning", "embedding-tuning", "adversarial", "no-confound", "neurontune"):
        assert method in text
    assert "default minilm" in text


def test_tiny_with_its_default_learning_rate_fits_train_where_the_old_default_collapsed():
    """The new user's job: tiny, nothing else set. At 2e-5 it ended "collapsed" (chance)."""
    def fit(**train):
        spec = JobSpec.model_validate({"model": "tiny", "device": "cpu", "dataset": SMALL_TEXTLEN,
                                       "train": {"batch_size": 32, "max_steps": 60, "eval_every": 1000, **train},
                                       "diagnostics": {"cid_every": 0, "probes": 2, "sample": 2}})
        return run(spec, NullRecorder())

    trained = fit()
    assert trained.status == "succeeded" and trained.metrics["train"]["acc"] > 0.8
    assert fit(lr=2e-5).status == "collapsed"


def test_the_cli_says_what_collapsed_means_and_what_to_do(tmp_path):
    done = subprocess.run([sys.executable, "-m", "jobs.cli", "run", "--model", "tiny", "--max-steps", "3",
                           "--cid-every", "0", "--set", "train.lr=1e-7", "--set", "dataset.options.train_size=64",
                           "--set", "dataset.options.dev_size=32", "--set", "dataset.options.test_size=32",
                           "--out", str(tmp_path / "log.jsonl")], capture_output=True, text=True, timeout=WAIT_S)
    assert done.returncode == 0 and "status collapsed" in done.stdout
    assert "training accuracy ended at chance" in done.stderr and "now 1e-07" in done.stderr
