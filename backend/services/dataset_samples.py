"""A few rows of each (label, confound) group of a dataset, to see what the confound looks like.

`name` is a built-in dataset (at its default options) or "upload:<id>" of an uploaded file.
Rows are the first ones of each group in the split's own order, so the answer is stable.
"""
from __future__ import annotations

import numpy as np
from pydantic import ValidationError
from sqlalchemy.orm import Session

from backend.services.catalogue import job_dataset
from backend.services.errors import NotFound, Rejected
from backend.services.submission import CUSTOM, UPLOAD_PREFIX, check_spec, in_one_line
from backend.settings import Settings
from jobs.contracts.api import SampleGroup, SampleRow, SamplesOut
from jobs.spec import JobSpec


def _spec(name: str, settings: Settings, session: Session) -> JobSpec:
    """A spec of the dataset `name`, checked as a submission would be: NotFound for an upload that
    is not there, Rejected for an unknown dataset."""
    upload = name.startswith(UPLOAD_PREFIX)
    try:
        return check_spec({"dataset": {"name": CUSTOM, "path": name} if upload else {"name": name}},
                          settings.data_dir, session)
    except Rejected as error:
        raise (NotFound if upload else Rejected)(str(error)) from None
    except ValidationError as error:
        raise Rejected(in_one_line(error)) from None


def samples(session: Session, settings: Settings, name: str, split: str, per_group: int) -> SamplesOut:
    """The first `per_group` rows of every (label, confound) group of one split."""
    dataset = job_dataset(_spec(name, settings, session).model_dump(mode="json"), settings.data_dir)
    if dataset is None:
        raise Rejected(f"dataset '{name}' could not be loaded")
    splits = dataset.splits()
    if split not in splits:
        raise Rejected(f"unknown split '{split}'; valid: {', '.join(splits)}")
    rows = splits[split]
    groups = []
    for label, label_name in enumerate(dataset.label_names):
        for confound, confound_name in enumerate(dataset.confound_names):
            members = np.flatnonzero((rows.labels == label) & (rows.confounds == confound))
            groups.append(SampleGroup(label=label_name, confound=confound_name, count=len(members),
                                      rows=[SampleRow(index=int(i), text=rows.texts[i]) for i in members[:per_group]]))
    return SamplesOut(dataset=name, split=split, label_names=list(dataset.label_names),
                      confound_names=list(dataset.confound_names), groups=groups)
