"""Which parameters an influence score is defined over.

all:  every trainable parameter, word embeddings included (the paper's definition).
top:  the top `top_layers` transformer layers, the pooler and the classifier head: a cheaper
      score that ignores what the lower layers and the embeddings learned.
head: the classifier head only (the cheapest; close to section 4.1's embedding score).
lora: the LoRA adapters' parameters (jobs/lora.py); a model without adapters is refused.
"""
from __future__ import annotations

from torch import nn

from jobs.lora import lora_scope
from jobs.models import Classifier
from jobs.spec import SCOPES


def scope_parameters(model: Classifier, scope: str = "all", top_layers: int = 2) -> list[tuple[str, nn.Parameter]]:
    """(name, parameter) pairs of `scope`, in the model's parameter order; frozen ones left out."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope '{scope}'; valid: {', '.join(SCOPES)}")
    if scope == "lora":
        return lora_scope(model)
    if top_layers < 1:
        raise ValueError(f"top_layers must be at least 1, got {top_layers}")
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if scope == "all":
        return named
    if scope == "head":
        return [(n, p) for n, p in named if n.startswith("head.")]
    top = tuple(prefix + "." for prefix in model.layer_names()[-top_layers:])
    return [(n, p) for n, p in named if n.startswith(top) or ".pooler." in n or n.startswith("head.")]
