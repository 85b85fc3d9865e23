"""Experiments: grids of jobs (comparisons, sweeps, the paper's protocol), their progress and
their Table 2 with model selection on dev."""
from __future__ import annotations

from fastapi import APIRouter, Depends, status
from sqlalchemy.orm import Session

from backend.api.deps import BODY_413, TOKEN_401, Id, get_session, get_settings, require_token
from backend.services import experiment_records as records
from backend.settings import Settings
from jobs.contracts.api import (
    CidTrajectoriesOut,
    ExperimentIn,
    ExperimentOut,
    ProtocolOut,
    ReproduceIn,
    ReproducePreview,
    ScaleOut,
    SearchSpaceOut,
    TableOut,
)
from jobs.presets import ACCESS_RATE_METHODS, PROTOCOL_METHODS, SCALES, SEARCH_SPACES

router = APIRouter(prefix="/api/experiments", tags=["experiments"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ExperimentOut,
             dependencies=[Depends(require_token)],
             responses={**TOKEN_401, **BODY_413, 400: {"description": "too many jobs, or an expanded job this server cannot run (as "
                                             "POST /api/jobs: a model, file or upload that is not there, no round)"},
                        422: {"description": "a malformed grid, or an expanded job spec JobSpec refuses (an unknown "
                                             "dataset, method or preset among them), located by its index in the "
                                             "expansion"}})
def create_experiment(request: ExperimentIn, session: Session = Depends(get_session),
                      settings: Settings = Depends(get_settings)) -> ExperimentOut:
    """Expand methods x seeds x datasets x hyperparameter values (and each part's grid) into queued
    jobs (all or none). kind "sweep" marks the best grid point per (dataset, method) by mean dev
    accuracy in the table."""
    return records.create(request, session, settings)


@router.post("/reproduce", status_code=status.HTTP_201_CREATED, response_model=ExperimentOut,
             dependencies=[Depends(require_token)],
             responses={**TOKEN_401, **BODY_413, 400: {"description": "an access rate outside (0, 100], a method outside the protocol, "
                                             "a model the server cannot load, or too many jobs"}})
def create_reproduction(request: ReproduceIn, session: Session = Depends(get_session),
                        settings: Settings = Depends(get_settings)) -> ExperimentOut:
    """The paper's protocol on one dataset as one experiment: every Table-2 method (TextLen: also
    the no-confound control) at the scale's seeds with the paper presets and collapsed trials
    retried, plus influence and embedding tuning at each access rate (Table 3). The request
    made is stored as the experiment's grid (kind "reproduce")."""
    return records.create(records.reproduction(request), session, settings)


@router.post("/reproduce/preview", response_model=ReproducePreview,
             responses={**BODY_413, 400: {"description": "an access rate outside (0, 100], a method outside the protocol, "
                                             "or too many jobs"}})
def preview_reproduction(request: ReproduceIn, session: Session = Depends(get_session),
                         settings: Settings = Depends(get_settings)) -> ReproducePreview:
    """The job count and estimated wall time of a reproduction, without queueing it (the
    dashboard shows it before launch); with reuse, how many jobs would be copies of finished ones."""
    return records.preview_reproduction(request, session, settings)


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
    return [ScaleOut(name=name, description=scale.description, model=scale.model, seeds=scale.seeds,
                     minutes=scale.minutes) for name, scale in SCALES.items()]


@router.get("", response_model=list[ExperimentOut])
def list_experiments(session: Session = Depends(get_session)) -> list[ExperimentOut]:
    """Every experiment, newest first, with its progress."""
    return records.list_experiments(session)


@router.get("/{experiment_id}", response_model=ExperimentOut, responses={404: {"description": "no such experiment"}})
def read_experiment(experiment_id: Id, session: Session = Depends(get_session)) -> ExperimentOut:
    return records.experiment_out(session, records.get_experiment(session, experiment_id))


@router.get("/{experiment_id}/table", response_model=TableOut, responses={404: {"description": "no such experiment"}})
def experiment_table(experiment_id: Id, session: Session = Depends(get_session)) -> TableOut:
    """Table 2: per dataset, method, hyperparameters and access rate, test accuracy mean +- std
    over seeds, Welch's t-test p-value against finetuning, per-group and worst-group accuracy,
    dev accuracy, flip rate and CID. Only succeeded jobs count; `finished` says how many.
    `selected_rows`: per (dataset, method, access rate) the row with the best mean dev accuracy
    (a sweep's result; Table 3 is the selected rows of influence and embedding tuning by rate)."""
    return records.table(session, experiment_id)


@router.get("/{experiment_id}/cid", response_model=CidTrajectoriesOut, responses={404: {"description": "no such experiment"}})
def experiment_cid(experiment_id: Id, session: Session = Depends(get_session)) -> CidTrajectoriesOut:
    """Figure 3 as numbers: each method's mean CID over its succeeded full-access jobs at every
    label step and phase (live; before and after each influence round; final). Per-job curves:
    GET /api/jobs/{id}/cid."""
    records.get_experiment(session, experiment_id)
    return CidTrajectoriesOut(experiment_id=experiment_id, rows=records.cid_rows(session, experiment_id))
