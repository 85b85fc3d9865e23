"""The declared families, one adapter each (jobs.families.family.Family).

A model_type not listed here goes the generic way (jobs.families.generic): its blocks found as
a ModuleList of repeated blocks, or, where there is none, scope `top` refused with the reason.
"""
from __future__ import annotations

from jobs.families.family import Family


def albert_groups_at_depth(config, blocks: int) -> list[int]:
    """ALBERT runs num_hidden_layers layers from num_hidden_groups shared layer groups: depth i runs
    group int(i / (layers / groups)), as transformers' AlbertTransformer does."""
    layers, groups = config.num_hidden_layers, max(blocks, 1)
    return [int(i / (layers / groups)) for i in range(layers)]


BERT_LIKE = dict(kind="encoder", blocks=("encoder.layer",), pooler="pooler", pooling="cls")
# Llama's descendants: blocks `layers`, then the final RMSNorm `norm`.
LLAMA_LIKE = dict(kind="decoder", blocks=("layers",), after_blocks=("norm",), pooling="last")

FAMILIES: tuple[Family, ...] = (
    Family("BERT", ("bert",), **BERT_LIKE),
    Family("RoBERTa", ("roberta",), **BERT_LIKE),
    Family("XLM-R", ("xlm-roberta",), **BERT_LIKE),
    Family("ELECTRA", ("electra",), kind="encoder", blocks=("encoder.layer",)),
    Family("DistilBERT", ("distilbert",), kind="encoder", blocks=("transformer.layer",)),
    # ALBERT: one layer group (by default) shared by every depth, so its "top N blocks" are the
    # shared groups that run the top N depths: with one group, that group, used at every depth.
    Family("ALBERT", ("albert",), kind="encoder", blocks=("encoder.albert_layer_groups",), pooler="pooler",
           block_at_depth=albert_groups_at_depth),
    # DeBERTa's relative position embeddings (encoder.rel_embeddings, encoder.LayerNorm) feed every
    # block: like the word embeddings they are outside `top`.
    Family("DeBERTa-v2/v3", ("deberta-v2",), kind="encoder", blocks=("encoder.layer",)),
    Family("DeBERTa", ("deberta",), kind="encoder", blocks=("encoder.layer",)),
    Family("ModernBERT", ("modernbert",), kind="encoder", blocks=("layers",), after_blocks=("final_norm",)),
    Family("Llama", ("llama",), **LLAMA_LIKE),
    Family("Mistral", ("mistral",), **LLAMA_LIKE),
    Family("Qwen2", ("qwen2",), **LLAMA_LIKE),
    Family("Qwen3", ("qwen3",), **LLAMA_LIKE),
    Family("Gemma", ("gemma",), **LLAMA_LIKE),
    Family("Gemma 2", ("gemma2",), **LLAMA_LIKE),
    Family("Gemma 3", ("gemma3_text",), **LLAMA_LIKE),
    Family("GPT-2", ("gpt2",), kind="decoder", blocks=("h",), after_blocks=("ln_f",), pooling="last"),
    Family("Phi", ("phi",), kind="decoder", blocks=("layers",), after_blocks=("final_layernorm",), pooling="last"),
    Family("Phi-3", ("phi3",), **LLAMA_LIKE),
)

BY_MODEL_TYPE: dict[str, Family] = {t: family for family in FAMILIES for t in family.model_types}
