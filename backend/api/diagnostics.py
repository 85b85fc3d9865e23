"""A job's diagnostics (named JSON payloads, e.g. NeuronTune's scores, zeroed neurons and suggested
confounds), the chain parent -> NeuronTune -> follow-ups, and closing the loop: a suggested
confound becomes the rule confound of an influence-tuning job.

    GET  /api/jobs/{id}/diagnostics               every payload of the current attempt, by name
    GET  /api/jobs/{id}/diagnostics/{name}        one payload
    GET  /api/jobs/{id}/chain                     the finetune parent, the NeuronTune job, its follow-ups
    POST /api/jobs/{id}/suggestions/{rank}/tune   influence tuning with suggestion `rank` (from 1) as confound
"""
from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.api.deps import BODY_413, TOKEN_401, Id, get_db, get_session, get_settings, require_token
from backend.services.jobs import checked_spec, get_job, new_job
from backend.services.lineage import lineage, neurontune_chain
from backend.settings import Settings
from backend.store.db import Database
from backend.store.models import Diagnostic, Job
from backend.store.paths import absolute_spec
from jobs.contracts.api import ChainOut, DiagnosticOut, DiagnosticsOut, JobOut, TuneRequest
from jobs.contracts.enums import MethodName
from jobs.data import DataError, load_dataset
from jobs.presets import preset_for

router = APIRouter(prefix="/api/jobs", tags=["diagnostics"])

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


@router.get("/{job_id}/diagnostics", response_model=DiagnosticsOut, responses={404: {"description": "no such job"}})
def read_diagnostics(job_id: Id, session: Session = Depends(get_session)) -> DiagnosticsOut:
    """Every diagnostic payload the job recorded (NeuronTune: neurontune.scores, .zeroed,
    .candidates, .suggestions, .before_after). Empty for methods that record none."""
    job = get_job(session, job_id)
    latest = latest_diagnostics(session, job)
    return DiagnosticsOut(job_id=job_id, attempt=job.attempt, names=list(latest),
                          items={name: row.payload for name, row in latest.items()})


@router.get("/{job_id}/diagnostics/{name}", response_model=DiagnosticOut,
            responses={404: {"description": "no such job, or no payload of that name (names those recorded)"}})
def read_diagnostic(job_id: Id, name: str, session: Session = Depends(get_session)) -> DiagnosticOut:
    job = get_job(session, job_id)
    latest = latest_diagnostics(session, job)
    if name not in latest:
        recorded = ", ".join(latest) or "none yet"
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"job {job_id} has no diagnostic '{name}'; recorded: {recorded}")
    row = latest[name]
    return DiagnosticOut(job_id=job_id, attempt=job.attempt, name=name, created_at=row.created_at, payload=row.payload)


@router.get("/{job_id}/chain", response_model=ChainOut, responses={404: {"description": "no such job"}})
def read_chain(job_id: Id, session: Session = Depends(get_session)) -> ChainOut:
    """Where a job sits in parent -> NeuronTune -> influence tuning with a discovered confound; any
    of the three may be asked. `compare` is what the Compare page overlays (?jobs=...)."""
    job = get_job(session, job_id)
    ids = neurontune_chain(session, job)
    if ids is None:
        return ChainOut(job_id=job_id, parent_job=None, neurontune_job=None, follow_ups=[], compare=[job_id])
    parent, neurontune, follow_ups = ids
    compare = [i for i in (parent, neurontune, *follow_ups) if i is not None]
    return ChainOut(job_id=job_id, parent_job=parent, neurontune_job=neurontune, follow_ups=follow_ups,
                    compare=compare)


def suggestions_of(session: Session, job: Job) -> list[dict[str, Any]]:
    """The job's ranked suggested confounds: its diagnostic, or (older runs) its final metrics."""
    row = latest_diagnostics(session, job).get(SUGGESTIONS)
    if row is not None:
        return list(row.payload.get("suggestions") or [])
    return list(((job.metrics or {}).get("neurontune") or {}).get("suggestions") or [])


def follow_up_spec(base: dict[str, Any], rule: str, request: TuneRequest) -> dict[str, Any]:
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


@router.post("/{job_id}/suggestions/{rank}/tune", status_code=status.HTTP_201_CREATED, response_model=JobOut,
             dependencies=[Depends(require_token)],
             responses={**TOKEN_401, **BODY_413, 404: {"description": "no such job or suggestion (names the ranks there are)"},
                        409: {"description": "not a NeuronTune job, or it has no suggestions (yet)"},
                        400: {"description": "the follow-up spec is refused (as POST /api/jobs would)"}})
def tune_with_suggestion(job_id: Id, rank: Id, request: TuneRequest | None = Body(None),
                         session: Session = Depends(get_session), db: Database = Depends(get_db),
                         settings: Settings = Depends(get_settings)) -> JobOut:
    """Queue influence tuning with suggestion `rank` (1 = the first) of a NeuronTune job as the
    dataset's confound (its rule, "text contains X": dataset.confound_rule, which replaces a
    built-in dataset's annotated confound). Model, seed, dataset and training are the parent's
    (the finetune job NeuronTune tuned, else the NeuronTune job's own). The new job's params
    keep the suggestion; its parent_job_id is the NeuronTune job (whose follow-ups it joins)."""
    job = get_job(session, job_id)
    if job.method != MethodName.NEURONTUNE:
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id} is {job.method}; suggestions come from "
                                                      "neurontune jobs")
    suggestions = suggestions_of(session, job)
    if not suggestions:
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id} has no suggested confounds ({job.status})")
    if not 1 <= rank <= len(suggestions):
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"no suggestion {rank}; job {job_id} has suggestions 1 to {len(suggestions)}")
    suggestion = suggestions[rank - 1]
    parent = session.get(Job, job.parent_job_id) if job.parent_job_id is not None else None
    raw = follow_up_spec((parent or job).spec, suggestion["rule"], request or TuneRequest())
    spec = checked_spec(raw, settings, session)
    try:  # a rule that leaves a label without its B group would only fail on the worker
        load_dataset(absolute_spec(spec.model_dump(mode="json"), settings.data_dir, model_is_path=False)["dataset"])
    except DataError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST,
                            f"suggestion {rank} ({suggestion['rule']}) is no usable confound here: {error}") from None
    keep = ("ngram", "kind", "rule", "effect", "lower", "support", "class_name")
    follow_up = new_job(spec, params={"suggestion": {"rank": rank, **{k: suggestion.get(k) for k in keep}}},
                        parent_job_id=job.id)
    session.rollback()  # done reading; the write takes the lock from its start (SQLite's snapshot may be stale)
    with db.writing() as writer:
        writer.add(follow_up)
        writer.flush()
        return JobOut.of(follow_up, lineage(writer, follow_up))
