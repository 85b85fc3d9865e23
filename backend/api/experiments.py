"""Experiments: a grid of jobs, and its Table 2."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.api.deps import get_session, get_settings, require_token
from backend.api.jobs import checked_spec, new_job
from backend.api.schemas import ExperimentIn, ExperimentOut, TableOut, TableRow
from backend.experiments import GridTooLarge, expand_grid, table_rows
from backend.models import Experiment, Job, utcnow
from backend.settings import Settings

router = APIRouter(prefix="/api/experiments", tags=["experiments"])


def experiment_out(session: Session, experiment: Experiment) -> ExperimentOut:
    job_ids = list(session.scalars(select(Job.id).where(Job.experiment_id == experiment.id).order_by(Job.id)))
    counts = dict(session.execute(select(Job.status, func.count()).where(Job.experiment_id == experiment.id)
                                  .group_by(Job.status)).all())
    return ExperimentOut(id=experiment.id, name=experiment.name, grid=experiment.grid,
                         created_at=experiment.created_at, job_ids=job_ids, status_counts=counts)


def get_experiment(session: Session, experiment_id: int) -> Experiment:
    experiment = session.get(Experiment, experiment_id)
    if experiment is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no experiment {experiment_id}")
    return experiment


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ExperimentOut,
             dependencies=[Depends(require_token)],
             responses={400: {"description": "an unknown choice in some expanded job, or too many jobs"},
                        422: {"description": "a malformed grid, or an expanded job spec that is (located by "
                                             "its index in the expansion)"}})
def create_experiment(request: ExperimentIn, session: Session = Depends(get_session),
                      settings: Settings = Depends(get_settings)) -> ExperimentOut:
    """Expand methods x seeds x datasets x hyperparameter values into queued jobs (all or none)."""
    try:
        expanded = expand_grid(request.base, request.methods, request.seeds, request.datasets, request.grid)
    except GridTooLarge as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
    specs = []
    for index, (raw, params) in enumerate(expanded):
        try:
            specs.append((checked_spec(raw, settings, session, prefix=("body", "expanded", index)), params))
        except HTTPException as error:
            raise HTTPException(error.status_code, f"job {index} of the grid ({params or 'base'}, method "
                                                   f"{raw.get('method')}, seed {raw.get('seed')}): {error.detail}") from None
    experiment = Experiment(name=request.name, grid=request.model_dump(mode="json"), created_at=utcnow())
    session.add(experiment)
    session.flush()
    session.add_all(new_job(spec, experiment.id, params) for spec, params in specs)
    session.commit()
    return experiment_out(session, experiment)


@router.get("", response_model=list[ExperimentOut])
def list_experiments(session: Session = Depends(get_session)) -> list[ExperimentOut]:
    return [experiment_out(session, e) for e in session.scalars(select(Experiment).order_by(Experiment.id.desc()))]


@router.get("/{experiment_id}", response_model=ExperimentOut)
def read_experiment(experiment_id: int, session: Session = Depends(get_session)) -> ExperimentOut:
    return experiment_out(session, get_experiment(session, experiment_id))


@router.get("/{experiment_id}/table", response_model=TableOut)
def experiment_table(experiment_id: int, session: Session = Depends(get_session)) -> TableOut:
    """Table 2: per dataset, method and hyperparameters, test accuracy mean +- std over seeds,
    Welch's t-test p-value against finetuning, per-group and worst-group accuracy. Only
    succeeded jobs count; `finished` says how many."""
    get_experiment(session, experiment_id)
    jobs = session.scalars(select(Job).where(Job.experiment_id == experiment_id)).all()
    rows = table_rows([{"dataset": j.dataset, "method": j.method, "params": j.params, "status": j.status,
                        "metrics": j.metrics} for j in jobs])
    return TableOut(experiment_id=experiment_id, rows=[TableRow(**row) for row in rows])
