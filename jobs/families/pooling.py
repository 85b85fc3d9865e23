"""One vector per text from the base model's output, as the layout says (jobs.families.layout).

pooler: the encoder's pooler output (it reads position 0: encoders are padded on the right).
cls:    the first real token's hidden state ([CLS] / <s>).
last:   the last real token's hidden state: in a causal model the only position that has seen the
        whole text. Found from the attention mask, so it is right with left and right padding.
"""
from __future__ import annotations

import torch
from torch import Tensor

from jobs.families.family import Pooling


def positions(attention_mask: Tensor) -> Tensor:
    """Position ids counted over the real tokens, [B, T]: a text has the same positions padded left
    or right (padding gets 0; its states are never read)."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def last_token(attention_mask: Tensor) -> Tensor:
    """Index of each row's last real token, [B]."""
    steps = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    return (steps * (attention_mask != 0)).argmax(1)


def first_token(attention_mask: Tensor) -> Tensor:
    """Index of each row's first real token, [B]."""
    return (attention_mask != 0).long().argmax(1)


def pool(pooling: Pooling, output, attention_mask: Tensor) -> Tensor:
    """[B, hidden] from a transformers model output (last_hidden_state, maybe pooler_output)."""
    if pooling == "pooler":
        return output.pooler_output
    hidden = output.last_hidden_state
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    index = last_token(attention_mask) if pooling == "last" else first_token(attention_mask)
    return hidden[rows, index]
