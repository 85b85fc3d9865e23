"""A job's cost before it is launched, and a dry run of its validation (the submit form uses both).

    POST /api/jobs/estimate   body: a job spec, as for POST /api/jobs; nothing is queued

(backend.services.estimate counts the work and calibrates the seconds.)
"""
from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from backend.api.deps import BODY_413, get_session, get_settings
from backend.api.jobs import INVALID_422, REJECTED_400
from backend.services import estimate as service
from backend.settings import Settings
from jobs.contracts.api import Estimate
from jobs.spec import JobSpec

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


@router.post("/estimate", response_model=Estimate, responses={**REJECTED_400, **INVALID_422, **BODY_413})
def estimate_job(spec: JobSpec, session: Session = Depends(get_session),
                 settings: Settings = Depends(get_settings)) -> Estimate:
    """Validate a job spec exactly as a submission would, and estimate its cost; queues nothing."""
    return service.estimate(spec, session, settings)
