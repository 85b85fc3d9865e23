"""Which path an influence computation takes, and why: the fast engine (jobs.influence.fast),
one example at a time through the factors (a model that computes something once for the whole
batch), or the per-example loop (a scope parameter without an exact fast rule), or the reference
loop when asked. Never silent: the choice is an EnginePath the caller is handed (on_path), and a
fallback to the loop is a logging warning as well.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict
from torch import nn

from jobs.influence.arguments import InfluenceArguments
from jobs.influence.examples import Examples
from jobs.influence.fast.sites import NoFastRule, Plan, plan_sites

log = logging.getLogger("jobs.influence")


class EnginePath(BaseModel):
    """path: "fast" (batched factors), "fast-per-example" (factors, one example per forward),
    "loop" (the per-example loop: some parameter has no fast rule), "reference" (asked for),
    "embedding" (pooled outputs, batched forwards: no gradients). reason: why, in words."""

    model_config = ConfigDict(frozen=True)

    path: Literal["fast", "fast-per-example", "loop", "reference", "embedding"]
    reason: str

    @property
    def fallback(self) -> bool:
        return self.path == "loop"

    def message(self, what: str = "influence engine") -> str:
        """One log line: a warning for a fallback."""
        if self.fallback:
            return f"warning: {what}: the fast engine fell back to the per-example loop: {self.reason}"
        return f"{what}: {self.path}: {self.reason}"


PathSink = Callable[[EnginePath], None]


def choose_path(model: nn.Module, args: InfluenceArguments, params: list[nn.Parameter],
                sample: Examples) -> tuple[Plan | None, EnginePath]:
    """The path for `args` over `params` (plan: the fast engine's, None off it). sample: a few
    of the examples to be scored (the plan checks its rules on one or two of them). The caller
    sets eval mode."""
    if args.reference:
        return None, EnginePath(path="reference", reason="the reference per-example loop was asked for")
    if args.kind == "embedding":
        return None, EnginePath(path="embedding", reason="pooled-output cosine: batched forwards, no gradients")
    try:
        plan = plan_sites(model, params, sample.input_ids, sample.attention_mask, sample.labels)
    except NoFastRule as refusal:
        path = EnginePath(path="loop", reason=str(refusal))
        log.warning(path.message())
        return None, path
    if plan.per_example:
        return plan, EnginePath(path="fast-per-example", reason=f"exact factors, one example per forward: {plan.why}")
    return plan, EnginePath(path="fast", reason=f"every scope parameter ({len(plan.sites)} modules) has an exact "
                                               "rule; batched factors")


def report(on_path: PathSink | None, path: EnginePath) -> None:
    if on_path is not None:
        on_path(path)
