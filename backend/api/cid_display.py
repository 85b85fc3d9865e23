"""CID points for display: the means only, thinned on the server for long runs.

    GET /api/jobs/{id}/cid/display?since_step=&max_points=

/cid returns every point with its per-probe values (what a CSV wants; about 1 MB for a
thousand points of 40 probes). A figure needs (step, phase, mean): this reads only those
columns and, past max_points, keeps every k-th live point but every point of the rounds and
the final one, so the drops the rounds make stay visible (jobs.contracts.cid.thin_cid). (Training curves are thinned by
/metrics?max_points.)
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from backend.api.deps import Id, Step, get_session
from backend.services import job_data as service
from jobs.contracts.api import CidDisplayOut

router = APIRouter(prefix="/api/jobs", tags=["job data"])


@router.get("/{job_id}/cid/display", response_model=CidDisplayOut, responses={404: {"description": "no such job"}})
def read_cid_display(job_id: Id, since_step: Step | None = None,
                     max_points: int | None = Query(None, ge=10, le=1_000_000),
                     session: Session = Depends(get_session)) -> Response:
    """Mean CID per point (no per-probe values), thinned to about max_points."""
    out = service.cid_display(session, job_id, since_step, max_points)
    return Response(content=out.model_dump_json(exclude={"points": {"__all__": {"per_probe", "extra"}}}),
                    media_type="application/json")
