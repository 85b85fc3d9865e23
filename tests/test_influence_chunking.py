"""An update's calls are sized from the memory free (jobs/influence/chunking.py), and the size
changes how the work is cut, never the gradient."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import jobs.influence.update as update
from jobs.influence import InfluenceArguments
from jobs.influence.chunking import MAX_PER_CALL, auto_examples_per_call, available_bytes, bytes_per_example
from jobs.influence.update import accumulate_influence_gradient
from tests.helpers import jittered_tiny64

TEXTS = [f"positive . {' '.join(['word'] * n)}" for n in range(3, 15)] + \
        [f"negative . {' '.join(['other'] * n)}" for n in range(3, 15)]
LABELS = np.array([1] * 12 + [0] * 12)


@pytest.fixture(scope="module")
def tiny64():
    return jittered_tiny64(TEXTS, LABELS)


def test_the_estimate_grows_with_tokens_and_the_size_with_memory(tiny64):
    model, _ = tiny64
    assert 0 < bytes_per_example(model, 10) < bytes_per_example(model, 40)
    per_example = bytes_per_example(model, 32)
    assert auto_examples_per_call(model, 32, 11, torch.device("cpu"), free=0) == 11  # at least one tuple
    assert auto_examples_per_call(model, 32, 11, torch.device("cpu"), free=10**15) == MAX_PER_CALL
    middle = auto_examples_per_call(model, 32, 11, torch.device("cpu"), free=int(40 * per_example / 0.35))
    assert 11 < middle < MAX_PER_CALL and abs(middle - 40) <= 1
    assert available_bytes(torch.device("cpu")) > 0


def test_calls_sized_from_little_memory_give_the_same_gradient(tiny64, monkeypatch):
    """Little memory: one tuple per call; the default: all tuples in one call; J and dJ/dtheta agree."""
    model, examples = tiny64
    probes, a, b = examples.take([0, 5, 13, 20]), examples.take(list(range(1, 9))), examples.take(list(range(12, 20)))

    def gradient():
        model.zero_grad(set_to_none=True)
        j = accumulate_influence_gradient(model, probes, a, b, InfluenceArguments())
        return j, torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.grad is not None])

    calls = []
    original = update.influence_loss
    monkeypatch.setattr(update, "influence_loss", lambda *args, **kw: calls.append(len(args[1])) or original(*args, **kw))
    j_ample, grad_ample = gradient()
    assert calls == [4]
    calls.clear()
    monkeypatch.setattr(update, "auto_examples_per_call", lambda model, tokens, size, device: size)
    j_tight, grad_tight = gradient()
    assert calls == [1, 1, 1, 1]
    assert j_tight == pytest.approx(j_ample, rel=1e-12)
    torch.testing.assert_close(grad_tight, grad_ample, rtol=1e-10, atol=1e-14)
