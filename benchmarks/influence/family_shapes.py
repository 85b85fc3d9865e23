"""Random models of real shapes, one per family, for `deconfound bench --families`.

No weights can be downloaded here, and speed and memory depend on the shape, not on the values:
each family's config class at its published base size, with random weights, saved once to a cache
directory that `load_model(path)` reads like any checkpoint. The tokenizer is MiniLM's; every
shape's vocabulary is at least as large (its embedding keeps the real row count), so token ids
stay valid and the word-embedding gradients are the real size.

    bert-base          BertConfig() defaults: 12 x 768, 110M parameters
    deberta-v3-base    12 x 768, relative attention (c2p, p2c), 128k vocabulary, 184M
    modernbert-base    22 x 768, alternating local/global attention, 50k vocabulary, 149M
    qwen2-0.5b-lora    Qwen2-0.5B's shape (24 x 896, GQA 14/2, tied 152k embeddings), LoRA r=8 on q, v
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class FamilyShape:
    name: str
    config: dict
    model_type: str
    lora: dict | None = field(default=None)  # LoRA options: the base frozen, scope "lora"

    @property
    def scope(self) -> str:
        return "lora" if self.lora else "all"


SHAPES = {
    "bert-base": FamilyShape("bert-base", {}, "bert"),
    "deberta-v3-base": FamilyShape("deberta-v3-base", dict(
        vocab_size=128100, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
        max_position_embeddings=512, relative_attention=True, position_buckets=256, norm_rel_ebd="layer_norm",
        share_att_key=True, pos_att_type=["p2c", "c2p"], max_relative_positions=-1, position_biased_input=False,
        type_vocab_size=0, layer_norm_eps=1e-7), "deberta-v2"),
    "modernbert-base": FamilyShape("modernbert-base", dict(
        vocab_size=50368, hidden_size=768, num_hidden_layers=22, num_attention_heads=12, intermediate_size=1152,
        global_attn_every_n_layers=3, local_attention=128, pad_token_id=0), "modernbert"),
    "qwen2-0.5b-lora": FamilyShape("qwen2-0.5b-lora", dict(
        vocab_size=151936, hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
        intermediate_size=4864, max_position_embeddings=32768, rope_theta=1000000.0, tie_word_embeddings=True,
        rms_norm_eps=1e-6), "qwen2", lora={"r": 8, "alpha": 16, "targets": ["q", "v"]}),
}


def shape_dir(name: str, cache: Path) -> Path:
    """The saved random model of shape `name` under `cache` (built on first use; several GB for Qwen)."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from jobs.models import minilm_path

    shape = SHAPES[name]
    target = Path(cache) / name
    if (target / "config.json").exists():
        return target
    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    config = AutoConfig.for_model(shape.model_type, **shape.config)
    if shape.model_type == "qwen2":
        config.bos_token_id, config.eos_token_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    torch.manual_seed(0)
    model = AutoModel.from_config(config)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target
