"""Wall time and peak memory of one piece of work.

Memory: on CUDA the peak of torch's allocator; on the CPU the peak resident set size above the
level at the start, sampled every 2 ms by a thread (allocations shorter than that can be missed;
memory the allocator keeps from earlier work is not counted again)."""
from __future__ import annotations

import ctypes
import os
import threading
import time
from dataclasses import dataclass

import torch


def _release_freed_memory() -> None:
    """Hand memory that earlier work freed back to the OS, so the next peak counts from a true
    start (glibc keeps freed blocks otherwise, and a later peak inside them would not show)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclass
class Measured:
    seconds: float
    peak_mb: float
    value: object = None


def measure(work, device: torch.device) -> Measured:
    """Run work() once: its wall time (s), peak memory (MiB) and return value."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        start_bytes = torch.cuda.memory_allocated(device)
        started = time.perf_counter()
        value = work()
        torch.cuda.synchronize(device)
        seconds = time.perf_counter() - started
        return Measured(seconds, (torch.cuda.max_memory_allocated(device) - start_bytes) / 2**20, value)
    _release_freed_memory()
    start_bytes = _rss_bytes()
    peak = [start_bytes]
    done = threading.Event()

    def sample():
        while not done.wait(0.002):
            peak[0] = max(peak[0], _rss_bytes())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    started = time.perf_counter()
    try:
        value = work()
    finally:
        seconds = time.perf_counter() - started
        done.set()
        thread.join()
    peak[0] = max(peak[0], _rss_bytes())
    return Measured(seconds, (peak[0] - start_bytes) / 2**20, value)
