"""A loaded model's layout: its family's declarations resolved against the modules it has.

    layout = resolve(base_model)        # base_model: what AutoModel loaded
    layout.top_blocks(2)                # prefixes of the blocks that run the top 2 depths
    layout.pooling                      # "pooler" | "cls" | "last"

Prefixes are relative to the base model. A declared family whose block path the model lacks, and
a model_type no family declares, go the generic way (jobs.families.generic); a model whose blocks
cannot be found either way has no `blocks`, and `top_blocks` refuses with `missing`, the reason.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass

from torch import nn

from jobs.families.declared import BY_MODEL_TYPE
from jobs.families.family import Family, Kind, Pooling, one_block_per_depth
from jobs.families.generic import find_blocks, guess_kind, modules_after

GENERIC = "generic"


@dataclass(frozen=True)
class Layout:
    """model_type: the config's; family: the declared family's name, or "generic".
    blocks: prefixes of the transformer blocks, bottom to top; block_at_depth: for each depth the
    model runs, the index into `blocks` of the block it runs (ALBERT shares one across depth).
    after_blocks: prefixes of what sits between the blocks and the head (final norm, pooler).
    positions_from_mask: a decoder's position ids are counted over its real tokens, so a text gets
    the same positions padded left or right. missing: why `blocks` is empty."""

    model_type: str
    family: str
    kind: Kind
    pooling: Pooling
    blocks: tuple[str, ...]
    block_at_depth: tuple[int, ...]
    after_blocks: tuple[str, ...]
    positions_from_mask: bool
    missing: str | None = None

    @property
    def declared(self) -> bool:
        return self.family != GENERIC

    def top_blocks(self, depths: int) -> list[str]:
        """Prefixes of the blocks that run the top `depths` depths, bottom to top.

        ALBERT: its layers are shared, so the top N depths run its shared layer group (the
        groups, where it has several): `top` differentiates the shared weights through every
        depth they run at."""
        if not self.blocks:
            raise ValueError(f"scope 'top' needs the transformer blocks, and {self.missing}: use scope 'all' "
                             "or 'head'")
        used = sorted(set(self.block_at_depth[-depths:]))
        return [self.blocks[i] for i in used]


def _module(model: nn.Module, path: str) -> nn.Module | None:
    try:
        return model.get_submodule(path)
    except AttributeError:
        return None


def _has_parameters(module: nn.Module | None) -> bool:
    return module is not None and any(True for _ in module.parameters())


def _takes_positions(model: nn.Module) -> bool:
    return "position_ids" in inspect.signature(model.forward).parameters


def _declared(model: nn.Module, family: Family, model_type: str) -> Layout | None:
    """The family's layout over `model`; None where the model has none of its block paths."""
    path = next((p for p in family.blocks if isinstance(_module(model, p), nn.ModuleList)), None)
    if path is None:
        return None
    count = len(model.get_submodule(path))
    after = [p for p in family.after_blocks if _has_parameters(_module(model, p))]
    pooler = family.pooler is not None and _has_parameters(_module(model, family.pooler))
    if pooler:
        after.append(family.pooler)
    return Layout(model_type=model_type, family=family.name, kind=family.kind,
                  pooling="pooler" if pooler else family.pooling,
                  blocks=tuple(f"{path}.{i}" for i in range(count)),
                  block_at_depth=tuple(family.block_at_depth(model.config, count)), after_blocks=tuple(after),
                  positions_from_mask=family.kind == "decoder" and _takes_positions(model))


def _generic(model: nn.Module, model_type: str, why: str) -> Layout:
    kind = guess_kind(model)
    pooler = kind == "encoder" and _has_parameters(_module(model, "pooler"))
    pooling: Pooling = "last" if kind == "decoder" else "pooler" if pooler else "cls"
    positions = kind == "decoder" and _takes_positions(model)
    path = find_blocks(model)
    if path is None:
        return Layout(model_type=model_type, family=GENERIC, kind=kind, pooling=pooling, blocks=(),
                      block_at_depth=(), after_blocks=("pooler",) if pooler else (), positions_from_mask=positions,
                      missing=f"{why}, and {type(model).__name__} has no ModuleList of repeated blocks")
    count = len(model.get_submodule(path))
    return Layout(model_type=model_type, family=GENERIC, kind=kind, pooling=pooling,
                  blocks=tuple(f"{path}.{i}" for i in range(count)),
                  block_at_depth=tuple(one_block_per_depth(model.config, count)),
                  after_blocks=tuple(modules_after(model, path)), positions_from_mask=positions)


def resolve(model: nn.Module) -> Layout:
    """The layout of a base model (what AutoModel loaded, or any module with a `config`)."""
    model_type = str(getattr(model.config, "model_type", "") or type(model).__name__)
    family = BY_MODEL_TYPE.get(model_type)
    if family is not None:
        found = _declared(model, family, model_type)
        if found is not None:
            return found
        why = f"{family.name}'s blocks ({', '.join(family.blocks)}) are not in {type(model).__name__}"
    else:
        why = f"model type '{model_type}' is not a declared family"
    return _generic(model, model_type, why)
