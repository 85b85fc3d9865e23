"""What every dataset must offer before a method may use it, checked once at load time.

Training needs two or more classes; the diagnostics (CID) and the deconfounding methods need,
for every class, examples with at least two confound values: a probe's A group (same label,
same confound) and its B group (same label, other confound). A split without B groups would
only fail later, deep inside a run, so it is refused here in one line.
"""
from __future__ import annotations

import numpy as np

from jobs.data.dataset import ConfoundedDataset, DataError


def check_dataset(dataset: ConfoundedDataset, file: str | None = None, label_field: str = "label",
                  confound_field: str = "confound") -> None:
    """Raise DataError unless every split has rows and train has both groups for every label.

    file, label_field, confound_field: where the values came from, for the message.
    """
    for name, split in dataset.splits().items():
        if len(split) == 0:
            raise DataError(f"the {name} split is empty", file=file)
    train = dataset.train
    labels = np.unique(train.labels)
    if len(labels) < 2:
        raise DataError(f"the label has one class in train ('{dataset.label_names[labels[0]]}'); "
                        "a classifier needs at least two", file=file, field=label_field)
    confounds = np.unique(train.confounds)
    if len(confounds) < 2:
        raise DataError(f"the confound has one value in train ('{dataset.confound_names[confounds[0]]}'); "
                        "there is nothing to deconfound", file=file, field=confound_field)
    for label in labels:
        values = np.unique(train.confounds[train.labels == label])
        if len(values) < 2:
            raise DataError(f"every train example of label '{dataset.label_names[label]}' has confound "
                            f"'{dataset.confound_names[values[0]]}': no B group (same label, other confound) "
                            "exists", file=file, field=confound_field)
