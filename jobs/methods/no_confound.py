"""The no-confound control (the paper's "no spurious" upper bound): finetuning on the copy of
the data with the confound removed (TextLen without its prefix).

Its CID is still measured with the original train's labels and confound groups, on the texts it
trains on, so its curve sits beside finetuning's (Figure 3). It is evaluated on the control's
dev and test ("test" and "control_test") and, for comparison, on the confounded test
("confounded_test").
"""
from __future__ import annotations

from jobs.contracts.enums import MethodName
from jobs.data.dataset import ConfoundedDataset, DataError, Split
from jobs.methods.loop import Method

NO_CONTROL = ("the no-confound control needs the data without its confound, and {name} has none: give your files "
              "a 'counterfactual' column (each text with the confound swapped or removed), or use a confound rule "
              "(token:WORD or regex:PATTERN), which is stripped; TextLen has one built in")


def control_splits(data: ConfoundedDataset) -> dict[str, Split]:
    """The dataset's no-confound variant, by split name; a one-line DataError where there is none
    (the runner asks before the model loads, and submission before the job is queued)."""
    if not data.control or any(name not in data.control for name in ("train", "dev", "test")):
        raise DataError(NO_CONTROL.format(name=f"dataset '{data.name}'"), field="method")
    return data.control


class NoConfound(Method):
    """Finetuning on the control splits."""

    name = MethodName.NO_CONFOUND

    def training_split(self, data: ConfoundedDataset) -> Split:
        return control_splits(data)["train"]

    def evaluation_splits(self, data: ConfoundedDataset) -> dict[str, Split]:
        control = control_splits(data)
        return {"train": control["train"], "dev": control["dev"], "test": control["test"],
                "control_test": control["test"], "confounded_test": data.test}
