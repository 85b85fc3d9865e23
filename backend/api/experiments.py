"""Experiments: grids of jobs (comparisons, sweeps, the paper's protocol), their progress and
their Table 2 with model selection on dev."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.api.deps import get_session, get_settings, require_token
from backend.api.jobs import checked_spec, new_job
from backend.api.schemas import (
    CidTrajectoriesOut,
    ExperimentIn,
    ExperimentOut,
    ExperimentProgress,
    ProtocolOut,
    ReproduceIn,
    ReproducePreview,
    ScaleOut,
    SearchSpaceOut,
    TableOut,
    TableRow,
)
from backend.experiments import (
    GridTooLarge,
    access_rate,
    cid_trajectories,
    estimated_seconds,
    expand_request,
    experiment_progress,
    table_rows,
)
from backend.models import CidPoint, Experiment, Job, utcnow
from backend.reuse import finished_twin, reuse_finished
from backend.settings import Settings
from jobs.presets import ACCESS_RATE_METHODS, PROTOCOL_METHODS, SCALES, SEARCH_SPACES
from jobs.spec import JobSpec

router = APIRouter(prefix="/api/experiments", tags=["experiments"])


def experiment_kind(experiment: Experiment) -> str:
    """Stored in the grid JSON (experiments made before kinds existed are comparisons)."""
    return (experiment.grid or {}).get("kind") or "compare"


def experiment_out(session: Session, experiment: Experiment) -> ExperimentOut:
    jobs = session.execute(select(Job.id, Job.status, Job.method, Job.wall_s, Job.worker_id, Job.eta_s)
                           .where(Job.experiment_id == experiment.id).order_by(Job.id)).all()
    counts = dict(Counter(job.status for job in jobs))
    progress = experiment_progress([job._asdict() for job in jobs], estimated_seconds(experiment.grid))
    return ExperimentOut(id=experiment.id, name=experiment.name, kind=experiment_kind(experiment),
                         grid=experiment.grid, created_at=experiment.created_at, job_ids=[j.id for j in jobs],
                         status_counts=counts, progress=ExperimentProgress(**progress))


def get_experiment(session: Session, experiment_id: int) -> Experiment:
    experiment = session.get(Experiment, experiment_id)
    if experiment is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no experiment {experiment_id}")
    return experiment


def add_experiment(session: Session, request: ExperimentIn,
                   check: Callable[[dict, int, dict], JobSpec]) -> Experiment:
    """Expand the request, check every job with check(raw spec, index, grid point) (which raises
    on a bad one), then add the experiment and its queued jobs (all or none; the caller commits);
    with request.reuse, jobs identical to succeeded ones are copies of those instead (backend.reuse).
    Raises GridTooLarge for too many jobs."""
    expanded = expand_request(request.resolved_parts(), request.kind)
    specs = [(check(raw, index, params), params) for index, (raw, params) in enumerate(expanded)]
    experiment = Experiment(name=request.name, grid=request.settings(), created_at=utcnow())
    session.add(experiment)
    session.flush()
    jobs = [new_job(spec, experiment.id, params) for spec, params in specs]
    session.add_all(jobs)
    if request.reuse:
        session.flush()
        reuse_finished(session, jobs)
    return experiment


def _create(request: ExperimentIn, session: Session, settings: Settings) -> ExperimentOut:
    def check(raw: dict, index: int, params: dict) -> JobSpec:
        try:
            return checked_spec(raw, settings, session, prefix=("body", "expanded", index))
        except HTTPException as error:
            raise HTTPException(error.status_code, f"job {index} of the grid ({params or 'base'}, method "
                                                   f"{raw.get('method')}, seed {raw.get('seed')}): {error.detail}") from None

    try:
        experiment = add_experiment(session, request, check)
    except GridTooLarge as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
    session.commit()
    return experiment_out(session, experiment)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ExperimentOut,
             dependencies=[Depends(require_token)],
             responses={400: {"description": "too many jobs, or an expanded job this server cannot run (as "
                                             "POST /api/jobs: a model, file or upload that is not there, no round)"},
                        422: {"description": "a malformed grid, or an expanded job spec JobSpec refuses (an unknown "
                                             "dataset, method or preset among them), located by its index in the "
                                             "expansion"}})
def create_experiment(request: ExperimentIn, session: Session = Depends(get_session),
                      settings: Settings = Depends(get_settings)) -> ExperimentOut:
    """Expand methods x seeds x datasets x hyperparameter values (and each part's grid) into queued
    jobs (all or none). kind "sweep" marks the best grid point per (dataset, method) by mean dev
    accuracy in the table."""
    return _create(request, session, settings)


@router.post("/reproduce", status_code=status.HTTP_201_CREATED, response_model=ExperimentOut,
             dependencies=[Depends(require_token)],
             responses={400: {"description": "an access rate outside (0, 100], a method outside the protocol, "
                                             "a model the server cannot load, or too many jobs"}})
def create_reproduction(request: ReproduceIn, session: Session = Depends(get_session),
                        settings: Settings = Depends(get_settings)) -> ExperimentOut:
    """The paper's protocol on one dataset as one experiment: every Table-2 method (TextLen: also
    the no-confound control) at the scale's seeds with the paper presets and collapsed trials
    retried, plus influence and embedding tuning at each access rate (Table 3). The request
    made is stored as the experiment's grid (kind "reproduce")."""
    from backend.protocols import reproduce_request  # it builds on this package's schemas

    try:
        built = reproduce_request(request.dataset, request.scale, request.seeds, request.access_rates, request.name,
                                  methods=request.methods, reuse=request.reuse)
    except ValueError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
    return _create(built, session, settings)


@router.post("/reproduce/preview", response_model=ReproducePreview,
             responses={400: {"description": "an access rate outside (0, 100], a method outside the protocol, "
                                             "or too many jobs"}})
def preview_reproduction(request: ReproduceIn, session: Session = Depends(get_session),
                         settings: Settings = Depends(get_settings)) -> ReproducePreview:
    """The job count and estimated wall time of a reproduction, without queueing it (the
    dashboard shows it before launch); with reuse, how many jobs would be copies of finished ones."""
    from backend.protocols import reproduce_request

    try:
        built = reproduce_request(request.dataset, request.scale, request.seeds, request.access_rates, request.name,
                                  methods=request.methods, reuse=request.reuse)
        expanded = expand_request(built.resolved_parts(), built.kind)
    except (ValueError, GridTooLarge) as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
    jobs = []
    for index, (raw, _) in enumerate(expanded):
        twin = finished_twin(session, new_job(checked_spec(raw, settings, session, ("body", "expanded", index)))) \
            if request.reuse else None
        jobs.append({"status": "succeeded" if twin else "queued", "method": raw["method"], "worker_id": None,
                     "wall_s": twin.wall_s if twin else None})
    # The ETA at launch: copies count as finished jobs (their walls calibrate the estimates).
    progress = experiment_progress(jobs, estimated_seconds(built.model_dump(mode="json")))
    return ReproducePreview(name=built.name, jobs=len(expanded), seeds=built.seeds, estimated_s=progress["eta_s"],
                            jobs_by_method=dict(Counter(job["method"] for job in jobs)),
                            reused=sum(job["status"] == "succeeded" for job in jobs))


@router.get("/search-spaces", response_model=list[SearchSpaceOut])
def list_search_spaces() -> list[SearchSpaceOut]:
    """Named sweep grids: the paper's search spaces (its Appendix A) per dataset and method."""
    out = []
    for key, grid in SEARCH_SPACES.items():
        dataset, method = key.split("/")
        points = 1
        for values in grid.values():
            points *= len(values)
        out.append(SearchSpaceOut(name="paper", dataset=dataset, method=method, grid=grid, points=points))
    return out


@router.get("/protocols", response_model=list[ProtocolOut])
def list_protocols() -> list[ProtocolOut]:
    """The datasets a reproduction runs on, with their Table-2 and Table-3 methods."""
    return [ProtocolOut(dataset=dataset, methods=list(methods),
                        access_rate_methods=[m for m in ACCESS_RATE_METHODS if m in methods])
            for dataset, methods in PROTOCOL_METHODS.items()]


@router.get("/scales", response_model=list[ScaleOut])
def list_scales() -> list[ScaleOut]:
    """The scales a reproduction runs at (model, seeds, estimated minutes per job)."""
    return [ScaleOut(name=name, description=scale["description"], model=scale["model"], seeds=scale["seeds"],
                     minutes=scale["minutes"]) for name, scale in SCALES.items()]


@router.get("", response_model=list[ExperimentOut])
def list_experiments(session: Session = Depends(get_session)) -> list[ExperimentOut]:
    """Every experiment, newest first, with its progress."""
    return [experiment_out(session, e) for e in session.scalars(select(Experiment).order_by(Experiment.id.desc()))]


@router.get("/{experiment_id}", response_model=ExperimentOut)
def read_experiment(experiment_id: int, session: Session = Depends(get_session)) -> ExperimentOut:
    return experiment_out(session, get_experiment(session, experiment_id))


def job_rows(session: Session, experiment_id: int) -> list[dict]:
    """The experiment's jobs as table_rows wants them."""
    jobs = session.scalars(select(Job).where(Job.experiment_id == experiment_id)).all()
    return [{"dataset": j.dataset, "method": j.method, "params": j.params, "status": j.status, "spec": j.spec,
             "metrics": j.metrics} for j in jobs]


@router.get("/{experiment_id}/table", response_model=TableOut)
def experiment_table(experiment_id: int, session: Session = Depends(get_session)) -> TableOut:
    """Table 2: per dataset, method, hyperparameters and access rate, test accuracy mean +- std
    over seeds, Welch's t-test p-value against finetuning, per-group and worst-group accuracy,
    dev accuracy, flip rate and CID. Only succeeded jobs count; `finished` says how many.
    `selected_rows`: per (dataset, method, access rate) the row with the best mean dev accuracy
    (a sweep's result; Table 3 is the selected rows of influence and embedding tuning by rate)."""
    experiment = get_experiment(session, experiment_id)
    rows = [TableRow(**row) for row in table_rows(job_rows(session, experiment_id))]
    return TableOut(experiment_id=experiment_id, kind=experiment_kind(experiment), rows=rows,
                    selected_rows=[row for row in rows if row.selected])


def cid_rows(session: Session, experiment_id: int) -> list[dict]:
    """Figure 3 of the experiment: cid_trajectories over its succeeded full-access jobs, a sweep's
    grid points apart."""
    jobs = {j.id: j for j in session.scalars(select(Job).where(Job.experiment_id == experiment_id,
                                                               Job.status == "succeeded"))
            if access_rate({"spec": j.spec, "params": j.params}) >= 1.0}
    if not jobs:
        return []
    points = session.execute(select(CidPoint.job_id, CidPoint.attempt, CidPoint.step, CidPoint.phase, CidPoint.value)
                             .where(CidPoint.job_id.in_(list(jobs)))).all()
    return cid_trajectories([{"dataset": jobs[p.job_id].dataset, "method": _run_label(jobs[p.job_id]),
                              "job_id": p.job_id, "step": p.step, "phase": p.phase, "value": p.value}
                             for p in points if p.attempt == jobs[p.job_id].attempt])


def _run_label(job: Job) -> str:
    """The method, and a sweep's grid point after it ("finetune train.lr=2e-05"), as Table 2 names rows."""
    params = {k: v for k, v in (job.params or {}).items() if k != "dataset.access_rate"}
    return job.method + "".join(f" {k}={v}" for k, v in sorted(params.items()))


@router.get("/{experiment_id}/cid", response_model=CidTrajectoriesOut)
def experiment_cid(experiment_id: int, session: Session = Depends(get_session)) -> CidTrajectoriesOut:
    """Figure 3 as numbers: each method's mean CID over its succeeded full-access jobs at every
    label step and phase (live; before and after each influence round; final). Per-job curves:
    GET /api/jobs/{id}/cid."""
    get_experiment(session, experiment_id)
    return CidTrajectoriesOut(experiment_id=experiment_id, rows=cid_rows(session, experiment_id))
