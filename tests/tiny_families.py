"""Tiny random models of every family a researcher brings, saved as a user would have them.

Each is built from transformers' own config class (hidden size 64, 2 layers, 2 heads) with
MiniLM's tokenizer, and saved with `save_pretrained` to a directory that `load_model(path)`
reads like any Hugging Face checkpoint. Offline and a few MB each.

    path = tiny_family_dir("llama", tmp_path)            # one family
    for family in ENCODERS + DECODERS: ...                # the matrix

Decoders are saved with a tokenizer whose pad token is removed (as Llama's, Mistral's and GPT-2's
ship), so the loader has to give them one. `pad_side` picks where the tokenizer pads.
"""
from __future__ import annotations

from pathlib import Path

ENCODERS = ["bert", "roberta", "xlm-roberta", "electra", "distilbert", "albert", "deberta-v2", "modernbert"]
DECODERS = ["llama", "mistral", "qwen2", "qwen3", "gemma", "gpt2", "phi"]

HIDDEN, LAYERS, HEADS, FFN = 64, 2, 2, 128


def _config(family: str, vocab_size: int, pad_id: int):
    """The family's config class at the tiny shape; eager attention (double backward on the CPU)."""
    import transformers as t

    common = dict(vocab_size=vocab_size, attn_implementation="eager")
    bert_like = dict(hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                     intermediate_size=FFN, max_position_embeddings=512, pad_token_id=pad_id)
    decoder = dict(hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS, num_key_value_heads=1,
                   intermediate_size=FFN, max_position_embeddings=512, head_dim=HIDDEN // HEADS)
    build = {
        "bert": lambda: t.BertConfig(**common, **bert_like),
        "roberta": lambda: t.RobertaConfig(**common, **bert_like),
        "xlm-roberta": lambda: t.XLMRobertaConfig(**common, **bert_like),
        "electra": lambda: t.ElectraConfig(**common, **bert_like, embedding_size=32),
        "distilbert": lambda: t.DistilBertConfig(**common, dim=HIDDEN, n_layers=LAYERS, n_heads=HEADS,
                                                 hidden_dim=FFN, pad_token_id=pad_id),
        "albert": lambda: t.AlbertConfig(**common, **bert_like, embedding_size=32),
        "deberta-v2": lambda: t.DebertaV2Config(**common, **bert_like, relative_attention=True,
                                                pos_att_type=["c2p", "p2c"], position_buckets=32,
                                                max_relative_positions=-1, share_att_key=True, norm_rel_ebd="layer_norm"),
        "modernbert": lambda: t.ModernBertConfig(**common, hidden_size=HIDDEN, num_hidden_layers=LAYERS,
                                                 num_attention_heads=HEADS, intermediate_size=FFN,
                                                 pad_token_id=pad_id, global_attn_every_n_layers=2, local_attention=16),
        "llama": lambda: t.LlamaConfig(**common, **decoder),
        "mistral": lambda: t.MistralConfig(**common, **decoder),
        "qwen2": lambda: t.Qwen2Config(**common, **decoder),
        "qwen3": lambda: t.Qwen3Config(**common, **decoder),
        "gemma": lambda: t.GemmaConfig(**common, **decoder),
        "gpt2": lambda: t.GPT2Config(**common, n_embd=HIDDEN, n_layer=LAYERS, n_head=HEADS, n_positions=512),
        "phi": lambda: t.PhiConfig(**common, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                                   intermediate_size=FFN, max_position_embeddings=512),
    }
    if family not in build:
        raise ValueError(f"unknown family '{family}'; known: {', '.join(build)}")
    return build[family]()


def tiny_family_dir(family: str, root: Path, seed: int = 0, pad_side: str = "right") -> Path:
    """Save a random tiny `family` model and its tokenizer under root/family (built once per root)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from jobs.models import minilm_path

    target = Path(root) / f"{family}-{pad_side}"
    if (target / "config.json").exists():
        return target
    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    tokenizer.padding_side = pad_side
    config = _config(family, tokenizer.vocab_size, tokenizer.pad_token_id)
    if family in DECODERS:
        config.bos_token_id = tokenizer.cls_token_id
        config.eos_token_id = tokenizer.sep_token_id
    torch.manual_seed(seed)
    model = AutoModel.from_config(config)
    if family in DECODERS:
        # As decoder checkpoints ship: no pad token; [SEP] plays end of sequence.
        tokenizer.pad_token = None
        tokenizer.eos_token = "[SEP]"
        model.config.pad_token_id = None
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target
