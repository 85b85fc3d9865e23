"""Small builders shared by several test modules, and the suite's one way to wait.

Waiting: the tests never assert how long something took and never sleep a fixed time as the
check. They poll for the event they need (a job's status, a page's text, a process's exit) with
one generous ceiling, WAIT_S, that only a hang reaches: 600 s by default, set by the environment
variable DECONFOUND_TEST_WAIT_S. A suite at load 20-60 is slow, not broken; on a quiet machine the
events come in seconds and the ceiling costs nothing. pytest-timeout's per-test limit is a
multiple of it (tests/conftest.py), for a test that hangs outside these helpers.
"""
from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

WAIT_S = float(os.environ.get("DECONFOUND_TEST_WAIT_S", "600"))
# Where the family matrix (tests/test_families.py) runs its jobs: "cpu" here; benchmarks/gpu/check.sh
# sets "cuda" on a GPU machine.
TEST_DEVICE = os.environ.get("DECONFOUND_TEST_DEVICE", "cpu")
# A test may wait several times (a job to start, then to finish, then a page to draw it).
TEST_TIMEOUT_S = 3 * WAIT_S

T = TypeVar("T")


def event_clock() -> float:
    """A monotonic timestamp for a test that checks the engine's own timing of events against
    the events it timed (an ETA that must count a CID point's measured seconds), never a speed."""
    return time.perf_counter()


def ceiling(timeout_s: float | None = None) -> float:
    """How long a wait may last: WAIT_S, or more where a caller asks for more. A smaller number
    (the old per-call timeouts) never shortens it."""
    return max(WAIT_S, timeout_s or 0.0)


def wait_for(predicate: Callable[[], T], what: str, timeout_s: float | None = None, every_s: float = 0.2,
             retry_on: tuple[type[BaseException], ...] = ()) -> T:
    """Poll predicate() until it is truthy and return its value; fail the test after the ceiling,
    saying what was awaited. Exceptions of the types in retry_on (a page still rendering) are
    retried; the last one is shown if the wait fails."""
    limit = ceiling(timeout_s)
    deadline = time.monotonic() + limit
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except retry_on as error:
            last_error = error
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit:.0f}s (DECONFOUND_TEST_WAIT_S) waiting for {what}"
                                 + (f" (last error: {last_error!r})" if last_error else ""))
        time.sleep(every_s)


def wait_exit(process: subprocess.Popen, what: str = "", timeout_s: float | None = None) -> int:
    """Wait for a subprocess to exit and return its exit status; fail the test (not the run)
    after the ceiling."""
    limit = ceiling(timeout_s)
    try:
        return process.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{what or process.args} still running after {limit:.0f}s "
                             "(DECONFOUND_TEST_WAIT_S)") from None


def communicate(process: subprocess.Popen, what: str = "", timeout_s: float | None = None) -> tuple:
    """process.communicate() with the suite's ceiling: (stdout, stderr)."""
    limit = ceiling(timeout_s)
    try:
        return process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{what or process.args} still running after {limit:.0f}s "
                             "(DECONFOUND_TEST_WAIT_S)") from None


def jittered_tiny64(texts: list[str], labels: np.ndarray, seed: int = 1, noise: float = 0.2):
    """(model, Examples) of `tiny` in float64, eval mode, weights jittered by N(0, noise^2).

    At initialisation every example's gradient points the same way (cosines of 0.9999, J near
    1e-10), which would make comparisons of scores or derivatives vacuous."""
    import torch

    from jobs.influence import Examples
    from jobs.models import encode, load_model

    loaded = load_model("tiny", dtype=torch.float64, device="cpu")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in loaded.model.parameters():
            p.add_(noise * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    loaded.model.eval()
    return loaded.model, Examples.from_encoded(encode(loaded.tokenizer, texts, 32), labels)
