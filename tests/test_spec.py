"""The job spec: defaults, presets under explicit values, and field-level errors."""
import math

import pytest
from pydantic import BaseModel, ValidationError

from jobs.data import DATASET_CHOICES
from jobs.presets import PRESETS, apply_preset, preset_for
from jobs.spec import DATASET_NAMES, METHODS, JobSpec


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
    with pytest.raises(ValidationError, match="no preset 'textlen/neurontune'"):  # custom data: TextLen's (issue 17)
        JobSpec(preset="paper", method="neurontune", dataset={"name": "custom"})


def test_field_errors_point_at_the_field():
    with pytest.raises(ValidationError) as err:
        JobSpec(train={"lr": -1}, influence={"bogus": 1})
    locs = {tuple(e["loc"]) for e in err.value.errors()}
    assert ("train", "lr") in locs and ("influence", "bogus") in locs


def float_fields(model: type[BaseModel] = JobSpec, prefix: tuple = ()) -> list[tuple]:
    """The location of every float field of a spec model, nested ones included (a list's first item)."""
    found = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found += float_fields(annotation, (*prefix, name))
        elif "float" in str(annotation):
            found.append((*prefix, name, 0) if "list" in str(annotation) else (*prefix, name))
    return found


def spec_with(location: tuple, value) -> dict:
    """{"train": {"lr": value}} for ("train", "lr"); a list index puts the value in a list."""
    *path, last = location
    if isinstance(last, int):
        *path, last = path
        value = [value]
    data: dict = {}
    node = data
    for part in path:
        node = node.setdefault(part, {})
    node[last] = value
    return data


def test_every_float_field_is_found():
    assert {("train", "lr"), ("dataset", "access_rate"), ("neurontune", "lambdas", 0),
            ("adversarial", "lr")} <= set(float_fields())


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("location", float_fields())
def test_non_finite_numbers_are_refused_at_their_field(location, value):
    with pytest.raises(ValidationError) as err:
        JobSpec.model_validate(spec_with(location, value))
    assert [e["loc"] for e in err.value.errors()] == [location], err.value.errors()


def test_non_finite_number_in_dataset_options_is_refused():
    with pytest.raises(ValidationError, match=r"options\.sizes\.0: Input should be a finite number"):
        JobSpec(dataset={"options": {"sizes": [math.inf]}})


@pytest.mark.parametrize("location", [("seed",), ("dataset", "seed")])
def test_seeds_are_non_negative_32_bit(location):
    assert JobSpec.model_validate(spec_with(location, 2**32 - 1))
    for bad in (2**32, -1):
        with pytest.raises(ValidationError) as err:
            JobSpec.model_validate(spec_with(location, bad))
        assert [e["loc"] for e in err.value.errors()] == [location]


@pytest.mark.parametrize("data, location, words", [
    ({"method": "boosting"}, ("method",), ["unknown method 'boosting'", "valid: finetune"]),
    ({"preset": "fancy"}, ("preset",), ["unknown preset 'fancy'", "valid: paper"]),
    ({"preset": "paper", "method": "neurontune", "dataset": {"name": "custom", "path": "x.csv"}}, ("preset",),
     ["no preset 'textlen/neurontune'"]),
    ({"dataset": "imdb"}, ("dataset",), ["unknown dataset 'imdb'", "valid: textlen, msgs, custom, upload:<id>"]),
    ({"dataset": {"name": "upload:3", "path": "x.csv"}}, ("dataset",), ["names an upload"]),
])
def test_unknown_choices_are_one_line_at_their_field(data, location, words):
    with pytest.raises(ValidationError) as err:
        JobSpec.model_validate(data)
    [error] = err.value.errors()
    assert error["loc"] == location and "\n" not in error["msg"] and all(w in error["msg"] for w in words), error


@pytest.mark.parametrize("typed, field", [("upload:3", "dataset"), ({"name": "upload:3"}, "dataset.name"),
                                          ({"name": "custom", "path": "upload:3"}, "dataset.path")])
def test_upload_shorthands_are_spelled_out(typed, field):
    spec = JobSpec(dataset=typed)
    assert (spec.dataset.name, spec.dataset.path, spec._upload_field) == ("custom", "upload:3", field)


def test_dataset_names_match_the_engines_loader():
    assert set(DATASET_NAMES) == set(DATASET_CHOICES)


@pytest.mark.parametrize("data", [{}, {"model": "tiny", "method": "neurontune", "train": {"max_steps": 3}},
                                  {"preset": "paper", "method": "adversarial", "dataset": "msgs"}])
def test_a_stored_spec_rebuilds_as_validated(data):
    validated = JobSpec.model_validate(data)
    stored = JobSpec.stored(validated.model_dump(mode="json"))
    assert stored.model_dump(mode="json") == validated.model_dump(mode="json")
    assert all(type(getattr(stored, name)) is type(getattr(validated, name)) for name in JobSpec.model_fields)
