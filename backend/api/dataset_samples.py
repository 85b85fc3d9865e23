"""A few rows of each (label, confound) group of a dataset, to see what the confound looks like.

    GET /api/datasets/{name}/samples?split=train&per_group=3

`name` is a built-in dataset (at its default options) or "upload:<id>" of an uploaded file.
Rows are the first ones of each group in the split's own order, so the answer is stable.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import ValidationError
from sqlalchemy.orm import Session

from backend.api.deps import get_session, get_settings
from backend.services.catalogue import job_dataset
from backend.services.submission import CUSTOM, UPLOAD_PREFIX, Rejected, check_spec, in_one_line
from backend.settings import Settings
from jobs.contracts.api import SampleGroup, SampleRow, SamplesOut

router = APIRouter(prefix="/api/datasets", tags=["catalogue"])


@router.get("/{name}/samples", response_model=SamplesOut,
            responses={400: {"description": "unknown dataset or split"}, 404: {"description": "no such upload"}})
def dataset_samples(name: str, split: str = Query("train", description="train, dev or test"),
                    per_group: int = Query(3, ge=1, le=50), session: Session = Depends(get_session),
                    settings: Settings = Depends(get_settings)) -> SamplesOut:
    """The first `per_group` rows of every (label, confound) group of one split."""
    dataset_spec: dict[str, Any] = ({"name": CUSTOM, "path": name} if name.startswith(UPLOAD_PREFIX)
                                    else {"name": name})
    try:
        spec = check_spec({"dataset": dataset_spec}, settings.data_dir, session)
    except Rejected as error:
        code = status.HTTP_404_NOT_FOUND if name.startswith(UPLOAD_PREFIX) else status.HTTP_400_BAD_REQUEST
        raise HTTPException(code, str(error)) from None
    except ValidationError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, in_one_line(error)) from None
    dataset = job_dataset(spec.model_dump(mode="json"), settings.data_dir)
    if dataset is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"dataset '{name}' could not be loaded")
    splits = dataset.splits()
    if split not in splits:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"unknown split '{split}'; valid: {', '.join(splits)}")
    rows = splits[split]
    groups = []
    for label, label_name in enumerate(dataset.label_names):
        for confound, confound_name in enumerate(dataset.confound_names):
            members = np.flatnonzero((rows.labels == label) & (rows.confounds == confound))
            groups.append(SampleGroup(label=label_name, confound=confound_name, count=len(members),
                                      rows=[SampleRow(index=int(i), text=rows.texts[i]) for i in members[:per_group]]))
    return SamplesOut(dataset=name, split=split, label_names=list(dataset.label_names),
                      confound_names=list(dataset.confound_names), groups=groups)
