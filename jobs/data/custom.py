"""A user's own data: CSV or JSONL files, or hf:NAME[:CONFIG] where a hub is reachable.

Where the splits come from (`path`):
- one file with a split column (option `split_column`, default "split"): train, dev or test
  (also "validation"/"valid"/"val" for dev);
- a directory holding train, dev (or validation) and test files, each .csv, .jsonl or .ndjson;
- a hub dataset: its train, validation and test splits (other splits are ignored);
- one file without a split column: all of it is train.
A split the source lacks is carved at random (by the spec's seed) from train, stratified by
(label, confound) group: dev_fraction and test_fraction of every group, 10% each by default, so
a bare file splits 80/10/10. A file too small for every group to reach a carved split gets a
warning (dataset.meta["warnings"], shown with the upload's statistics).

Columns (names from the DatasetSpec): text, label, and either a confound column or a
confound rule (jobs.data.rules). Labels and confound values may be strings or numbers with
any number of values; they are indexed in sorted order (numerically when all are integers)
and keep their names. A missing, empty or NaN value is a DataError naming file, row and field,
and so is a fractional number (0.5) among integer classes: never a class of its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from jobs.data.checks import check_dataset
from jobs.data.dataset import ConfoundedDataset, DataError, Split
from jobs.data.hub import is_hub_path, load_hub_splits
from jobs.data.options import parse_options
from jobs.data.rules import parse_rule
from jobs.data.tables import TABLE_SUFFIXES, Table, read_table

SPLITS = ("train", "dev", "test")
SPLIT_ALIASES = {"train": "train", "dev": "dev", "validation": "dev", "valid": "dev", "val": "dev",
                 "test": "test"}


class CustomOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    split_column: str = Field("split", max_length=200)
    dev_fraction: float = Field(0.1, gt=0, lt=1, description="share of train carved out as dev when the source has none")
    test_fraction: float = Field(0.1, gt=0, lt=1, description="the same for test")
    counterfactual_column: str = Field(
        "counterfactual", min_length=1, max_length=200,
        description="optional: each text with its confound swapped or removed, used where the files have it: "
                    "it gives the counterfactual flip rate and the no-confound control's training text")


@dataclass(frozen=True)
class Part:
    """One table of the source and the split its rows belong to (None: read it from the split column)."""

    table: Table
    split: str | None


# --- reading --------------------------------------------------------------------------------------

def read_parts(path: str) -> list[Part]:
    """The tables of a file, a directory of split files, or a hub dataset."""
    if is_hub_path(path):
        parts = [Part(Table(f"{path}:{name}", list(enumerate(records, start=1))), SPLIT_ALIASES[name.lower()])
                 for name, records in load_hub_splits(path).items() if name.lower() in SPLIT_ALIASES]
        if not parts:
            raise DataError("no train, validation or test split", file=path)
        return parts
    source = Path(path)
    if source.is_dir():
        return [Part(read_table(file), split) for split, file in split_files(source).items()]
    if not source.is_file():
        raise DataError("no such file or directory", file=path)
    return [Part(read_table(source), None)]


def split_files(directory: Path) -> dict[str, Path]:
    """split -> file for the split files in `directory`; train is required."""
    found: dict[str, Path] = {}
    for file in sorted(directory.iterdir()):
        split = SPLIT_ALIASES.get(file.stem.lower())
        if split and file.suffix.lower() in TABLE_SUFFIXES:
            if split in found:
                raise DataError(f"two files for the {split} split: {found[split].name} and {file.name}",
                                file=str(directory))
            found[split] = file
    if "train" not in found:
        raise DataError(f"no train file (train{', train'.join(TABLE_SUFFIXES)})", file=str(directory))
    return found


def read_counterfactuals(rows: list[tuple[Table, int, dict]], texts: list[str], column: str) -> dict[str, str]:
    """text -> its counterfactual, from `column` where the files have it ({} where none does); a
    file that has it must give it on every row (DataError naming file, row and field)."""
    tables = {id(table): table for table, _, _ in rows}
    has = {key for key, table in tables.items() if (table.header is not None and column in table.header)
           or (table.header is None and any(column in record for _, record in table.rows))}
    if has and (lacking := [t.file for key, t in tables.items() if key not in has]):
        raise DataError(f"the other files have a '{column}' column and this one has none: give it for every "
                        f"split, or for none", file=lacking[0], field=column)
    return {text: cell(table, line, record, column)
            for text, (table, line, record) in zip(texts, rows, strict=True) if id(table) in has}


def cell(table: Table, line: int, record: dict, name: str) -> str:
    """One value as a stripped string; DataError naming file, row and field when it is empty."""
    value = record.get(name)
    if isinstance(value, (dict, list)):
        raise DataError(f"expected a string or number, got {type(value).__name__}", file=table.file, row=line,
                        field=name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON 1.0 and 1 are the same class
    if value is None or str(value).strip() == "":
        raise DataError("missing or empty value", file=table.file, row=line, field=name)
    return str(value).strip()


def _integer(value: str) -> bool:
    try:
        int(value)
        return True
    except ValueError:
        return False


def _as_integer(value: str) -> str:
    """"1.0" -> "1" (a float column written out, as pandas does once a column has a NaN); other
    values as they are."""
    try:
        number = float(value)
    except ValueError:
        return value
    return str(int(number)) if number.is_integer() and not _integer(value) else value


def _fractional(value: str) -> bool:
    try:
        return not float(value).is_integer()
    except (ValueError, OverflowError):
        return False


def class_cells(rows: list[tuple[Table, int, dict]], name: str) -> list[str]:
    """The values of a class column (label, confound) as strings; DataError naming file, row and
    field for a missing, empty or NaN value, or for a fractional number (0.5) among integer
    classes (a typo or an average, not a class). Integer-valued numbers are integers: "1.0" is
    class "1"."""
    values = [_as_integer(cell(table, line, record, name)) for table, line, record in rows]
    for (table, line, _record), value in zip(rows, values, strict=True):
        if value.lower() == "nan":
            raise DataError("NaN is not a class", file=table.file, row=line, field=name)
    if any(_integer(v) for v in values):
        for (table, line, _record), value in zip(rows, values, strict=True):
            if _fractional(value):
                raise DataError(f"{value} is not one of the integer classes of this column",
                                file=table.file, row=line, field=name)
    return values


def index_values(values: list[str]) -> tuple[np.ndarray, list[str]]:
    """Values -> (int64 indices [N], names); names sorted, numerically when all are integers."""
    distinct = set(values)
    try:
        names = sorted(distinct, key=int)
    except ValueError:
        names = sorted(distinct)
    position = {name: i for i, name in enumerate(names)}
    return np.array([position[v] for v in values], dtype=np.int64), names


# --- splitting ------------------------------------------------------------------------------------

def row_splits(parts: list[Part], split_column: str) -> list[str]:
    """The split of every row, in reading order: its part's, or its split column's ("train" if none)."""
    splits = []
    for part in parts:
        table = part.table
        has_column = (split_column in table.header if table.header is not None
                      else any(split_column in record for _, record in table.rows))
        for line, record in table.rows:
            if part.split or not has_column:
                splits.append(part.split or "train")
                continue
            value = cell(table, line, record, split_column)
            if value.lower() not in SPLIT_ALIASES:
                raise DataError(f"unknown split {value!r} (use train, dev/validation or test)",
                                file=table.file, row=line, field=split_column)
            splits.append(SPLIT_ALIASES[value.lower()])
    return splits


def stratified_order(groups: np.ndarray, seed: int) -> np.ndarray:
    """The positions 0..N-1 ordered so that every prefix holds each group in proportion to its
    size (to within one row): within a group of n rows its i-th (shuffled) row sits at
    (i + u) / n, u uniform, and rows are sorted by that. Deterministic in `seed`."""
    rng = np.random.default_rng(seed)
    key = np.empty(len(groups))
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        key[rng.permutation(members)] = (np.arange(len(members)) + rng.random()) / len(members)
    return np.lexsort((rng.random(len(groups)), key))


def carve_missing(splits: np.ndarray, groups: np.ndarray, opts: CustomOptions, seed: int,
                  warnings: list[str] | None = None) -> list[str]:
    """Give the splits nobody named a random share of train, stratified by `groups` ((label,
    confound) group of every row), in place; the names of those carved. A train too small for
    each group to reach a carved split adds a line to `warnings`."""
    train = np.flatnonzero(splits == "train")
    order = train[stratified_order(groups[train], seed)]
    n_groups = len(np.unique(groups[train]))
    carved, start = [], 0
    for name, fraction in (("dev", opts.dev_fraction), ("test", opts.test_fraction)):
        if (splits == name).any():
            continue
        count = max(1, round(len(train) * fraction)) if len(train) > 2 else 0
        splits[order[start:start + count]] = name
        carved.append(name)
        start += count
        if warnings is not None and count < n_groups:
            warnings.append(f"{len(train)} rows are too few for a stratified split: the carved {name} split gets "
                            f"{count} row(s) ({fraction:.0%}) for {n_groups} (label, confound) groups")
    return carved


# --- building -------------------------------------------------------------------------------------

def load_custom(path: str | None, text_column: str = "text", label_column: str = "label",
                confound_column: str | None = "confound", confound_rule: str | None = None,
                seed: int = 2021, options: dict | None = None) -> ConfoundedDataset:
    """A ConfoundedDataset from the user's files (see the module docstring); DataError on bad input.

    Every row is read and checked before anything is returned.
    """
    if not path:
        raise DataError("a custom dataset needs a path (a .csv/.jsonl file, a directory of split files, "
                        "or hf:NAME)", field="path")
    opts = parse_options(CustomOptions, options or {}, "custom")
    rule = parse_rule(confound_rule) if confound_rule else None
    if rule is None and not confound_column:
        raise DataError("a custom dataset needs a confound: its column (confound_column) or a confound_rule",
                        field="confound_column")
    confound_field = "confound_rule" if rule else confound_column

    parts = read_parts(path)
    columns = [text_column, label_column] + ([] if rule else [confound_column])
    for part in parts:
        part.table.require(columns)
    rows = [(part.table, line, record) for part in parts for line, record in part.table.rows]
    if not rows:
        raise DataError("no data rows", file=path)

    texts = [cell(table, line, record, text_column) for table, line, record in rows]
    labels, label_names = index_values(class_cells(rows, label_column))
    if rule:
        confounds, confound_names = rule.values(texts), list(rule.names)
    else:
        confounds, confound_names = index_values(class_cells(rows, confound_column))

    counterfactuals = read_counterfactuals(rows, texts, opts.counterfactual_column)
    splits = np.array(row_splits(parts, opts.split_column), dtype=object)
    warnings: list[str] = []
    carved = carve_missing(splits, labels * len(confound_names) + confounds, opts, seed, warnings)
    train_file = next((p.table.file for p in parts if p.split == "train"), parts[0].table.file)
    if rule:
        rule.check(confounds[splits == "train"], train_file)
    by_split = {name: np.flatnonzero(splits == name) for name in SPLITS}
    for name, index in by_split.items():
        if len(index) == 0:
            raise DataError(f"the {name} split is empty ({len(rows)} rows in all)", file=path)
    data = {name: Split([texts[i] for i in index], labels[index], confounds[index])
            for name, index in by_split.items()}
    # The confound-free copy and the counterfactual: the files' own column first, else the rule's stripping.
    without = counterfactuals.__getitem__ if counterfactuals else rule.remove if rule else None
    control = ({name: Split([without(t) for t in s.texts], s.labels.copy(), s.confounds.copy())
                for name, s in data.items()} if without else None)
    confound_source = f"rule {rule.rule}" if rule else f"column '{confound_column}'"
    dataset = ConfoundedDataset(
        name="custom", label_names=label_names, confound_names=confound_names,
        train=data["train"], dev=data["dev"], test=data["test"],
        control=control, counterfactual=(lambda text: counterfactuals.get(text, text)) if counterfactuals else without,
        description=f"{path}: label from column '{label_column}', confound from {confound_source}"
                    + (f"; {' and '.join(carved)} carved from train" if carved else "") + ".",
        meta={"source": path, "confound_source": confound_source, "carved": carved, "warnings": warnings,
              "counterfactual_source": (f"column '{opts.counterfactual_column}'" if counterfactuals
                                        else f"rule {rule.rule}" if rule else None)},
    )
    check_dataset(dataset, train_file, label_column, confound_field)
    return dataset
