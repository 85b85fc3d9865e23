"""A job's diagnostics (named JSON payloads, e.g. NeuronTune's scores, zeroed neurons and suggested
confounds), the chain parent -> NeuronTune -> follow-ups, and closing the loop: a suggested
confound becomes the rule confound of an influence-tuning job.

Raises the kinds of backend.services.errors; the routes (backend.api.diagnostics) only parse and shape.
"""
from __future__ import annotations

import copy
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.services.errors import Conflict, NotFound, Rejected
from backend.services.jobs import checked_spec, get_job, new_job
from backend.services.lineage import lineage, neurontune_chain
from backend.settings import Settings
from backend.store.db import Database
from backend.store.models import Diagnostic, Job
from backend.store.paths import absolute_spec
from jobs.contracts.api import ChainOut, DiagnosticOut, DiagnosticsOut, JobOut, TuneRequest
from jobs.contracts.diagnostics import NeuronTuneSuggestions, RankedSuggestion
from jobs.contracts.enums import MethodName
from jobs.contracts.json_value import JsonObject
from jobs.contracts.results import results_of
from jobs.data import DataError, load_dataset
from jobs.presets import preset_for

SUGGESTIONS = "neurontune.suggestions"
FOLLOW_UP_METHOD = MethodName.INFLUENCE_TUNING


def latest_diagnostics(session: Session, job: Job) -> dict[str, Diagnostic]:
    """The current attempt's newest row of each name, in first-recorded order."""
    rows = session.scalars(select(Diagnostic).where(Diagnostic.job_id == job.id, Diagnostic.attempt == job.attempt)
                           .order_by(Diagnostic.id))
    latest: dict[str, Diagnostic] = {}
    for row in rows:
        latest[row.name] = row  # a later row of a name replaces the earlier one, keeping its place
    return latest


def diagnostics(session: Session, job_id: int) -> DiagnosticsOut:
    """Every payload of the job's current attempt, the newest of each name."""
    job = get_job(session, job_id)
    latest = latest_diagnostics(session, job)
    return DiagnosticsOut(job_id=job_id, attempt=job.attempt, names=list(latest),
                          items={name: row.payload for name, row in latest.items()})


def diagnostic(session: Session, job_id: int, name: str) -> DiagnosticOut:
    """One payload by name; NotFound names those recorded."""
    job = get_job(session, job_id)
    latest = latest_diagnostics(session, job)
    if name not in latest:
        raise NotFound(f"job {job_id} has no diagnostic '{name}'; recorded: {', '.join(latest) or 'none yet'}")
    row = latest[name]
    return DiagnosticOut(job_id=job_id, attempt=job.attempt, name=name, created_at=row.created_at, payload=row.payload)


def chain(session: Session, job_id: int) -> ChainOut:
    """Where a job sits in parent -> NeuronTune -> follow-ups; `compare` lists them in order."""
    job = get_job(session, job_id)
    ids = neurontune_chain(session, job)
    if ids is None:
        return ChainOut(job_id=job_id, parent_job=None, neurontune_job=None, follow_ups=[], compare=[job_id])
    parent, neurontune, follow_ups = ids
    compare = [i for i in (parent, neurontune, *follow_ups) if i is not None]
    return ChainOut(job_id=job_id, parent_job=parent, neurontune_job=neurontune, follow_ups=follow_ups,
                    compare=compare)


def suggestions_of(session: Session, job: Job) -> list[RankedSuggestion]:
    """The job's ranked suggested confounds: its diagnostic, or (older runs) its final metrics."""
    row = latest_diagnostics(session, job).get(SUGGESTIONS)
    if row is not None:
        return NeuronTuneSuggestions.model_validate(row.payload).suggestions
    results = results_of(job.metrics)
    found = results.neurontune.suggestions if results is not None and results.neurontune is not None else []
    return [RankedSuggestion(rank=rank, **s.model_dump()) for rank, s in enumerate(found, start=1)]


def follow_up_spec(base: JsonObject, rule: str, request: TuneRequest) -> JsonObject:
    """`base` (a stored spec) as an influence-tuning job whose dataset confound is `rule`; model,
    seed and dataset otherwise the same. A preset that covers influence tuning fills its section."""
    raw = copy.deepcopy(base)
    raw["method"] = FOLLOW_UP_METHOD
    raw["dataset"] = {**raw.get("dataset", {}), "confound_rule": rule}
    raw.pop("neurontune", None)
    preset = raw.get("preset")
    if preset:
        try:
            preset_for(preset, raw["dataset"].get("name", "textlen"), FOLLOW_UP_METHOD)
            raw.pop("influence", None)  # the preset's influence-tuning values, not the parent's defaults
        except ValueError:
            raw["preset"] = None
    for section in ("train", "influence", "diagnostics"):
        if changes := getattr(request, section):
            raw[section] = {**raw.get(section, {}), **changes}
    return raw


def _check_loads(spec_json: JsonObject, data_dir: Path, rank: int, rule: str) -> None:
    """A rule that leaves a label without its B group would only fail on the worker: refuse it here."""
    try:
        load_dataset(absolute_spec(spec_json, data_dir, model_is_path=False)["dataset"])
    except DataError as error:
        raise Rejected(f"suggestion {rank} ({rule}) is no usable confound here: {error}") from None


def tune_with_suggestion(session: Session, db: Database, settings: Settings, job_id: int, rank: int,
                         request: TuneRequest) -> JobOut:
    """Queue influence tuning with suggestion `rank` (from 1) of a NeuronTune job as the dataset's
    confound rule; model, seed, dataset and training are the parent's (the finetune job NeuronTune
    tuned, else the NeuronTune job's own). The new job's parent is the NeuronTune job."""
    job = get_job(session, job_id)
    if job.method != MethodName.NEURONTUNE:
        raise Conflict(f"job {job_id} is {job.method}; suggestions come from neurontune jobs")
    suggestions = suggestions_of(session, job)
    if not suggestions:
        raise Conflict(f"job {job_id} has no suggested confounds ({job.status})")
    if not 1 <= rank <= len(suggestions):
        raise NotFound(f"no suggestion {rank}; job {job_id} has suggestions 1 to {len(suggestions)}")
    suggestion = suggestions[rank - 1]
    parent = session.get(Job, job.parent_job_id) if job.parent_job_id is not None else None
    spec = checked_spec(follow_up_spec((parent or job).spec, suggestion.rule, request), settings, session)
    _check_loads(spec.model_dump(mode="json"), settings.data_dir, rank, suggestion.rule)
    keep = {"ngram", "kind", "rule", "effect", "lower", "support", "class_name"}
    follow_up = new_job(spec, params={"suggestion": {"rank": rank, **suggestion.model_dump(include=keep)}},
                        parent_job_id=job.id)
    session.rollback()  # done reading; the write takes the lock from its start (SQLite's snapshot may be stale)
    with db.writing() as writer:
        writer.add(follow_up)
        writer.flush()
        return JobOut.of(follow_up, lineage(writer, follow_up))
