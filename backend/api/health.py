"""Liveness: the database answers, and how many jobs wait and run."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from backend.api.deps import get_session
from backend.services.health import health
from jobs.contracts.catalogue import HealthOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut)
def healthz(session: Session = Depends(get_session)) -> HealthOut:
    return health(session)
