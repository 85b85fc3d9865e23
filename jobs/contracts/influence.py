"""One probe's influence lists at a step (Figure 1's two histograms): what LiveCID records
(jobs.recorder.Recorder.influence), the store keeps (influence_lists) and GET /api/jobs/{id}/influence
answers (jobs.contracts.api.InfluenceOut adds the job, the texts and the other snapshots)."""
from __future__ import annotations

from pydantic import BaseModel, Field

from jobs.contracts.enums import CidPhase


class InfluenceSnapshot(BaseModel):
    """Scores of the A group (same label, same confound) and the B group (same label, other
    confound) on one probe at one step. Indices point into train."""

    step: int
    phase: CidPhase = Field(CidPhase.LIVE, description="the CID phase measured with them")
    probe: int = Field(description="the probe's row in train")
    a_index: list[int]
    a_scores: list[float | None] = Field(description="None: a score that was not finite")
    b_index: list[int]
    b_scores: list[float | None]
