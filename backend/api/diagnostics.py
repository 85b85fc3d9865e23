"""A job's diagnostics (named JSON payloads, e.g. NeuronTune's scores, zeroed neurons and suggested
confounds), the chain parent -> NeuronTune -> follow-ups, and closing the loop: a suggested
confound becomes the rule confound of an influence-tuning job.

    GET  /api/jobs/{id}/diagnostics               every payload of the current attempt, by name
    GET  /api/jobs/{id}/diagnostics/{name}        one payload
    GET  /api/jobs/{id}/chain                     the finetune parent, the NeuronTune job, its follow-ups
    POST /api/jobs/{id}/suggestions/{rank}/tune   influence tuning with suggestion `rank` (from 1) as confound
"""
from __future__ import annotations

from fastapi import APIRouter, Body, Depends, status
from sqlalchemy.orm import Session

from backend.api.deps import BODY_413, TOKEN_401, Id, get_db, get_session, get_settings, require_token
from backend.services import diagnostics as service
from backend.settings import Settings
from backend.store.db import Database
from jobs.contracts.api import ChainOut, DiagnosticOut, DiagnosticsOut, JobOut, TuneRequest

router = APIRouter(prefix="/api/jobs", tags=["diagnostics"])


@router.get("/{job_id}/diagnostics", response_model=DiagnosticsOut, responses={404: {"description": "no such job"}})
def read_diagnostics(job_id: Id, session: Session = Depends(get_session)) -> DiagnosticsOut:
    """Every diagnostic payload the job recorded (NeuronTune: neurontune.scores, .zeroed,
    .candidates, .suggestions, .before_after). Empty for methods that record none."""
    return service.diagnostics(session, job_id)


@router.get("/{job_id}/diagnostics/{name}", response_model=DiagnosticOut,
            responses={404: {"description": "no such job, or no payload of that name (names those recorded)"}})
def read_diagnostic(job_id: Id, name: str, session: Session = Depends(get_session)) -> DiagnosticOut:
    return service.diagnostic(session, job_id, name)


@router.get("/{job_id}/chain", response_model=ChainOut, responses={404: {"description": "no such job"}})
def read_chain(job_id: Id, session: Session = Depends(get_session)) -> ChainOut:
    """Where a job sits in parent -> NeuronTune -> influence tuning with a discovered confound; any
    of the three may be asked. `compare` is what the Compare page overlays (?jobs=...)."""
    return service.chain(session, job_id)


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
    return service.tune_with_suggestion(session, db, settings, job_id, rank, request or TuneRequest())

