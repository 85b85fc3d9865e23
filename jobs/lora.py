"""LoRA adapters on a classifier's encoder (PEFT), and their part of a saved model.

    targets = add_lora(model, LoraSpec(r=8, alpha=16, targets=["q", "v"]))
    adapter_state(model)              # what a saved LoRA model keeps: adapters and head
    load_adapter_state(model, state)  # the reverse, on a model that add_lora has prepared

add_lora injects PEFT's LoRA layers into the encoder in place (peft.inject_adapter_in_model: the
module paths stay the encoder's own, so layer_names() and the parameter scopes read them as
before), freezes every encoder parameter but the adapters', and leaves the classifier head
trainable. Each adapted Linear then computes base(x) + (alpha / r) * lora_B(lora_A(dropout(x))),
where lora_A and lora_B are plain nn.Linear modules: the fast influence engine's Linear sites
(jobs.influence.fast.sites) cover them exactly, and influence is taken in eval mode, where the
dropout is the identity.

Targets are the short names of TARGETS, which each family spells its own way (BERT's "query",
Llama's "q_proj", DistilBERT's "q_lin"...), or any module-name suffix. A short name takes the
first of its spellings that the model has; a target that matches no Linear is refused, naming the
model's Linear modules, never silently left out.

A saved LoRA model (jobs.saved_model) holds the adapters and the head alone with the base model's
name; BASE_CHECK records a checksum of the frozen base, which the reload compares.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn

from jobs.spec import LoraSpec

ADAPTER_NAME = "default"
# The LoraSpec a classifier's adapters were made with, kept on the model itself, so that it
# travels with it (NeuronTune's parent, a saved model).
SPEC_ATTRIBUTE = "lora_spec"
# Each short target name's spellings, in order of preference, as module-name suffixes.
TARGETS: dict[str, tuple[str, ...]] = {
    "q": ("attention.self.query", "query_proj", "q_proj", "q_lin", "attention.query"),
    "k": ("attention.self.key", "key_proj", "k_proj", "k_lin", "attention.key"),
    "v": ("attention.self.value", "value_proj", "v_proj", "v_lin", "attention.value"),
    "o": ("attention.output.dense", "o_proj", "out_lin", "attn.Wo", "attn.c_proj", "self_attn.dense",
          "attention.dense"),
    "qkv": ("Wqkv", "c_attn", "query_key_value", "qkv_proj"),
}
FUSED = TARGETS["qkv"]
# What a saved LoRA model keeps beside model.pt: the LoraSpec, the adapted modules, the base check.
ADAPTER_FILE = "lora.json"
BASE_CHECK_RTOL = 1e-6
CHECK_CHUNK = 1 << 22


def _linear_modules(encoder: nn.Module) -> list[str]:
    """Names of the encoder's modules that LoRA can adapt: Linear, and GPT-2's Conv1D."""
    return [name for name, module in encoder.named_modules()
            if isinstance(module, nn.Linear) or type(module).__name__ == "Conv1D"]


def _matches(name: str, suffix: str) -> bool:
    return name == suffix or name.endswith("." + suffix)


def resolve_targets(encoder: nn.Module, targets: list[str]) -> list[str]:
    """The encoder's module names (relative to it) that `targets` select, in module order."""
    linear = _linear_modules(encoder)
    chosen: set[str] = set()
    for target in targets:
        spellings = TARGETS.get(target, (target,))
        found = next(([n for n in linear if _matches(n, s)] for s in spellings
                      if any(_matches(n, s) for n in linear)), [])
        if not found:
            fused = [n for n in linear if any(_matches(n, s) for s in FUSED)]
            hint = (f"; its attention projection is fused ({fused[0].rsplit('.', 1)[-1]}): use target qkv"
                    if fused and target in ("q", "k", "v") else "")
            shown = sorted({n.split(".")[-1] if n.split(".")[-1] != "dense" else ".".join(n.split(".")[-2:])
                            for n in linear})
            raise ValueError(f"LoRA target '{target}' matches no Linear module of this model (looked for "
                             f"{', '.join(spellings)}){hint}. Its Linear modules end in: {', '.join(shown)}")
        chosen.update(found)
    return [n for n in linear if n in chosen]


def add_lora(model: nn.Module, spec: LoraSpec) -> list[str]:
    """Inject LoRA adapters into model.encoder, freeze the rest of the encoder, keep the head
    trainable; return the adapted modules' names. The adapters start as PEFT starts them
    (lora_B = 0: the model computes what it did before)."""
    try:
        from peft import LoraConfig, inject_adapter_in_model
    except ImportError as error:
        raise ImportError("LoRA needs PEFT: pip install 'deconfound[lora]' (or peft)") from error

    if getattr(model, SPEC_ATTRIBUTE, None) is not None:
        raise ValueError("the model has LoRA adapters already")
    encoder = model.encoder
    modules = resolve_targets(encoder, spec.targets)
    fan_in_fan_out = any(type(encoder.get_submodule(n)).__name__ == "Conv1D" for n in modules)
    config = LoraConfig(r=spec.r, lora_alpha=spec.alpha, lora_dropout=spec.dropout, target_modules=modules,
                        fan_in_fan_out=fan_in_fan_out, bias="none")
    reference = next(model.parameters())
    inject_adapter_in_model(config, encoder, adapter_name=ADAPTER_NAME)
    for name, parameter in encoder.named_parameters():
        parameter.requires_grad_(is_adapter(name))
    for parameter in model.head.parameters():
        parameter.requires_grad_(True)
    model.to(device=reference.device, dtype=reference.dtype)  # the adapters are made in float32 on the CPU
    setattr(model, SPEC_ATTRIBUTE, spec)
    return modules


def is_adapter(name: str) -> bool:
    """Whether a parameter name is a LoRA adapter's (lora_A / lora_B)."""
    return ".lora_A." in name or ".lora_B." in name or name.startswith(("lora_A.", "lora_B."))


def lora_of(model: nn.Module) -> LoraSpec | None:
    """The LoraSpec of a model's adapters (None: a model without)."""
    return getattr(model, SPEC_ATTRIBUTE, None)


def adapter_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """(name, parameter) of the adapters, in the model's parameter order."""
    return [(n, p) for n, p in model.named_parameters() if is_adapter(n)]


def describe_lora(model: nn.Module, modules: list[str]) -> str:
    """One line for the job's log: the adapters and how many parameters train."""
    spec = lora_of(model)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    kinds = sorted({n.rsplit(".", 1)[-1] for n in modules})
    return (f"LoRA r={spec.r}, alpha={spec.alpha:g}, dropout={spec.dropout:g} on {len(modules)} modules "
            f"({', '.join(kinds)}); the base is frozen: {trainable:,} of {total:,} parameters train "
            f"(adapters and head)")


def base_check(model: nn.Module) -> dict[str, float | int]:
    """A checksum of the frozen parameters: their count and the float64 sums of their values and
    squares, to tell a reload on another base from one on the same."""
    total, squares, count = 0.0, 0.0, 0
    for _, p in model.named_parameters():
        if p.requires_grad:
            continue
        count += p.numel()
        for chunk in p.detach().reshape(-1).split(CHECK_CHUNK):  # float64 copies of a chunk at a time
            chunk = chunk.double()
            total += float(chunk.sum())
            squares += float(chunk.square().sum())
    return {"parameters": count, "sum": total, "sum_squares": squares}


def adapter_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """What a saved LoRA model keeps: the trainable parameters (adapters, head) and the head's
    buffers (a NeuronTune head's mask); not the frozen base."""
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    return {n: t for n, t in model.state_dict().items() if n in trainable or n.startswith("head.")}


def save_adapter(model: nn.Module, directory: Path) -> None:
    """Write ADAPTER_FILE: the LoraSpec, the adapted modules and the base check."""
    modules = sorted({n.rsplit(".lora_A.", 1)[0].removeprefix("encoder.")
                      for n, _ in adapter_parameters(model) if ".lora_A." in n})
    payload = {"lora": lora_of(model).model_dump(), "modules": modules, "base": base_check(model)}
    (directory / ADAPTER_FILE).write_text(json.dumps(payload, indent=2))


def saved_lora(directory: Path) -> LoraSpec | None:
    """The LoraSpec of a saved model (None: not a LoRA model)."""
    path = directory / ADAPTER_FILE
    return LoraSpec.model_validate(json.loads(path.read_text())["lora"]) if path.is_file() else None


def load_adapter_state(model: nn.Module, state: dict[str, torch.Tensor], directory: Path) -> None:
    """Load a saved LoRA model's state into `model` (its base loaded, add_lora applied): every
    adapter and head tensor must be there and nothing else, and the base must be the one the
    adapters were trained on (the base check, to a relative BASE_CHECK_RTOL)."""
    result = model.load_state_dict(state, strict=False)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    missing = [n for n in result.missing_keys if n in trainable]
    if missing or result.unexpected_keys:
        raise ValueError(f"{directory}: the saved adapters do not fit the model: missing {missing[:5]}, "
                         f"unexpected {result.unexpected_keys[:5]}")
    saved = json.loads((directory / ADAPTER_FILE).read_text())["base"]
    found = base_check(model)
    scale = math.sqrt(saved["parameters"] * saved["sum_squares"])     # bounds |sum| (Cauchy-Schwarz)
    if found["parameters"] != saved["parameters"] or any(
            not math.isclose(found[k], saved[k], rel_tol=BASE_CHECK_RTOL, abs_tol=BASE_CHECK_RTOL * scale)
            for k in ("sum", "sum_squares")):
        raise ValueError(f"{directory}: the base model's weights are not those the adapters were trained on "
                         f"(base check {saved}, found {found}): the model name or path now holds other weights")


def lora_scope(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """Influence scope "lora": the trainable adapters' parameters; refused on a model without."""
    adapters = [(n, p) for n, p in adapter_parameters(model) if p.requires_grad]
    if not adapters:
        raise ValueError("scope 'lora' is the LoRA adapters' parameters, and this model has none "
                         "(train it with lora set, e.g. --lora r=8,alpha=16,targets=q,v)")
    return adapters
