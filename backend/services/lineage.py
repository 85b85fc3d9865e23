"""Where jobs sit among each other (jobs.contracts.lineage), answered from columns: a job's
parent_job_id, the jobs whose parent it is (its follow-ups), and its experiment's kind.

A NeuronTune job's parent is the job whose saved model it tunes (its neurontune.parent_artifact
is that job's artifact); an influence-tuning follow-up's parent is the NeuronTune job whose
suggested confound it uses (backend.api.diagnostics).
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.store.models import Artifact, Experiment, Job
from jobs.contracts.enums import MethodName
from jobs.contracts.lineage import JobLineage
from jobs.spec import JobSpec


def artifact_parent(session: Session, spec: JobSpec) -> int | None:
    """The job whose saved model an accepted NeuronTune spec tunes (parent_artifact already a path
    under the data directory); None for other methods or a model that is no job's."""
    path = spec.neurontune.parent_artifact if spec.method == MethodName.NEURONTUNE else None
    if not path:
        return None
    return session.scalar(select(Artifact.job_id).where(Artifact.path == path).order_by(Artifact.id.desc()).limit(1))


def follow_up_ids(session: Session, job_id: int) -> list[int]:
    """The jobs made from this one, oldest first."""
    return list(session.scalars(select(Job.id).where(Job.parent_job_id == job_id).order_by(Job.id)))


def lineages(session: Session, jobs: Iterable[Job]) -> dict[int, JobLineage]:
    """Each job's lineage by id, in two queries for the lot (a page of the job list)."""
    jobs = list(jobs)
    ids = [job.id for job in jobs]
    children: dict[int, list[int]] = {i: [] for i in ids}
    if ids:
        for child, parent in session.execute(select(Job.id, Job.parent_job_id).where(Job.parent_job_id.in_(ids))
                                             .order_by(Job.id)):
            children[parent].append(child)
    experiment_ids = {job.experiment_id for job in jobs if job.experiment_id is not None}
    kinds = dict(session.execute(select(Experiment.id, Experiment.kind).where(Experiment.id.in_(experiment_ids)))
                 .all()) if experiment_ids else {}
    return {job.id: JobLineage(parent_job_id=job.parent_job_id, follow_up_ids=children[job.id],
                               experiment_id=job.experiment_id, experiment_kind=kinds.get(job.experiment_id))
            for job in jobs}


def lineage(session: Session, job: Job) -> JobLineage:
    return lineages(session, [job])[job.id]


def neurontune_chain(session: Session, job: Job) -> tuple[int | None, int, list[int]] | None:
    """(finetune parent, NeuronTune job, its follow-ups) around any of the three; None when the job
    is in no such chain. A finetune job's NeuronTune job is the newest that tuned its saved model."""
    if job.method == MethodName.NEURONTUNE:
        neurontune: Job | None = job
    elif job.parent_job_id is not None and (parent := session.get(Job, job.parent_job_id)) is not None \
            and parent.method == MethodName.NEURONTUNE:
        neurontune = parent
    else:
        neurontune = session.scalars(select(Job).where(Job.parent_job_id == job.id, Job.method == MethodName.NEURONTUNE)
                                     .order_by(Job.id.desc()).limit(1)).first()
    if neurontune is None:
        return None
    return neurontune.parent_job_id, neurontune.id, follow_up_ids(session, neurontune.id)
