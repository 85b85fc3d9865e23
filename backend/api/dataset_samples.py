"""A few rows of each (label, confound) group of a dataset, to see what the confound looks like.

    GET /api/datasets/{name}/samples?split=train&per_group=3

`name` is a built-in dataset (at its default options) or "upload:<id>" of an uploaded file.
Rows are the first ones of each group in the split's own order, so the answer is stable.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from backend.api.deps import get_session, get_settings
from backend.services.dataset_samples import samples
from backend.settings import Settings
from jobs.contracts.api import SamplesOut

router = APIRouter(prefix="/api/datasets", tags=["catalogue"])


@router.get("/{name}/samples", response_model=SamplesOut,
            responses={400: {"description": "unknown dataset or split"}, 404: {"description": "no such upload"}})
def dataset_samples(name: str, split: str = Query("train", description="train, dev or test"),
                    per_group: int = Query(3, ge=1, le=50), session: Session = Depends(get_session),
                    settings: Settings = Depends(get_settings)) -> SamplesOut:
    """The first `per_group` rows of every (label, confound) group of one split."""
    return samples(session, settings, name, split, per_group)
