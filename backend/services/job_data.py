"""A job's data, read from the store: training curves, CID points, influence lists, final results,
log lines. Every read selects the job's current attempt only (see backend.store.models).

The large answers (metrics, CID) are built with `model_construct` from rows this service stored
itself: no second validation pass, so a 100k-point series stays quick. Raises NotFound / Rejected
(backend.services.errors); the routes (backend.api.job_data, cid_display, probe_examples) only
parse and shape.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from backend.services.catalogue import job_dataset
from backend.services.errors import NotFound, Rejected
from backend.services.jobs import get_job
from backend.store.models import Artifact, InfluenceList, LogLine, ResultValue, ScalarPoint
from backend.store.models import CidPoint as CidRow
from backend.store.recorder import jsonable
from jobs.contracts.api import (
    ArtifactOut,
    CidDisplayOut,
    CidOut,
    Example,
    GroupExamples,
    InfluenceOut,
    LogLineOut,
    LogOut,
    MetricsOut,
    ProbeChoice,
    ProbeExamplesOut,
    ResultRow,
    ResultsOut,
    Series,
    Snapshot,
)
from jobs.contracts.cid import CidExtra, CidPoint, thin, thin_cid
from jobs.contracts.enums import CID_PHASES, PHASE_ORDER
from jobs.data import ConfoundedDataset

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


def metrics(session: Session, job_id: int, names: list[str] | None, since_step: int | None,
            max_points: int | None) -> MetricsOut:
    """Training curves by name (all names if `names` is None), each thinned to about max_points."""
    job = get_job(session, job_id)
    connection = session.connection()
    recorded = list(connection.execute(SCALAR_NAMES, {"job": job_id, "attempt": job.attempt}).scalars())
    wanted = [n for n in recorded if names is None or n in names]
    series = {n: scalar_series(connection, job_id, job.attempt, n, since_step, max_points) for n in wanted}
    last_step = max((s.steps[-1] for s in series.values() if s.steps), default=None)
    return MetricsOut(job_id=job_id, attempt=job.attempt, names=recorded,
                      series={n: s for n, s in series.items() if s.steps}, last_step=last_step)


def cid_points(session: Session, job_id: int, phase: str | None, since_step: int | None) -> CidOut:
    """CID points in recording order, with their per-probe values and extras."""
    if phase is not None and phase not in CID_PHASES:
        raise Rejected(f"unknown phase '{phase}'; valid: {', '.join(CID_PHASES)}")
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
    return CidOut.model_construct(job_id=job_id, attempt=job.attempt, points=points)


def cid_display(session: Session, job_id: int, since_step: int | None, max_points: int | None) -> CidDisplayOut:
    """Mean CID per point (the per-probe columns are not read), thinned keeping the rounds (thin_cid)."""
    job = get_job(session, job_id)
    query = (select(CidRow.step, CidRow.phase, CidRow.value)
             .where(CidRow.job_id == job_id, CidRow.attempt == job.attempt))
    if since_step is not None:
        query = query.where(CidRow.step > since_step)
    points = [CidPoint(step=s, phase=p, value=v) for s, p, v in session.execute(query.order_by(CidRow.id))]
    return CidDisplayOut(job_id=job_id, attempt=job.attempt, total=len(points), points=thin_cid(points, max_points))


def influence_snapshots(session: Session, mine: tuple, probe: int) -> list[Snapshot]:
    """(step, phase) of every list recorded for `probe`, in training order (a round's pre-round
    lists before its post-round ones)."""
    pairs = session.execute(select(InfluenceList.step, InfluenceList.phase)
                            .where(*mine, InfluenceList.probe == probe).distinct()).all()
    return [Snapshot(step=s, phase=p) for s, p in sorted(pairs, key=lambda sp: (sp[0], PHASE_ORDER.get(sp[1], 9)))]


def _latest_lists(session: Session, mine: tuple, probe: int, step: int, phase: str | None) -> InfluenceList | None:
    return session.scalars(select(InfluenceList).where(*mine, InfluenceList.probe == probe, InfluenceList.step == step,
                                                       InfluenceList.phase == phase)
                           .order_by(InfluenceList.id.desc()).limit(1)).first()


def describe(dataset: ConfoundedDataset | None, index: int, score: float | None) -> Example:
    """A training example with its text, label and confound (None where the dataset is gone)."""
    train = dataset.train if dataset is not None else None
    if train is None or not 0 <= index < len(train):
        return Example(index=index, score=score, text=None, label=None, confound=None)
    return Example(index=index, score=score, text=train.texts[index],
                   label=dataset.label_names[int(train.labels[index])],
                   confound=dataset.confound_names[int(train.confounds[index])])


def _ranked(index: list[int], scores: list[float | None]) -> list[tuple[int, float]]:
    """(index, score) by score, highest first; unscored examples left out."""
    return sorted((pair for pair in zip(index, scores, strict=False) if pair[1] is not None), key=lambda p: -p[1])


def _probe_choice(dataset: ConfoundedDataset | None, index: int) -> ProbeChoice:
    """A probe with the names of its label and confound (None where the dataset is gone)."""
    example = describe(dataset, index, None)
    return ProbeChoice(index=index, label=example.label, confound=example.confound)


def influence(session: Session, data_dir: Path, job_id: int, probe: int | None, step: int | None,
              phase: str | None, k: int) -> InfluenceOut:
    """A probe's A and B lists at a step and phase (defaults: the first probe, the latest step, the
    step's latest phase) and the top k of each with their texts. NotFound names what is recorded."""
    job = get_job(session, job_id)
    mine = (InfluenceList.job_id == job_id, InfluenceList.attempt == job.attempt)
    probes = list(session.scalars(select(InfluenceList.probe).where(*mine).distinct().order_by(InfluenceList.probe)))
    if not probes:
        raise NotFound(f"job {job_id} has no influence lists yet")
    probe = probes[0] if probe is None else probe
    if probe not in probes:
        raise NotFound(f"no lists for probe {probe}; recorded probes: {', '.join(map(str, probes))}")
    snapshots = influence_snapshots(session, mine, probe)
    steps = sorted({s.step for s in snapshots})
    step = steps[-1] if step is None else step
    if step not in steps:
        raise NotFound(f"no lists for probe {probe} at step {step}; recorded steps: {', '.join(map(str, steps))}")
    phases = [s.phase for s in snapshots if s.step == step]
    phase = phases[-1] if phase is None else phase
    if phase not in phases:
        raise NotFound(f"no {phase} lists for probe {probe} at step {step}; recorded: {', '.join(phases)}")
    lists = _latest_lists(session, mine, probe, step, phase)
    dataset = job_dataset(job.spec, data_dir)  # cached: also names each probe's label and confound

    def top(index: list[int], scores: list[float | None]) -> list[Example]:
        return [describe(dataset, i, s) for i, s in _ranked(index, scores)[:k]]

    probe_text = None
    if dataset is not None and 0 <= probe < len(dataset.train):
        probe_text = dataset.train.texts[probe]
    return InfluenceOut(
        job_id=job_id, attempt=job.attempt, step=step, phase=phase, probe=probe, probe_text=probe_text, steps=steps,
        snapshots=snapshots, probes=probes, probe_choices=[_probe_choice(dataset, p) for p in probes],
        a_index=lists.a_index, a_scores=lists.a_scores, b_index=lists.b_index, b_scores=lists.b_scores,
        top_a=top(lists.a_index, lists.a_scores), top_b=top(lists.b_index, lists.b_scores))


def probe_examples(session: Session, data_dir: Path, job_id: int, probe: int, step: int, phase: str | None,
                   k: int) -> ProbeExamplesOut:
    """The k most and k least influential A and B examples of `probe` at `step` (default phase:
    the step's latest), with their texts."""
    job = get_job(session, job_id)
    mine = (InfluenceList.job_id == job_id, InfluenceList.attempt == job.attempt)
    phases = [s.phase for s in influence_snapshots(session, mine, probe) if s.step == step]
    phase = phases[-1] if phase is None and phases else phase
    lists = _latest_lists(session, mine, probe, step, phase)
    if lists is None:
        raise NotFound(f"job {job_id} has no {phase or ''} lists for probe {probe} at step {step}".replace("  ", " "))
    dataset = job_dataset(job.spec, data_dir)

    def group(index: list[int], scores: list[float | None]) -> GroupExamples:
        ranked = _ranked(index, scores)
        return GroupExamples(size=len(ranked), most=[describe(dataset, i, s) for i, s in ranked[:k]],
                             least=[describe(dataset, i, s) for i, s in ranked[::-1][:k]])

    return ProbeExamplesOut(job_id=job_id, step=step, phase=phase, probe=describe(dataset, probe, None),
                            a=group(lists.a_index, lists.a_scores), b=group(lists.b_index, lists.b_scores))


def results(session: Session, job_id: int) -> ResultsOut:
    """Final metrics, their flat rows and the saved artifacts; empty until the job has finished."""
    job = get_job(session, job_id)
    rows = session.scalars(select(ResultValue).where(ResultValue.job_id == job_id, ResultValue.attempt == job.attempt)
                           .order_by(ResultValue.id))
    artifacts = session.scalars(select(Artifact).where(Artifact.job_id == job_id, Artifact.attempt == job.attempt))
    return ResultsOut(job_id=job_id, attempt=job.attempt, status=job.status, metrics=jsonable(job.metrics),
                      rows=[ResultRow(split=r.split, group=r.group, metric=r.metric, value=r.value) for r in rows],
                      artifacts=[ArtifactOut.model_validate(a) for a in artifacts])


def logs(session: Session, job_id: int) -> LogOut:
    """The engine's event lines of the current attempt."""
    job = get_job(session, job_id)
    lines = session.scalars(select(LogLine).where(LogLine.job_id == job_id, LogLine.attempt == job.attempt)
                            .order_by(LogLine.id))
    return LogOut(job_id=job_id, attempt=job.attempt,
                  lines=[LogLineOut(t=line.created_at.isoformat(timespec="milliseconds") + "Z", message=line.message)
                         for line in lines])
