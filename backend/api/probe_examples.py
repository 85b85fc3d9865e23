"""The probe explorer's answer: a probe's most and least influential training examples of each group.

    GET /api/jobs/{id}/influence/examples?probe=&step=&phase=&k=

/influence gives the score lists and the top examples; this adds the bottom of each list, and
the probe's own label and confound, all with their texts. A is the group with the probe's label
and confound, B the group with its label and another confound.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.api.deps import MAX_INT, get_session, get_settings
from backend.api.job_data import influence_snapshots
from backend.services.catalogue import job_dataset
from backend.services.jobs import get_job
from backend.settings import Settings
from backend.store.models import InfluenceList
from jobs.contracts.api import Example, GroupExamples, ProbeExamplesOut
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
    job = get_job(session, job_id)
    mine = (InfluenceList.job_id == job_id, InfluenceList.attempt == job.attempt)
    phases = [s.phase for s in influence_snapshots(session, mine, probe) if s.step == step]
    phase = phases[-1] if phase is None and phases else phase
    lists = session.scalars(select(InfluenceList).where(
        *mine, InfluenceList.probe == probe, InfluenceList.step == step, InfluenceList.phase == phase)
        .order_by(InfluenceList.id.desc()).limit(1)).first()
    if lists is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"job {job_id} has no {phase or ''} lists for probe {probe} at step {step}".replace("  ", " "))
    dataset = job_dataset(job.spec, settings.data_dir)
    train = dataset.train if dataset is not None else None

    def describe(index: int, score: float | None) -> Example:
        if train is None or not 0 <= index < len(train):
            return Example(index=index, score=score, text=None, label=None, confound=None)
        return Example(index=index, score=score, text=train.texts[index],
                       label=dataset.label_names[int(train.labels[index])],
                       confound=dataset.confound_names[int(train.confounds[index])])

    def group(index: list[int], scores: list[float | None]) -> GroupExamples:
        ranked = sorted((pair for pair in zip(index, scores, strict=False) if pair[1] is not None),
                        key=lambda pair: -pair[1])
        return GroupExamples(size=len(ranked), most=[describe(i, s) for i, s in ranked[:k]],
                             least=[describe(i, s) for i, s in ranked[::-1][:k]])

    return ProbeExamplesOut(job_id=job_id, step=step, phase=phase, probe=describe(probe, None),
                            a=group(lists.a_index, lists.a_scores), b=group(lists.b_index, lists.b_scores))
