"""The numbers of the paper's Table 1 for any ConfoundedDataset: sizes, groups, and how often the
spurious attribute "succeeds" (agrees with the label) in each split."""
from __future__ import annotations

import numpy as np

from jobs.data.dataset import ConfoundedDataset, Split


def group_counts(split: Split, num_labels: int, num_confounds: int) -> np.ndarray:
    """Examples per group: int64 array [num_labels, num_confounds], entry [y, c] = #(label y, confound c)."""
    counts = np.zeros((num_labels, num_confounds), dtype=np.int64)
    np.add.at(counts, (split.labels, split.confounds), 1)
    return counts


def confound_to_label(train: Split, num_labels: int, num_confounds: int) -> np.ndarray:
    """The label each confound value predicts by majority vote in train (ties: the lower label),
    int64 [num_confounds]. With a binary label and confound it is the identity: value c
    predicts label c, as in Table 1 (prefix "Positive ." = class 1, "the" first = class 1)."""
    if num_labels == 2 and num_confounds == 2:
        return np.arange(2, dtype=np.int64)
    return group_counts(train, num_labels, num_confounds).argmax(axis=0)


def agreement(split: Split, mapping: np.ndarray) -> float:
    """Share of `split` whose label is the one its confound value predicts under `mapping`
    (Table 1's "spurious attribute success rate"); NaN for an empty split."""
    if len(split) == 0:
        return float("nan")
    return float(np.mean(mapping[split.confounds] == split.labels))


def dataset_stats(dataset: ConfoundedDataset) -> dict:
    """Table 1 for `dataset`, JSON-ready.

    Per split: size, agreement (binary label and confound: P(confound == label); otherwise the
    accuracy of predicting the label from the confound by train's majority vote) and group
    counts {"label/confound": n} keyed by indices into label_names / confound_names. Also the
    names, whether a no-confound control and a counterfactual exist, and how many training
    examples' confounds the methods may read.
    """
    n_labels, n_confounds = dataset.num_labels, dataset.num_confounds
    mapping = confound_to_label(dataset.train, n_labels, n_confounds)
    splits = {}
    for name, split in dataset.splits().items():
        counts = group_counts(split, n_labels, n_confounds)
        splits[name] = {"size": len(split), "agreement": agreement(split, mapping),
                        "groups": {f"{y}/{c}": int(counts[y, c]) for y in range(n_labels) for c in range(n_confounds)}}
    return {
        "name": dataset.name,
        "description": dataset.description,
        "label_names": list(dataset.label_names),
        "confound_names": list(dataset.confound_names),
        "splits": splits,
        "has_control": dataset.control is not None,
        "has_counterfactual": dataset.counterfactual is not None,
        "confound_access": len(dataset.access_index()),
    }
