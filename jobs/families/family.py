"""A model family, declared: which config model_types it covers, whether it is an encoder or a
decoder, where its transformer blocks are, what sits between the blocks and the classifier head,
and how the classifier reads one vector per text (pooling).

Paths are relative to the base model `AutoModel` loads (the Classifier's `encoder`), e.g. Llama's
blocks are `layers`, GPT-2's `h`, BERT's `encoder.layer`. A family lists candidate paths; the
first one the model has is used (jobs.families.layout.resolve).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["encoder", "decoder"]
# pooler: the encoder's pooler output (tanh dense over [CLS]); cls: the first token's hidden state;
# last: the last non-padding token's hidden state (a causal model's only position that saw the whole text).
Pooling = Literal["pooler", "cls", "last"]
POOLINGS: tuple[Pooling, ...] = ("pooler", "cls", "last")


def one_block_per_depth(config, blocks: int) -> list[int]:
    """Depth i runs block i: every family but ALBERT."""
    return list(range(blocks))


@dataclass(frozen=True)
class Family:
    """One declared family (see the module docstring for the paths' meaning).

    pooler: path of the encoder's pooler module; where the model has it the pooling is "pooler",
    else `pooling`. block_at_depth(config, number of blocks) -> for each depth the model runs,
    the index of the block it runs there (ALBERT shares blocks across depth)."""

    name: str
    model_types: tuple[str, ...]
    kind: Kind
    blocks: tuple[str, ...]
    after_blocks: tuple[str, ...] = ()
    pooler: str | None = None
    pooling: Pooling = "cls"
    block_at_depth: Callable[[object, int], list[int]] = field(default=one_block_per_depth, compare=False)

    def __post_init__(self):
        if self.kind == "decoder" and self.pooling != "last":
            raise ValueError(f"{self.name}: a decoder pools its last non-padding token, not '{self.pooling}'")
        if self.kind == "encoder" and self.pooling == "last":
            raise ValueError(f"{self.name}: an encoder pools its pooler or first token")
