"""The numbers of the paper's Table 1 for any ConfoundedDataset: sizes, groups, and how often the
spurious attribute "succeeds" (agrees with the label) in each split.

"Agrees" has one definition, here, that Table 1, the group names and the agree/disagree
accuracies (jobs.evaluate) all use: `confound_pairing`. It reads the pairing of confound values
with labels off the training data, never off the values' names or their sorted order, so an
upload's labels sports/weather with confounds she/he mean the same as 1/0 with 1/0.
"""
from __future__ import annotations

import numpy as np

from jobs.contracts.datasets import DatasetStats, SplitStats
from jobs.data.dataset import ConfoundedDataset, Split


def group_counts(split: Split, num_labels: int, num_confounds: int) -> np.ndarray:
    """Examples per group: int64 array [num_labels, num_confounds], entry [y, c] = #(label y, confound c)."""
    counts = np.zeros((num_labels, num_confounds), dtype=np.int64)
    np.add.at(counts, (split.labels, split.confounds), 1)
    return counts


def confound_to_label(train: Split, num_labels: int, num_confounds: int) -> np.ndarray:
    """The label each confound value predicts in `train`, int64 [num_confounds].

    Binary label and binary confound: the better of the two one-to-one pairings (confound value
    c with label c, or with label 1 - c), the one under which more of train agrees; a tie keeps
    c with c (TextLen's prefix "Positive ." = class 1, MSGS' adjective = class 1). Otherwise:
    train's majority vote per confound value (ties: the lower label)."""
    counts = group_counts(train, num_labels, num_confounds)
    if num_labels == 2 and num_confounds == 2:
        same, crossed = counts[0, 0] + counts[1, 1], counts[1, 0] + counts[0, 1]
        return np.array([1, 0] if crossed > same else [0, 1], dtype=np.int64)
    return counts.argmax(axis=0)


def confound_pairing(dataset: ConfoundedDataset) -> np.ndarray | None:
    """The one pairing of `dataset`: confound value -> the label it agrees with, int64 [num_confounds]
    (confound_to_label on its train split); None with fewer than two confound values (the
    hidden-confound view: nothing to agree)."""
    if dataset.num_confounds < 2:
        return None
    return confound_to_label(dataset.train, dataset.num_labels, dataset.num_confounds)


def pairing_names(dataset: ConfoundedDataset, mapping: np.ndarray) -> dict[str, str]:
    """The pairing by name, for people: {confound name: label name it agrees with}."""
    return {dataset.confound_names[c]: dataset.label_names[int(y)] for c, y in enumerate(mapping)}


def group_name(label_names: list[str] | None, confound_names: list[str] | None, label: int, confound: int) -> str:
    """A (label, confound) group's name: "<label name>|<confound name>" ("sports|she"); the
    values themselves where names are unknown."""
    return (f"{label_names[label] if label_names else label}|"
            f"{confound_names[confound] if confound_names else confound}")


def agreement(split: Split, mapping: np.ndarray) -> float:
    """Share of `split` whose label is the one its confound value predicts under `mapping`
    (Table 1's "spurious attribute success rate"); NaN for an empty split."""
    if len(split) == 0:
        return float("nan")
    return float(np.mean(mapping[split.confounds] == split.labels))


def split_warnings(dataset: ConfoundedDataset) -> list[str]:
    """What an uploader should know before training: a dev or test split that lacks a
    (label, confound) group train has (its accuracy, and the worst group's, cannot be measured
    there), plus the loader's own warnings (dataset.meta["warnings"]: a file too small for a
    stratified split)."""
    warnings = list(dataset.meta.get("warnings", []))
    n_labels, n_confounds = dataset.num_labels, dataset.num_confounds
    in_train = group_counts(dataset.train, n_labels, n_confounds) > 0
    for name in ("dev", "test"):
        counts = group_counts(getattr(dataset, name), n_labels, n_confounds)
        missing = [group_name(dataset.label_names, dataset.confound_names, y, c)
                   for y in range(n_labels) for c in range(n_confounds) if in_train[y, c] and counts[y, c] == 0]
        if missing:
            warnings.append(f"the {name} split has no rows of group(s) {', '.join(missing)} (label|confound): "
                            f"their accuracy and the worst group's cannot be measured on {name}")
    return warnings


def dataset_stats(dataset: ConfoundedDataset) -> DatasetStats:
    """Table 1 for `dataset` (an agreement over no rows is NaN).

    Per split: size, agreement (the share whose label is the one its confound value is paired
    with: confound_pairing) and group counts {"<label name>|<confound name>": n}. Also the
    names, the pairing by name (`agreement_pairing`: confound name -> label name), warnings
    (split_warnings), whether a no-confound control and a counterfactual exist, and how many
    training examples' confounds the methods may read.
    """
    n_labels, n_confounds = dataset.num_labels, dataset.num_confounds
    mapping = confound_pairing(dataset)
    if mapping is None:
        mapping = confound_to_label(dataset.train, n_labels, n_confounds)
    splits = {}
    for name, split in dataset.splits().items():
        counts = group_counts(split, n_labels, n_confounds)
        splits[name] = SplitStats(size=len(split), agreement=agreement(split, mapping),
                                  groups={group_name(dataset.label_names, dataset.confound_names, y, c): int(counts[y, c])
                                          for y in range(n_labels) for c in range(n_confounds)})
    return DatasetStats(name=dataset.name, description=dataset.description, label_names=list(dataset.label_names),
                        confound_names=list(dataset.confound_names),
                        agreement_pairing=pairing_names(dataset, mapping), splits=splits,
                        warnings=split_warnings(dataset), has_control=dataset.control is not None,
                        has_counterfactual=dataset.counterfactual is not None,
                        confound_access=len(dataset.access_index()))
