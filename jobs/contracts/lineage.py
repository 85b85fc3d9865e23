"""Where a job sits among others: the job it was made from, the jobs made from it, its experiment.

parent -> child: a NeuronTune job's parent is the job whose saved model it tuned; an influence-tuning
follow-up's parent is the NeuronTune job whose suggested confound it tunes against.
"""
from __future__ import annotations

from pydantic import BaseModel, Field

from jobs.contracts.enums import ExperimentKind


class JobLineage(BaseModel):
    parent_job_id: int | None = Field(None, description="the job this one was made from (NeuronTune: the job "
                                                        "whose saved model it tuned; a follow-up: its NeuronTune job)")
    follow_up_ids: list[int] = Field(default_factory=list, description="jobs made from this one, oldest first")
    experiment_id: int | None = None
    experiment_kind: ExperimentKind | None = Field(None, description="None: no experiment")
