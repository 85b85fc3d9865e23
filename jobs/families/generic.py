"""The generic path, for a model_type no family declares: find what an adapter would declare.

blocks:        the ModuleList of repeated blocks (children all of one class, each with parameters)
               holding the most parameters; None where the model has none.
after blocks:  the modules with parameters that run after the last block (a final norm, a
               pooler), seen in one forward of a 4-token text; where that forward fails, those
               whose parameters are registered after the blocks'.
kind:          a decoder where the config says so, or where transformers knows the model_type as a
               causal LM and not as a masked LM; else an encoder.
"""
from __future__ import annotations

from torch import nn

from jobs.families.family import Kind


def find_blocks(model: nn.Module) -> str | None:
    """Path of the largest ModuleList of same-class blocks, the outermost on a tie; None if none."""
    best, best_size = None, 0
    for name, module in model.named_modules():
        if not isinstance(module, nn.ModuleList) or len(module) == 0:
            continue
        if len({type(child) for child in module}) != 1:
            continue
        sizes = [sum(p.numel() for p in child.parameters()) for child in module]
        if min(sizes) == 0:
            continue
        if sum(sizes) > best_size:
            best, best_size = name, sum(sizes)
    return best


def modules_after(model: nn.Module, blocks: str) -> list[str]:
    """The modules (with parameters of their own, outside the blocks) that run after the last block."""
    try:
        return _run_after(model, blocks)
    except Exception:  # noqa: BLE001 - a forward this probe cannot make: registration order instead
        return _registered_after(model, blocks)


def _run_after(model: nn.Module, blocks: str) -> list[str]:
    import torch

    last_block = model.get_submodule(blocks)[-1]
    owners = {name: module for name, module in model.named_modules()
              if name and not (name + ".").startswith(blocks + ".") and any(True for _ in module.parameters(recurse=False))}
    order: list[str] = []
    handles = [module.register_forward_hook(lambda *_, name=name: order.append(name))
               for name, module in owners.items()]
    handles.append(last_block.register_forward_hook(lambda *_: order.append(blocks)))
    device = next(model.parameters()).device
    ids = torch.ones(1, 4, dtype=torch.long, device=device)
    training = model.training
    model.eval()  # no dropout: the probe draws nothing from the random generator
    try:
        with torch.no_grad():
            model(input_ids=ids, attention_mask=torch.ones_like(ids))
    finally:
        model.train(training)
        for handle in handles:
            handle.remove()
    after = order[len(order) - order[::-1].index(blocks):]
    return list(dict.fromkeys(after))


def _registered_after(model: nn.Module, blocks: str) -> list[str]:
    names = [n for n, _ in model.named_parameters()]
    inside = [i for i, n in enumerate(names) if n.startswith(blocks + ".")]
    if not inside:
        return []
    owners: list[str] = []
    for name in names[inside[-1] + 1:]:
        owner = name.rsplit(".", 1)[0] if "." in name else name
        if not name.startswith(blocks + ".") and owner not in owners:
            owners.append(owner)
    return owners


def guess_kind(model: nn.Module) -> Kind:
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    config = model.config
    if getattr(config, "is_decoder", False):
        return "decoder"
    architectures = getattr(config, "architectures", None) or []
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures):
        return "decoder"
    model_type = getattr(config, "model_type", "")
    causal = model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES
    return "decoder" if causal else "encoder"
