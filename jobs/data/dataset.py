"""The one dataset type every source produces: splits of (text, label, confound).

A label is the task's class; a confound is the value of the spurious attribute (the
prefix token, the article order, an identity word). Both are small non-negative ints that
index `label_names` / `confound_names`. A *group* is the pair (label, confound).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


class DataError(ValueError):
    """Bad input, said in one line naming the file, row and field where they are known."""

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 field: str | None = None):
        where = ", ".join(p for p in (
            f"{file}" if file else None,
            f"row {row}" if row is not None else None,
            f"field '{field}'" if field else None,
        ) if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.file, self.row, self.field = file, row, field


@dataclass(frozen=True)
class Split:
    """One split: texts[i] has class labels[i] and confound value confounds[i].

    labels, confounds: int64 arrays of shape [N].
    """

    texts: list[str]
    labels: np.ndarray
    confounds: np.ndarray

    def __post_init__(self):
        n = len(self.texts)
        if self.labels.shape != (n,) or self.confounds.shape != (n,):
            raise ValueError(f"split arrays disagree: {n} texts, labels {self.labels.shape}, "
                             f"confounds {self.confounds.shape}")

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index) -> Split:
        index = np.asarray(index, dtype=np.int64)
        return Split([self.texts[i] for i in index], self.labels[index], self.confounds[index])


@dataclass
class ConfoundedDataset:
    """Train/dev/test splits plus what the methods and the evaluation need to know.

    control: the no-confound variant of each split (same texts with the confound removed),
        where one exists (TextLen's no-prefix control); None otherwise.
    counterfactual: text -> text with the confound swapped or removed (TextLen swaps
        "Positive ." <-> "Negative ."; a token rule removes the token); None if undefined.
        Used for the counterfactual flip rate.
    access: indices into train whose confound value the methods may use (the paper's
        Table 3 confound access rate); None means all of train.
    """

    name: str
    label_names: list[str]
    confound_names: list[str]
    train: Split
    dev: Split
    test: Split
    control: dict[str, Split] | None = None
    counterfactual: Callable[[str], str] | None = None
    access: np.ndarray | None = None
    description: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    @property
    def num_confounds(self) -> int:
        return len(self.confound_names)

    def splits(self) -> dict[str, Split]:
        return {"train": self.train, "dev": self.dev, "test": self.test}

    def access_index(self) -> np.ndarray:
        """Indices of training examples whose confound the methods may read, shape [M]."""
        if self.access is None:
            return np.arange(len(self.train))
        return self.access

    def without_confounds(self) -> ConfoundedDataset:
        """A view with every confound value hidden (all zeros, one confound name).

        Methods that must not see confound labels (NeuronTune) get this view."""
        def blank(s: Split) -> Split:
            return Split(list(s.texts), s.labels.copy(), np.zeros(len(s), dtype=np.int64))
        return ConfoundedDataset(
            name=self.name, label_names=list(self.label_names), confound_names=["hidden"],
            train=blank(self.train), dev=blank(self.dev), test=blank(self.test),
            control=None, counterfactual=None, access=None, description=self.description,
            meta=dict(self.meta))
