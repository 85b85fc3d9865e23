"""R3: the same pairwise gradient scores through peer libraries, ours / theirs.

Captum's TracInCP (sample_wise_grads_per_batch: per-example gradients from layer hooks) supports
nn.Linear layers only, so both sides score over exactly the parameters of the nn.Linear modules
(kind "dot": TracIn at one checkpoint with learning rate 1). It gets trimmed batches of similar
length, as ours does, so that padding costs neither side. Ours is warmed up, then timed before
and after Captum; the row's time is the mean of the two.

dattri's TracInAttributor (normalized_grad: gradient cosine) over all parameters takes each
example's full gradient with torch.func (vmap over grad over functional_call); its random
projection is switched off for exact scores. It runs in a child process with a time and memory
budget (dattri_peer.py): it needs the whole dense gradient, 22.7M numbers per MiniLM example.
"""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from torch import nn

from benchmarks.influence.cases import Row
from benchmarks.influence.measure import measure
from benchmarks.influence.workload import Workload
from jobs.influence import InfluenceArguments, eval_mode, pairwise_scores
from jobs.influence.fast import fast_gradient_scores
from jobs.influence.fast.batching import by_length


class LogitsOnly(nn.Module):
    """The classifier as peers expect it: forward(ids, mask) -> logits."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids, attention_mask)[0]


class _Batches(torch.utils.data.Dataset):
    def __init__(self, batches):
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i):
        return self.batches[i]


def relative_difference(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return float((ours.double() - theirs.double()).abs().max() / theirs.double().abs().max())


def captum(model, name, work: Workload, device, num_train=300, num_probes=40, batch=32) -> Row:
    label = f"R3 vs Captum TracInCP ({num_probes} x {num_train}, nn.Linear)"
    try:
        from captum.influence import TracInCP
    except ImportError as error:
        return Row(name, label, float("nan"), float("nan"), float("nan"), 0.4, float("nan"),
                   f"not run: captum cannot be imported ({error}); pip install captum", device.type)
    model.eval()
    probes, train = work.train.take(np.arange(num_probes)), work.train.take(np.arange(num_train))
    linear = [p for m in model.modules() if isinstance(m, nn.Linear) for p in m.parameters()]

    def run_ours():
        with eval_mode(model):
            return measure(lambda: fast_gradient_scores(model, probes, train, "dot", linear, batch_size=batch), device)

    with eval_mode(model):   # warm-up (kernels, allocator): Captum runs after ours, in a warm process
        fast_gradient_scores(model, probes.take(np.arange(2)), train.take(np.arange(4)), "dot", linear, batch_size=batch)
    before = run_ours()
    # TracInCP turns requires_grad off outside its layers: give it a copy
    peer = LogitsOnly(copy.deepcopy(model)).eval()
    layers = [n for n, m in peer.named_modules() if isinstance(m, nn.Linear)]
    order = by_length(train, batch)
    batches = [(sub.input_ids, sub.attention_mask, sub.labels)
               for sub in (train.take(index.numpy()) for index in order)]
    loader = torch.utils.data.DataLoader(_Batches(batches), batch_size=None)
    tracin = TracInCP(peer, loader, checkpoints=["in-memory"], checkpoints_load_func=lambda m, path: 1.0,
                      layers=layers, loss_fn=nn.CrossEntropyLoss(reduction="sum"), batch_size=None,
                      sample_wise_grads_per_batch=True)
    theirs = measure(lambda: tracin.influence((probes.input_ids, probes.attention_mask, probes.labels)), device)
    # ours once more after Captum: the mean of the two brackets it, so a load that drifts during
    # the run (a shared machine) weighs on both sides alike
    after = run_ours()
    seconds = (before.seconds + after.seconds) / 2
    scores = torch.empty_like(before.value)
    scores[:, torch.cat(order)] = theirs.value.detach().cpu().to(scores.dtype)
    agree = relative_difference(before.value, scores)
    return Row(name, label, seconds, theirs.seconds, seconds / theirs.seconds, 0.4,
               max(before.peak_mb, after.peak_mb, 0.0),
               f"captum {theirs.seconds:.1f}s, peak {theirs.peak_mb:.0f} MiB; ours {before.seconds:.1f}s before, "
               f"{after.seconds:.1f}s after; scores agree to {agree:.1e} (goal 1e-4)", device.type)


def dattri(model, name, work: Workload, device, num_train=300, num_probes=40, batch=50, budget_s=300,
           memory_gb=6.0) -> Row:
    label = f"R3 vs dattri TracIn cosine ({num_probes} x {num_train}, all)"
    probes, train = work.train.take(np.arange(num_probes)), work.train.take(np.arange(num_train))
    model.eval()
    ours = measure(lambda: pairwise_scores(model, probes, train, InfluenceArguments(kind="cosine", scope="all")), device)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "dattri.json")
        command = [sys.executable, "-m", "benchmarks.influence.dattri_peer", "--model", name, "--train",
                   str(num_train), "--probes", str(num_probes), "--batch", str(batch), "--out", out,
                   "--size", str(len(work.train)), "--threads", str(torch.get_num_threads())]
        outcome, seconds, peak_gb = _run_with_budget(command, budget_s, memory_gb)
        if outcome == "done" and os.path.exists(out):
            with open(out) as f:
                result = json.load(f)
            theirs = torch.tensor(result["scores"], dtype=torch.float64).T          # [P, N]
            agree = relative_difference(ours.value, theirs)
            return Row(name, label, ours.seconds, result["seconds"], ours.seconds / result["seconds"], None,
                       ours.peak_mb, f"dattri {result['seconds']:.1f}s, peak {peak_gb:.1f} GB; "
                       f"scores agree to {agree:.1e}", device.type)
    why = {"time": f"did not finish within {budget_s}s", "memory": f"passed the {memory_gb:.0f} GB memory budget",
           "failed": "failed"}.get(outcome, outcome)
    return Row(name, label, ours.seconds, float("nan"), float("nan"), None, ours.peak_mb,
               f"dattri {why} (batch {batch}, {seconds:.0f}s, peak {peak_gb:.1f} GB); ours finished", device.type)


def _run_with_budget(command, budget_s: float, memory_gb: float) -> tuple[str, float, float]:
    """Run command; stop it past budget_s seconds or memory_gb resident. (outcome, s, peak GB)."""
    started, peak = time.perf_counter(), 0.0
    log = tempfile.TemporaryFile(mode="w+")      # not a pipe: progress bars would fill it and block
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, text=True)
    outcome = None
    while child.poll() is None:
        time.sleep(0.2)
        try:
            with open(f"/proc/{child.pid}/statm") as f:
                peak = max(peak, int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**30)
        except (FileNotFoundError, ProcessLookupError):
            break
        if peak > memory_gb:
            outcome = "memory"
        elif time.perf_counter() - started > budget_s:
            outcome = "time"
        if outcome:
            child.kill()
            child.wait()
            return outcome, time.perf_counter() - started, peak
    log.seek(0)
    stderr = log.read()
    log.close()
    if child.returncode != 0:
        last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {child.returncode}"
        return f"failed: {last[:160]}", time.perf_counter() - started, peak
    return "done", time.perf_counter() - started, peak
