"""Embedding tuning (paper section 4.1): influence tuning with the score restricted to the
label's row of the classifier head, which reduces to the cosine of the pooled outputs.

Everything else (tuples, rounds, interval, optimiser) is influence tuning's; only the score
changes, and with it J's gradient becomes first order (one ordinary backward).
"""
from __future__ import annotations

from jobs.contracts.enums import MethodName
from jobs.methods.influence_tuning import InfluenceTuning


class EmbeddingTuning(InfluenceTuning):
    """Influence tuning over the pooled-output cosine."""

    name = MethodName.EMBEDDING_TUNING
    kind = "embedding"
