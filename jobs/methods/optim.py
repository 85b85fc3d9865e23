"""Optimisers and the learning-rate schedule of the paper's runs.

adamw:    torch's AdamW (bias correction, eps 1e-8), with global gradient-norm clipping done by
          `clip_gradients` before each step: the modern default.
bertadam: the original BERT optimiser the paper used: no bias correction, eps 1e-6, decoupled
          weight decay, and each tensor's gradient clipped to norm `max_grad_norm` on its own
          inside step(). Without bias correction the first steps are small (m starts at 0), which
          is part of why the original runs behave as they do.

Both decay every weight except biases and LayerNorm parameters, as BERT's recipe does. The
schedule is linear warm-up then linear decay to 0 over the run's real number of steps; the
original counted floor(N / batch) * epochs steps and ran its last ones at lr 0.
"""
from __future__ import annotations

import torch
from torch import nn
from transformers import get_linear_schedule_with_warmup

OPTIMIZERS = ("adamw", "bertadam")
NO_DECAY = ("bias", "LayerNorm.weight", "LayerNorm.bias")


class BertAdam(torch.optim.Optimizer):
    """Adam without bias correction, per-tensor clipping and decoupled weight decay.

    For each parameter p with gradient g (after clipping g to norm max_grad_norm):
        m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
        p = p - lr * (m / (sqrt(v) + eps) + weight_decay * p)
    """

    def __init__(self, params, lr: float = 2e-5, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-6, weight_decay: float = 0.01, max_grad_norm: float | None = 1.0):
        if lr <= 0 or eps <= 0 or not 0 <= betas[0] < 1 or not 0 <= betas[1] < 1:
            raise ValueError(f"invalid BertAdam settings: lr {lr}, betas {betas}, eps {eps}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, max_grad_norm=max_grad_norm)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if group["max_grad_norm"]:
                    nn.utils.clip_grad_norm_(p, group["max_grad_norm"])
                grad = p.grad
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                update = m / (v.sqrt() + group["eps"])
                if group["weight_decay"]:
                    update.add_(p, alpha=group["weight_decay"])
                p.add_(update, alpha=-group["lr"])
        return loss


def parameter_groups(named_parameters, weight_decay: float, lr_by_prefix: dict[str, float] | None = None) -> list[dict]:
    """Decayed weights, and biases / LayerNorm parameters without decay; parameters whose name
    starts with a prefix of `lr_by_prefix` get groups of their own at that learning rate."""
    named = [(n, p) for n, p in named_parameters if p.requires_grad]
    own = lr_by_prefix or {}

    def prefix_of(name: str) -> str | None:
        return next((prefix for prefix in own if name.startswith(prefix)), None)

    groups = []
    for prefix in (None, *own):  # the train-lr groups first, and always (callers read group 0)
        members = [(n, p) for n, p in named if prefix_of(n) == prefix]
        for decay, chosen in ((weight_decay, [p for n, p in members if not n.endswith(NO_DECAY)]),
                              (0.0, [p for n, p in members if n.endswith(NO_DECAY)])):
            if prefix is None or chosen:
                groups.append({"params": chosen, "weight_decay": decay, **({"lr": own[prefix]} if prefix else {})})
    return groups


def make_optimizer(named_parameters, kind: str, lr: float, weight_decay: float = 0.01,
                   grad_clip: float | None = 1.0, lr_by_prefix: dict[str, float] | None = None) -> torch.optim.Optimizer:
    """The optimiser `kind` ("adamw" | "bertadam") over (name, parameter) pairs, at `lr` except
    for the parameters named by a prefix of `lr_by_prefix` (e.g. {"adversary.": 1e-3}).

    grad_clip: BertAdam clips each tensor to it inside step(); for AdamW call clip_gradients."""
    groups = parameter_groups(named_parameters, weight_decay, lr_by_prefix)
    if kind == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    if kind == "bertadam":
        return BertAdam(groups, lr=lr, max_grad_norm=grad_clip)
    raise ValueError(f"unknown optimizer '{kind}'; valid: {', '.join(OPTIMIZERS)}")


def clip_gradients(optimizer: torch.optim.Optimizer, grad_clip: float | None) -> None:
    """Clip the global gradient norm of the optimiser's parameters (BertAdam clips its own)."""
    if grad_clip and not isinstance(optimizer, BertAdam):
        params = [p for group in optimizer.param_groups for p in group["params"]]
        nn.utils.clip_grad_norm_(params, grad_clip)


def reset_moments(optimizer: torch.optim.Optimizer) -> None:
    """Forget the running moments (the original did this to the label optimiser after every
    influence-tuning round)."""
    optimizer.state.clear()


def linear_schedule(optimizer: torch.optim.Optimizer, total_steps: int, warmup: float = 0.1):
    """Linear warm-up over int(warmup * total_steps) steps, then linear decay to 0 at total_steps.

    Call schedule.step() after every optimiser step; the lr after the last one is exactly 0."""
    return get_linear_schedule_with_warmup(optimizer, int(warmup * total_steps), total_steps)
