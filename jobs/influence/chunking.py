"""How many examples one influence-loss call of an update holds, chosen from the memory free.

An update's calls keep, per example, a differentiable gradient of every site in the scope: its
factors (inputs and output gradients of each Linear, per token) and the graph that produced them,
which the double backward walks. That is about

    bytes per example = FACTOR x element size x (tokens x (sum over Linear sites of d_in + d_out
                                                           + blocks x heads x tokens)
                                                 + relative positions)

with FACTOR measured at 5.5 on MiniLM (27 MiB per example at 23 tokens, float32); 8 leaves
head-room. DeBERTa's relative attention projects its 2 x span position embeddings through each
block's query and key per example (jobs/influence/fast: one example per forward), which adds
blocks x 4 x 2 span x hidden (deberta-v3-base: about 300 MiB per example, measured 13.4 GB at 43
per call before this term). A call gets MEMORY_SHARE of the memory available when the update starts (CUDA: the
device's free memory; CPU: MemAvailable), at most MAX_PER_CALL examples (larger calls are no
faster) and at least one tuple. On this machine's 24 GiB that keeps MiniLM at 96 (as before) and
a bert-base-shaped update over every parameter under 8 GB (docs/performance.md).
"""
from __future__ import annotations

import os

import torch
from torch import nn

FACTOR = 8
MEMORY_SHARE = 0.35
MAX_PER_CALL = 96


def available_bytes(device: torch.device) -> int:
    """Memory free for this process now: CUDA's free memory, else the kernel's MemAvailable."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def bytes_per_example(model: nn.Module, tokens: int) -> int:
    """The estimate above for one example of `tokens` tokens over every parameter of `model`."""
    width = sum(m.in_features + m.out_features for m in model.modules() if isinstance(m, nn.Linear))
    width += sum(sum(m.weight.shape) for m in model.modules() if type(m).__name__ == "Conv1D")  # GPT-2
    config = getattr(getattr(model, "encoder", model), "config", None)
    blocks = getattr(config, "num_hidden_layers", 0) or 0
    heads = getattr(config, "num_attention_heads", 0) or 0
    element = next(model.parameters()).element_size()
    relative = 0
    if getattr(config, "relative_attention", False):
        span = getattr(config, "position_buckets", -1)
        span = span if span and span > 0 else getattr(config, "max_relative_positions", -1)
        span = span if span and span > 0 else getattr(config, "max_position_embeddings", 512)
        relative = blocks * 4 * 2 * span * getattr(config, "hidden_size", 0)
    return FACTOR * element * (tokens * (width + blocks * heads * tokens) + relative)


def auto_examples_per_call(model: nn.Module, tokens: int, tuple_size: int, device: torch.device,
                           free: int | None = None) -> int:
    """Examples per call that fit MEMORY_SHARE of the free memory; between one tuple and MAX_PER_CALL."""
    free = available_bytes(device) if free is None else free
    fits = int(MEMORY_SHARE * free // max(1, bytes_per_example(model, tokens)))
    return max(tuple_size, min(MAX_PER_CALL, fits))
