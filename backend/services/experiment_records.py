"""Experiments in the store: create one with its jobs (all or none), read it with its progress, and
its jobs as the rows Table 2 and Figure 3 are computed from (backend.services.experiments)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.services.errors import NotFound, Rejected
from backend.services.experiments import (
    JobState,
    RunCidPoint,
    TableJob,
    access_rate,
    cid_trajectories,
    estimated_seconds,
    expand_request,
    experiment_progress,
    table_rows,
)
from backend.services.jobs import checked_spec, new_job
from backend.services.lineage import artifact_parent
from backend.services.protocols import reproduce_request
from backend.services.reuse import finished_twin, reuse_finished
from backend.settings import Settings
from backend.store.models import CidPoint, Experiment, Job, utcnow
from jobs.contracts.api import (
    CidTrajectoryRow,
    ExperimentIn,
    ExperimentOut,
    ReproduceIn,
    ReproducePreview,
    TableOut,
)
from jobs.contracts.enums import ExperimentKind, JobStatus
from jobs.contracts.results import results_of
from jobs.spec import JobSpec


def experiment_kind(experiment: Experiment) -> ExperimentKind:
    """Its column (experiments made before kinds existed are comparisons)."""
    return experiment.kind or ExperimentKind.COMPARE


def experiment_out(session: Session, experiment: Experiment) -> ExperimentOut:
    jobs = session.execute(select(Job.id, Job.status, Job.method, Job.wall_s, Job.worker_id, Job.eta_s)
                           .where(Job.experiment_id == experiment.id).order_by(Job.id)).all()
    counts = dict(Counter(job.status for job in jobs))
    progress = experiment_progress([JobState(status=j.status, method=j.method, wall_s=j.wall_s, worker_id=j.worker_id,
                                             eta_s=j.eta_s) for j in jobs], estimated_seconds(experiment.grid))
    return ExperimentOut(id=experiment.id, name=experiment.name, kind=experiment_kind(experiment),
                         grid=experiment.grid, created_at=experiment.created_at, job_ids=[j.id for j in jobs],
                         status_counts=counts, progress=progress)


def list_experiments(session: Session) -> list[ExperimentOut]:
    """Every experiment, newest first, with its progress."""
    return [experiment_out(session, e) for e in session.scalars(select(Experiment).order_by(Experiment.id.desc()))]


def get_experiment(session: Session, experiment_id: int) -> Experiment:
    experiment = session.get(Experiment, experiment_id)
    if experiment is None:
        raise NotFound(f"no experiment {experiment_id}")
    return experiment


def add_experiment(session: Session, request: ExperimentIn,
                   check: Callable[[dict, int, dict], JobSpec]) -> Experiment:
    """Expand the request, check every job with check(raw spec, index, grid point) (which raises
    on a bad one), then add the experiment and its queued jobs (all or none; the caller commits);
    with request.reuse, jobs identical to succeeded ones are copies of those instead (backend.services.reuse).
    Raises GridTooLarge for too many jobs."""
    expanded = expand_request(request.resolved_parts(), request.kind)
    specs = [(check(raw, index, params), params) for index, (raw, params) in enumerate(expanded)]
    experiment = Experiment(name=request.name, kind=request.kind, grid=request.settings(), created_at=utcnow())
    session.add(experiment)
    session.flush()
    jobs = [new_job(spec, experiment.id, params, parent_job_id=artifact_parent(session, spec))
            for spec, params in specs]
    session.add_all(jobs)
    if request.reuse:
        session.flush()
        reuse_finished(session, jobs)
    return experiment


def create(request: ExperimentIn, session: Session, settings: Settings) -> ExperimentOut:
    """Add the experiment and its queued jobs (all or none) and commit. A job this server refuses
    is named by its index in the expansion, its grid point, method and seed."""
    def check(raw: dict, index: int, params: dict) -> JobSpec:
        try:
            return checked_spec(raw, settings, session, prefix=("body", "expanded", index))
        except Rejected as error:
            raise Rejected(f"job {index} of the grid ({params or 'base'}, method {raw.get('method')}, "
                           f"seed {raw.get('seed')}): {error}") from None

    experiment = add_experiment(session, request, check)
    session.commit()
    return experiment_out(session, experiment)


def job_rows(session: Session, experiment_id: int) -> list[TableJob]:
    """The experiment's jobs as table_rows wants them."""
    jobs = session.scalars(select(Job).where(Job.experiment_id == experiment_id)).all()
    return [TableJob(dataset=j.dataset, method=j.method, params=j.params or {}, status=j.status, spec=j.spec,
                     metrics=results_of(j.metrics)) for j in jobs]


def table(session: Session, experiment_id: int) -> TableOut:
    """Table 2 of the experiment (table_rows over its jobs) and its selected rows."""
    experiment = get_experiment(session, experiment_id)
    rows = table_rows(job_rows(session, experiment_id))
    return TableOut(experiment_id=experiment_id, kind=experiment_kind(experiment), rows=rows,
                    selected_rows=[row for row in rows if row.selected])


def cid_rows(session: Session, experiment_id: int) -> list[CidTrajectoryRow]:
    """Figure 3 of the experiment: cid_trajectories over its succeeded full-access jobs, a sweep's
    grid points apart."""
    jobs = {j.id: j for j in session.scalars(select(Job).where(Job.experiment_id == experiment_id,
                                                               Job.status == JobStatus.SUCCEEDED))
            if access_rate(j.spec, j.params) >= 1.0}
    if not jobs:
        return []
    points = session.execute(select(CidPoint.job_id, CidPoint.attempt, CidPoint.step, CidPoint.phase, CidPoint.value)
                             .where(CidPoint.job_id.in_(list(jobs)))).all()
    return cid_trajectories([RunCidPoint(dataset=jobs[p.job_id].dataset, method=_run_label(jobs[p.job_id]),
                                         job_id=p.job_id, step=p.step, phase=p.phase, value=p.value)
                             for p in points if p.attempt == jobs[p.job_id].attempt])


def _run_label(job: Job) -> str:
    """The method, and a sweep's grid point after it ("finetune train.lr=2e-05"), as Table 2 names rows."""
    params = {k: v for k, v in (job.params or {}).items() if k != "dataset.access_rate"}
    return job.method + "".join(f" {k}={v}" for k, v in sorted(params.items()))


def reproduction(request: ReproduceIn) -> ExperimentIn:
    """The paper's protocol on one dataset as one experiment request (Rejected: an access rate
    outside (0, 100], a method outside the protocol)."""
    try:
        return reproduce_request(request.dataset, request.scale, request.seeds, request.access_rates, request.name,
                                 methods=request.methods, reuse=request.reuse, data=request.data)
    except ValueError as error:
        raise Rejected(str(error)) from None


def preview_reproduction(request: ReproduceIn, session: Session, settings: Settings) -> ReproducePreview:
    """The job count and estimated wall time of a reproduction, without queueing it; with reuse,
    how many jobs would be copies of finished ones."""
    built = reproduction(request)
    expanded = expand_request(built.resolved_parts(), built.kind)
    jobs = []
    for index, (raw, _) in enumerate(expanded):
        twin = finished_twin(session, new_job(checked_spec(raw, settings, session, ("body", "expanded", index)))) \
            if request.reuse else None
        jobs.append(JobState(status=JobStatus.SUCCEEDED if twin else JobStatus.QUEUED, method=raw["method"],
                             wall_s=twin.wall_s if twin else None))
    # The ETA at launch: copies count as finished jobs (their walls calibrate the estimates).
    progress = experiment_progress(jobs, estimated_seconds(built.model_dump(mode="json")))
    return ReproducePreview(name=built.name, jobs=len(expanded), seeds=built.seeds, estimated_s=progress.eta_s,
                            jobs_by_method=dict(Counter(job.method for job in jobs)),
                            reused=sum(job.status == JobStatus.SUCCEEDED for job in jobs))
