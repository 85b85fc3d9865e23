"""A job's data: training curves, CID points, influence lists, final results, log lines.

Every read selects the job's current attempt only (see backend.store.models). The large answers are
serialised by pydantic directly (no second validation pass): a 100k-point series stays quick.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from backend.api.deps import MAX_INT, Id, Step, get_session, get_settings
from backend.services.catalogue import job_dataset
from backend.services.jobs import get_job
from backend.settings import Settings
from backend.store.models import Artifact, InfluenceList, LogLine, ResultValue, ScalarPoint
from backend.store.models import CidPoint as CidRow
from backend.store.recorder import jsonable
from jobs.contracts.api import (
    ArtifactOut,
    CidOut,
    Example,
    InfluenceOut,
    LogLineOut,
    LogOut,
    MetricsOut,
    ProbeChoice,
    ResultRow,
    ResultsOut,
    Series,
    Snapshot,
)
from jobs.contracts.cid import CidExtra, CidPoint, thin
from jobs.contracts.enums import CID_PHASES, PHASE_ORDER

router = APIRouter(prefix="/api/jobs", tags=["job data"])


def _json(model) -> Response:
    return Response(content=model.model_dump_json(), media_type="application/json")


# DISTINCT over 100k points scans them all; this hops from name to name along the index
# (a "loose index scan"), a handful of seeks for a handful of names, on SQLite and PostgreSQL.
SCALAR_NAMES = text("""
    WITH RECURSIVE names(name) AS (
        SELECT MIN(name) FROM scalar_points WHERE job_id = :job AND attempt = :attempt
        UNION ALL
        SELECT (SELECT MIN(p.name) FROM scalar_points p
                WHERE p.job_id = :job AND p.attempt = :attempt AND p.name > names.name)
        FROM names WHERE names.name IS NOT NULL)
    SELECT name FROM names WHERE name IS NOT NULL""")


def driver_rows(connection, query) -> list[tuple]:
    """The rows of `query` as the driver returns them. Pure-Python SQLAlchemy spends longer
    making Row objects of 100k points than the database spends finding them."""
    compiled = query.compile(dialect=connection.dialect)
    params = [compiled.params[key] for key in compiled.positiontup] if compiled.positional else compiled.params
    cursor = connection.connection.cursor()
    try:
        cursor.execute(compiled.string, params)
        return cursor.fetchall()
    finally:
        cursor.close()


def scalar_series(connection, job_id: int, attempt: int, name: str, since_step: int | None,
                  max_points: int | None) -> Series:
    """One series, by step; past max_points every k-th point (and always the last) is kept."""
    where = [ScalarPoint.job_id == job_id, ScalarPoint.attempt == attempt, ScalarPoint.name == name]
    if since_step is not None:
        where.append(ScalarPoint.step > since_step)
    rows = driver_rows(connection, select(ScalarPoint.step, ScalarPoint.value).where(*where)
                       .order_by(ScalarPoint.step, ScalarPoint.id))
    rows = thin(rows, max_points)
    return Series(steps=[row[0] for row in rows], values=[row[1] for row in rows])


@router.get("/{job_id}/metrics", response_model=MetricsOut, responses={404: {"description": "no such job"}})
def read_metrics(job_id: Id,
                 name: list[str] | None = Query(None, description="scalar names (repeat the parameter); all if absent"),
                 since_step: int | None = Query(None, ge=-MAX_INT - 1, le=MAX_INT,
                                                  description="only points after this step (incremental polling)"),
                 max_points: int | None = Query(None, ge=2, le=1_000_000,
                                                description="thin each series to about this many points"),
                 session: Session = Depends(get_session)) -> Response:
    """Training curves (loss/train, acc/dev, ...) by name."""
    job = get_job(session, job_id)
    connection = session.connection()
    names = list(connection.execute(SCALAR_NAMES, {"job": job_id, "attempt": job.attempt}).scalars())
    wanted = [n for n in names if name is None or n in name]
    series = {n: scalar_series(connection, job_id, job.attempt, n, since_step, max_points) for n in wanted}
    last_step = max((s.steps[-1] for s in series.values() if s.steps), default=None)
    return _json(MetricsOut(job_id=job_id, attempt=job.attempt, names=names,
                            series={n: s for n, s in series.items() if s.steps}, last_step=last_step))


@router.get("/{job_id}/cid", response_model=CidOut,
            responses={404: {"description": "no such job"}, 400: {"description": "an unknown phase"}})
def read_cid(job_id: Id, phase: str | None = Query(None, description=f"one of {', '.join(CID_PHASES)}"),
             since_step: Step | None = None, session: Session = Depends(get_session)) -> Response:
    """CID points in recording order, each with its phase (live, pre-round, post-round, final)."""
    if phase is not None and phase not in CID_PHASES:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"unknown phase '{phase}'; valid: {', '.join(CID_PHASES)}")
    job = get_job(session, job_id)
    columns = (CidRow.step, CidRow.phase, CidRow.value, CidRow.per_probe, CidRow.extra)
    query = select(*columns).where(CidRow.job_id == job_id, CidRow.attempt == job.attempt)
    if phase is not None:
        query = query.where(CidRow.phase == phase)
    if since_step is not None:
        query = query.where(CidRow.step > since_step)
    rows = session.connection().execute(query.order_by(CidRow.id)).all()
    points = [CidPoint.model_construct(step=step, phase=phase_, value=value, per_probe=per_probe,
                                       extra=None if extra is None else CidExtra.model_construct(**extra))
              for step, phase_, value, per_probe, extra in rows]  # stored by us: no need to validate again
    return _json(CidOut.model_construct(job_id=job_id, attempt=job.attempt, points=points))


# Order of a step's snapshots: a round's "pre-round" lists come before its "post-round" ones.


def influence_snapshots(session: Session, mine: tuple, probe: int) -> list[Snapshot]:
    """(step, phase) of every list recorded for `probe`, in training order."""
    pairs = session.execute(select(InfluenceList.step, InfluenceList.phase)
                            .where(*mine, InfluenceList.probe == probe).distinct()).all()
    return [Snapshot(step=s, phase=p) for s, p in sorted(pairs, key=lambda sp: (sp[0], PHASE_ORDER.get(sp[1], 9)))]


def _probe_choice(dataset, index: int) -> ProbeChoice:
    """A probe with the names of its label and confound (None where the dataset is gone)."""
    train = dataset.train if dataset is not None else None
    if train is None or not 0 <= index < len(train):
        return ProbeChoice(index=index, label=None, confound=None)
    return ProbeChoice(index=index, label=dataset.label_names[int(train.labels[index])],
                       confound=dataset.confound_names[int(train.confounds[index])])


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
    job = get_job(session, job_id)
    mine = (InfluenceList.job_id == job_id, InfluenceList.attempt == job.attempt)
    probes = list(session.scalars(select(InfluenceList.probe).where(*mine).distinct().order_by(InfluenceList.probe)))
    if not probes:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"job {job_id} has no influence lists yet")
    probe = probes[0] if probe is None else probe
    if probe not in probes:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"no lists for probe {probe}; recorded probes: {', '.join(map(str, probes))}")
    snapshots = influence_snapshots(session, mine, probe)
    steps = sorted({s.step for s in snapshots})
    step = steps[-1] if step is None else step
    if step not in steps:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"no lists for probe {probe} at step {step}; recorded steps: {', '.join(map(str, steps))}")
    phases = [s.phase for s in snapshots if s.step == step]
    phase = phases[-1] if phase is None else phase
    if phase not in phases:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"no {phase} lists for probe {probe} at step {step}; recorded: {', '.join(phases)}")
    lists = session.scalars(select(InfluenceList).where(*mine, InfluenceList.probe == probe, InfluenceList.step == step,
                                                        InfluenceList.phase == phase)
                            .order_by(InfluenceList.id.desc()).limit(1)).one()
    dataset = job_dataset(job.spec, settings.data_dir)  # cached: also names each probe's label and confound

    def describe(index: int, score: float | None) -> Example:
        train = dataset.train if dataset is not None else None
        if train is None or not 0 <= index < len(train):
            return Example(index=index, score=score, text=None, label=None, confound=None)
        return Example(index=index, score=score, text=train.texts[index],
                       label=dataset.label_names[int(train.labels[index])],
                       confound=dataset.confound_names[int(train.confounds[index])])

    def top(index: list[int], scores: list[float | None]) -> list[Example]:
        ranked = sorted((pair for pair in zip(index, scores, strict=False) if pair[1] is not None), key=lambda p: -p[1])
        return [describe(i, s) for i, s in ranked[:k]]

    probe_text = None
    if dataset is not None and 0 <= probe < len(dataset.train):
        probe_text = dataset.train.texts[probe]
    return _json(InfluenceOut(
        job_id=job_id, attempt=job.attempt, step=step, phase=phase, probe=probe, probe_text=probe_text, steps=steps,
        snapshots=snapshots, probes=probes, probe_choices=[_probe_choice(dataset, p) for p in probes],
        a_index=lists.a_index, a_scores=lists.a_scores, b_index=lists.b_index, b_scores=lists.b_scores,
        top_a=top(lists.a_index, lists.a_scores), top_b=top(lists.b_index, lists.b_scores)))


@router.get("/{job_id}/results", response_model=ResultsOut, responses={404: {"description": "no such job"}})
def read_results(job_id: Id, session: Session = Depends(get_session)) -> ResultsOut:
    """Final metrics: accuracy per split, per (label|confound) group and of the worst group; CID;
    the saved model. Empty until the job has finished."""
    job = get_job(session, job_id)
    rows = session.scalars(select(ResultValue).where(ResultValue.job_id == job_id, ResultValue.attempt == job.attempt)
                           .order_by(ResultValue.id))
    artifacts = session.scalars(select(Artifact).where(Artifact.job_id == job_id, Artifact.attempt == job.attempt))
    return ResultsOut(job_id=job_id, attempt=job.attempt, status=job.status, metrics=jsonable(job.metrics),
                      rows=[ResultRow(split=r.split, group=r.group, metric=r.metric, value=r.value) for r in rows],
                      artifacts=[ArtifactOut.model_validate(a) for a in artifacts])


@router.get("/{job_id}/logs", response_model=LogOut, responses={404: {"description": "no such job"}})
def read_logs(job_id: Id, session: Session = Depends(get_session)) -> LogOut:
    """The engine's event lines (trial started, round started, collapsed...)."""
    job = get_job(session, job_id)
    lines = session.scalars(select(LogLine).where(LogLine.job_id == job_id, LogLine.attempt == job.attempt)
                            .order_by(LogLine.id))
    return LogOut(job_id=job_id, attempt=job.attempt,
                  lines=[LogLineOut(t=line.created_at.isoformat(timespec="milliseconds") + "Z", message=line.message)
                         for line in lines])
