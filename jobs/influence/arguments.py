"""One arguments object for every influence computation, in the manner of Kronfluence's
ScoreArguments: what is scored (kind), over which parameters (scope, top_layers), by which path
(reference: the plain per-example loop, the fast engine's oracle) and in what chunks.

    args = InfluenceArguments(kind="cosine", scope="top", top_layers=2)
    pairwise_scores(model, probes, train, args)
    influence_loss(model, probes, a, b, args)
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jobs.contracts.enums import Scope
from jobs.spec import SCORES

# Examples (probes + A + B) per influence_loss call of an update (jobs.influence.update): the
# gradient score keeps a differentiable gradient per example, so memory grows with this; the
# pooled-output score is light.
EXAMPLES_PER_CALL = {"cosine": 96, "dot": 96, "embedding": 1024}


class InfluenceArguments(BaseModel):
    """kind: "cosine" (the paper's), "dot" (TracIn's product) or "embedding" (pooled-output
    cosine, section 4.1; scope unused). scope: "all", "top" (the top `top_layers` blocks and what
    sits above them), "head" or "lora" (the adapters of a LoRA model). reference: take the plain
    per-example loop instead of the fast engine (same numbers, slow; the oracle). batch_size:
    examples per batched forward of the score matrix; examples_per_call: examples per
    influence-loss call of an update (None: the gradient scores' from the memory free,
    jobs.influence.chunking; the embedding score's by kind)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = "cosine"
    scope: Scope = Scope.ALL
    top_layers: int = Field(2, ge=1)
    reference: bool = False
    batch_size: int = Field(32, ge=1)
    examples_per_call: int | None = Field(None, ge=1)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in SCORES:
            raise ValueError(f"unknown influence score '{kind}'; valid: {', '.join(SCORES)}")
        return kind

    def per_call(self) -> int:
        """Examples per influence-loss call: as set, else by kind (the gradient scores' ceiling)."""
        return self.examples_per_call or EXAMPLES_PER_CALL[self.kind]

    def chooses_from_memory(self) -> bool:
        """Whether an update sizes its calls from the memory free (examples_per_call not set, a
        gradient score): jobs.influence.chunking."""
        return self.examples_per_call is None and self.kind != "embedding" and not self.reference
