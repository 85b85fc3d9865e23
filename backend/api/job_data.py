"""A job's data: training curves, CID points, influence lists, final results, log lines (routes
over backend.services.job_data). The large answers are serialised by pydantic directly (no second
validation pass): a 100k-point series stays quick.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from backend.api.deps import MAX_INT, Id, Step, get_session, get_settings
from backend.services import job_data as service
from backend.settings import Settings
from jobs.contracts.api import CidOut, InfluenceOut, LogOut, MetricsOut, ResultsOut
from jobs.contracts.enums import CID_PHASES

router = APIRouter(prefix="/api/jobs", tags=["job data"])


def _json(model) -> Response:
    return Response(content=model.model_dump_json(), media_type="application/json")


@router.get("/{job_id}/metrics", response_model=MetricsOut, responses={404: {"description": "no such job"}})
def read_metrics(job_id: Id,
                 name: list[str] | None = Query(None, description="scalar names (repeat the parameter); all if absent"),
                 since_step: int | None = Query(None, ge=-MAX_INT - 1, le=MAX_INT,
                                                  description="only points after this step (incremental polling)"),
                 max_points: int | None = Query(None, ge=2, le=1_000_000,
                                                description="thin each series to about this many points"),
                 session: Session = Depends(get_session)) -> Response:
    """Training curves (loss/train, acc/dev, ...) by name."""
    return _json(service.metrics(session, job_id, name, since_step, max_points))


@router.get("/{job_id}/cid", response_model=CidOut,
            responses={404: {"description": "no such job"}, 400: {"description": "an unknown phase"}})
def read_cid(job_id: Id, phase: str | None = Query(None, description=f"one of {', '.join(CID_PHASES)}"),
             since_step: Step | None = None, session: Session = Depends(get_session)) -> Response:
    """CID points in recording order, each with its phase (live, pre-round, post-round, final)."""
    return _json(service.cid_points(session, job_id, phase, since_step))


@router.get("/{job_id}/influence", response_model=InfluenceOut,
            responses={404: {"description": "no lists recorded for this probe / step (names those that are)"}})
def read_influence(job_id: Id, probe: int | None = Query(None, ge=0, le=MAX_INT,
                                                               description="default: the first probe recorded"),
                   step: int | None = Query(None, ge=0, le=MAX_INT, description="default: the latest step recorded"),
                   phase: str | None = Query(None, description="live | pre-round | post-round | final; default: "
                                                               "the step's latest (post-round at a round's step)"),
                   k: int = Query(5, ge=0, le=100, description="top examples of each group, with their text"),
                   session: Session = Depends(get_session),
                   settings: Settings = Depends(get_settings)) -> Response:
    """A probe's A and B influence score lists at a step (Figure 1), and the top-k training examples."""
    return _json(service.influence(session, settings.data_dir, job_id, probe, step, phase, k))


@router.get("/{job_id}/results", response_model=ResultsOut, responses={404: {"description": "no such job"}})
def read_results(job_id: Id, session: Session = Depends(get_session)) -> ResultsOut:
    """Final metrics: accuracy per split, per (label|confound) group and of the worst group; CID;
    the saved model. Empty until the job has finished."""
    return service.results(session, job_id)


@router.get("/{job_id}/logs", response_model=LogOut, responses={404: {"description": "no such job"}})
def read_logs(job_id: Id, session: Session = Depends(get_session)) -> LogOut:
    """The engine's event lines (trial started, round started, collapsed...)."""
    return service.logs(session, job_id)

