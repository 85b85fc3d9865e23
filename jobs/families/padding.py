"""Padding a loaded tokenizer must have for its model's pooling.

Decoder checkpoints often ship without a pad token (Llama, Mistral, GPT-2): they get their end
of sequence token as pad, and the model's config its id. The attention mask, not the token id,
says what is padding, so a real end of sequence token stays a real token.
Every model pads on the right here. The classifier reads the right token either way (the last
real one by the attention mask, position ids counted over real tokens), but an encoder's pooler
reads position 0, and in a left-padded row of a decoder the padding has no key it may attend to:
transformers' eager attention then adds the dtype's minimum, which in float64 turns -inf in the
float32 softmax of Llama-like models and makes those rows NaN (and NaN times a zero weight is NaN,
so it reaches the real tokens). Right padding gives every row a real first token.
"""
from __future__ import annotations

from jobs.families.layout import Layout


def prepare_tokenizer(tokenizer, model, layout: Layout) -> list[str]:
    """Give `tokenizer` (and `model`'s config) what the layout needs; returns what was changed, in words."""
    changes = []
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError(f"the {layout.model_type} tokenizer has neither a pad nor an end-of-sequence token "
                             "to pad with: set its pad_token")
        tokenizer.pad_token = tokenizer.eos_token
        changes.append(f"the tokenizer had no pad token: padding with its end-of-sequence token "
                       f"{tokenizer.eos_token!r} (id {tokenizer.pad_token_id})")
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if tokenizer.padding_side != "right":
        tokenizer.padding_side = "right"
        why = ("its pooler reads position 0" if layout.kind == "encoder"
               else "a left-padded row's padding attends to nothing, NaN in float64")
        changes.append(f"the tokenizer padded on the left: padding on the right ({why}); the classifier "
                       f"reads the {'first' if layout.kind == 'encoder' else 'last'} real token either way")
    return changes
