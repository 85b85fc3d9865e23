"""The probe explorer's answer: a probe's most and least influential training examples of each group.

    GET /api/jobs/{id}/influence/examples?probe=&step=&phase=&k=

/influence gives the score lists and the top examples; this adds the bottom of each list, and
the probe's own label and confound, all with their texts. A is the group with the probe's label
and confound, B the group with its label and another confound.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy.orm import Session

from backend.api.deps import MAX_INT, get_session, get_settings
from backend.services import job_data as service
from backend.settings import Settings
from jobs.contracts.api import ProbeExamplesOut
from jobs.contracts.enums import CidPhase

router = APIRouter(prefix="/api/jobs", tags=["job data"])


@router.get("/{job_id}/influence/examples", response_model=ProbeExamplesOut,
            responses={404: {"description": "no such job, or no lists for this probe at this step and phase"},
                       422: {"description": "a parameter missing or out of its bounds"}})
def probe_examples(
        job_id: int = Path(ge=1, le=MAX_INT, description="the job's id (`GET /api/jobs`)", examples=[1]),
        probe: int = Query(ge=0, le=MAX_INT, description="the probe: its row of the training split, one of the `probes` "
                                             "that `GET /api/jobs/{job_id}/influence` lists", examples=[3]),
        step: int = Query(ge=0, le=MAX_INT, description="the label step of the lists: one of the `steps` that `GET "
                                            "/api/jobs/{job_id}/influence?probe=` lists for this probe",
                          examples=[0]),
        k: int = Query(5, ge=1, le=100, description="examples from each end of each group's ranking: the k "
                                                    "most and the k least influential A and B examples"),
        phase: CidPhase | None = Query(
            None, description="the CID phase of the lists (a round's step has a pre-round and a post-round "
                              "snapshot); default: the step's latest, post-round at a round"),
        session: Session = Depends(get_session),
        settings: Settings = Depends(get_settings)) -> ProbeExamplesOut:
    """The k most and k least influential A and B examples of `probe` at `step` (and `phase`), with text.

    A is the training examples with the probe's label and confound, B those with its label and
    another confound. Example: `GET /api/jobs/1/influence/examples?probe=3&step=0&k=2`."""
    return service.probe_examples(session, settings.data_dir, job_id, probe, step, phase, k)
