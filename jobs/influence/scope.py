"""Which parameters an influence score is defined over (the same meaning for every family).

all:  every trainable parameter, word embeddings included (the paper's definition).
top:  the blocks that run the top `top_layers` depths, whatever sits between them and the head
      (a final norm, a pooler) and the classifier head: a cheaper score that ignores what the
      lower layers and the embeddings learned. The family's layout (jobs.families) says where
      the blocks are; a model whose blocks cannot be found is refused (ValueError with the
      reason), never quietly given the head alone. ALBERT shares its layer across depth: its top
      blocks are its shared layer group, differentiated through every depth it runs at.
head: the classifier head only (the cheapest; close to section 4.1's embedding score).
lora: the LoRA adapters' parameters (jobs/lora.py); a model without adapters is refused.
"""
from __future__ import annotations

from torch import nn

from jobs.contracts.enums import SCOPES
from jobs.lora import lora_scope
from jobs.models import Classifier


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
    top = tuple(prefix + "." for prefix in model.top_prefixes(top_layers))
    return [(n, p) for n, p in named if n.startswith(top)]
