"""The closed vocabularies the layers share, declared once: a job's status, a CID point's phase, a
method's name, an influence scope and an experiment's kind.

Each is a StrEnum: a member equals its string ("succeeded" == JobStatus.SUCCEEDED), formats as it
and serialises as it, so the stored rows, the JSON answers and the CLI's words stay what they were;
pydantic fields typed with them list the values in the OpenAPI schema. The tuples under each enum
(JOB_STATUSES, METHODS...) are the same values in order, for messages and choice lists.
"""
from __future__ import annotations

import sys
from enum import Enum
from typing import Literal

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # pragma: no cover - Python 3.10: the same behaviour, spelled out
    class StrEnum(str, Enum):
        """A str whose members are their values (enum.StrEnum from Python 3.11)."""

        def __str__(self) -> str:
            return str(self.value)

        def __format__(self, spec: str) -> str:
            return str(self.value).__format__(spec)


class JobStatus(StrEnum):
    """Where a job is: waiting, running, or how it ended (the store's jobs.status)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    COLLAPSED = "collapsed"  # finished, but training ended at chance (jobs.runner: retry_collapsed)

    @property
    def finished(self) -> bool:
        return self in FINISHED_STATUSES


JOB_STATUSES = tuple(JobStatus)
# A finished job has an outcome; an active one is still owed a worker's time.
FINISHED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.COLLAPSED)
ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
# The engine's outcomes (jobs.runner.run_job): what a run that returns ends as. A job "fails" outside it.
RUN_OUTCOMES = (JobStatus.SUCCEEDED, JobStatus.CANCELLED, JobStatus.COLLAPSED, JobStatus.FAILED)
# Ended with a trained model and numbers: collapsed runs have them too.
TRAINED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.COLLAPSED)
# Ended without results.
UNFINISHED_STATUSES = (JobStatus.FAILED, JobStatus.CANCELLED)


class CidPhase(StrEnum):
    """When a CID point was measured: every diagnostics.cid_every label steps ("live"), just before and
    after an influence-tuning round at the same step, or after the last step."""

    LIVE = "live"
    PRE_ROUND = "pre-round"
    POST_ROUND = "post-round"
    FINAL = "final"


CID_PHASES = tuple(CidPhase)
# A step's points in this order: a round's "pre-round" point comes before its "post-round" one.
PHASE_ORDER = {phase: i for i, phase in enumerate(CidPhase)}


class MethodName(StrEnum):
    """The training methods (jobs/methods/)."""

    FINETUNE = "finetune"
    INFLUENCE_TUNING = "influence-tuning"
    EMBEDDING_TUNING = "embedding-tuning"
    ADVERSARIAL = "adversarial"
    NO_CONFOUND = "no-confound"
    NEURONTUNE = "neurontune"


METHODS = tuple(MethodName)
# The methods that tune in rounds on probes with confound labels (jobs.rounds).
ROUND_METHODS = (MethodName.INFLUENCE_TUNING, MethodName.EMBEDDING_TUNING)


class Scope(StrEnum):
    """The parameters an influence score (and an influence update) is taken over (jobs.influence.scope):
    every parameter, the top transformer blocks with what sits above them (final norm, pooler) and
    the head, the head alone, or the LoRA adapters' parameters (a spec with `lora` only)."""

    ALL = "all"
    TOP = "top"
    HEAD = "head"
    LORA = "lora"


SCOPES = tuple(Scope)
# Every model has these three; "lora" needs a spec with `lora`.
MODEL_SCOPES = (Scope.ALL, Scope.TOP, Scope.HEAD)


class ExperimentKind(StrEnum):
    """What an experiment is: methods side by side, a hyperparameter grid, or the paper's protocol."""

    COMPARE = "compare"
    SWEEP = "sweep"
    REPRODUCE = "reproduce"


EXPERIMENT_KINDS = tuple(ExperimentKind)


# A model's architecture as the engine found it (jobs/families): the results and the model picker say it alike.
ModelKind = Literal["encoder", "decoder"]
Pooling = Literal["pooler", "cls", "last"]
POOLING_DESCRIPTION = ("the pooled output the classifier reads: the encoder's pooler, the first ([CLS]) token's "
                       "state, or the last non-padding token's (decoders)")
