"""The job spec: defaults, presets under explicit values, and field-level errors."""
import pytest
from pydantic import ValidationError

from jobs.presets import PRESETS, apply_preset, preset_for
from jobs.spec import METHODS, JobSpec


def test_defaults_follow_the_paper():
    spec = JobSpec()
    assert (spec.train.batch_size, spec.train.lr, spec.train.warmup) == (64, 2e-5, 0.1)
    assert spec.diagnostics.probes == 40 and spec.dataset.seed == 2021


def test_paper_preset_fills_in_and_user_values_win():
    spec = JobSpec(method="influence-tuning", preset="paper", influence={"k": 2})
    assert spec.influence.round_epochs == 5 and spec.influence.tuples_per_update == 64
    assert spec.influence.k == 2  # explicit beats preset
    msgs = JobSpec(method="embedding-tuning", preset="paper", dataset={"name": "msgs"})
    assert (msgs.influence.interval, msgs.influence.lr, msgs.train.epochs) == (25, 1e-5, 3)


def test_every_preset_is_a_valid_spec():
    for key in PRESETS:
        dataset, method = key.split("/")
        JobSpec.model_validate(apply_preset(key, {"dataset": {"name": dataset}, "method": method}))


def test_unknown_method_and_preset_name_the_choices():
    with pytest.raises(ValidationError, match="valid: " + ", ".join(METHODS)):
        JobSpec(method="boosting")
    with pytest.raises(ValueError, match="valid: paper"):
        preset_for("fancy", "textlen", "finetune")
    with pytest.raises(ValidationError, match="no preset 'custom/finetune'"):
        JobSpec(preset="paper", dataset={"name": "custom"})


def test_field_errors_point_at_the_field():
    with pytest.raises(ValidationError) as err:
        JobSpec(train={"lr": -1}, influence={"bogus": 1})
    locs = {tuple(e["loc"]) for e in err.value.errors()}
    assert ("train", "lr") in locs and ("influence", "bogus") in locs
