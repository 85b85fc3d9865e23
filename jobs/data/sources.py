"""The one entry point: a DatasetSpec in, a checked ConfoundedDataset out."""
from __future__ import annotations

from pydantic import ValidationError

from jobs.data.access import access_subset
from jobs.data.checks import check_dataset
from jobs.data.custom import load_custom
from jobs.data.dataset import ConfoundedDataset, DataError
from jobs.data.msgs import load_msgs
from jobs.data.rules import parse_rule, replace_confound
from jobs.data.textlen import load_textlen
from jobs.spec import DatasetSpec

BUILTIN_DATASETS = {
    "textlen": "TextLen: long vs short sentences, confounded by a 'Positive .'/'Negative .' prefix (paper §3); "
               "path: a folder with CoNLL-2003 eng.train and eng.testa (default: generated sentences)",
    "msgs": "MSGS: is an adjective present, confounded by whether 'the' comes before 'a' (paper §5.2); "
            "path: a folder with the official jsonl files (default: generated from a grammar)",
}
CUSTOM = "custom"
# Every name load_dataset accepts; "custom" is no built-in: it cannot load without a path.
DATASET_CHOICES = {
    **BUILTIN_DATASETS,
    CUSTOM: "your own data; needs a path: a CSV/JSONL file (split column optional), a directory of "
            "train/dev/test files, or hf:NAME; the confound from a column or a rule (token:WORD, regex:PATTERN)",
}


def _validated(spec: dict) -> DatasetSpec:
    """A DatasetSpec from a dict; what it refuses (a confound rule that does not parse, a bound) as
    a DataError naming the field, like every other bad input here."""
    try:
        return DatasetSpec.model_validate(spec)
    except ValidationError as error:
        first = error.errors()[0]
        raise DataError(first["msg"].removeprefix("Value error, "),
                        field=".".join(map(str, first["loc"])) or None) from None


def load_dataset(spec: DatasetSpec | dict | None = None) -> ConfoundedDataset:
    """Build the dataset a spec names, checked (jobs.data.checks), with spec.access_rate applied
    (ds.access set when the rate is below 1). DataError (one line) on any bad input.

    spec.confound_rule defines the confound from the text: for a custom dataset instead of a
    column, for a built-in one in place of its annotated confound (jobs.data.rules.replace_confound)."""
    spec = spec if isinstance(spec, DatasetSpec) else _validated(spec or {})
    if spec.name == "textlen":
        dataset = load_textlen(spec.seed, spec.options, spec.path)
    elif spec.name == "msgs":
        dataset = load_msgs(spec.seed, spec.options, spec.path)
    elif spec.name == CUSTOM:
        dataset = load_custom(spec.path, spec.text_column, spec.label_column, spec.confound_column,
                              spec.confound_rule, spec.seed, spec.options)
    else:
        raise DataError(f"unknown dataset '{spec.name}'; valid: {', '.join(DATASET_CHOICES)}", field="name")
    if spec.confound_rule and spec.name != CUSTOM:  # (custom reads its rule itself)
        dataset = replace_confound(dataset, parse_rule(spec.confound_rule))
    if spec.name != CUSTOM:  # custom checks itself, naming the user's columns
        check_dataset(dataset, f"{spec.name} ({dataset.meta.get('source', 'built-in')})",
                      confound_field="confound_rule" if spec.confound_rule else "confound")
    if spec.access_rate < 1:
        dataset.access = access_subset(len(dataset.train), spec.access_rate, spec.seed)
    return dataset
