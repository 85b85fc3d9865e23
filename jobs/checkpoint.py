"""Mid-job checkpoints: a run that dies (a killed worker, Ctrl-C, a restart) resumes at the label
step it last saved instead of from step 0.

    checkpointer = Checkpointer(directory, spec, every_s=300)
    state = checkpointer.latest()      # None, or what an earlier attempt of this job saved
    ... run_method(..., checkpointer=checkpointer, resume=state)   # saves at step ends and round updates

A checkpoint is taken after a whole label step (its method hook and diagnostics included), or
inside a hook's long work between two of its updates (an influence round: "whole" is False
then, and a resume goes on with the round's next update), at most every `every_s` seconds and
when the run is stopped. It holds everything the rest of the run depends on: the trial's seed,
the step, the model, the label optimiser and its schedule, the method's own state (an
adversary, the influence rounds' random generator, a round under way with its optimiser), the
torch random state (dropout) and the recorder's mark (what it had written by then), so that a
resumed run gives the same numbers as one that never stopped. Files are written to a temporary
name and renamed, so a process killed mid-write leaves the previous checkpoint whole.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import torch

from jobs.spec import JobSpec

FILE_NAME = "checkpoint.pt"


def _identity(spec: JobSpec) -> dict[str, Any]:
    """What must match for a checkpoint to continue a job: its spec, but for where it runs."""
    return spec.model_dump(mode="json", exclude={"device"})


def torch_random_state() -> dict[str, Any]:
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_torch_random_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Checkpointer:
    """Saves and finds the checkpoint of the job `spec` in `directory` (one file, replaced on each
    save). The runner sets `trial` (the trial's seed and attempt number) before training."""

    def __init__(self, directory: str | Path, spec: JobSpec, every_s: float = 300.0):
        self.directory, self.identity, self.every_s = Path(directory), _identity(spec), float(every_s)
        self.path = self.directory / FILE_NAME
        self.saved_at = time.monotonic()  # the run's start counts as the last save
        self.saves = 0
        self.saved_step: int | None = None  # the step of the last save of this process
        self.trial: dict[str, int] = {"seed": spec.seed, "attempts": 1}

    def due(self) -> bool:
        """True once `every_s` seconds have passed since the last save (or the start)."""
        return time.monotonic() - self.saved_at >= self.every_s

    def save(self, state: dict[str, Any], recorder) -> Path:
        """Write the loop's `state` (tensors, numbers, dicts; see run_method) atomically, with the
        job's identity, the trial and the recorder's mark (it flushes first: the mark covers
        every point recorded up to this state)."""
        mark = recorder.checkpoint(int(state["step"]))
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        torch.save({**state, "spec": self.identity, "trial": dict(self.trial), "recorder_mark": mark}, partial)
        os.replace(partial, self.path)
        self.saved_step = int(state["step"])
        self.saved_at = time.monotonic()
        self.saves += 1
        return self.path

    def latest(self) -> dict[str, Any] | None:
        """The saved state if there is one for this job (another spec's, or an unreadable file,
        is ignored: the run starts afresh)."""
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception:  # a file from an older version, or damaged: not worth failing the job
            return None
        return state if state.get("spec") == self.identity else None

    def discard(self) -> None:
        """Remove the checkpoint (the run finished, or a new trial starts)."""
        self.saved_step = None
        self.path.unlink(missing_ok=True)
        self.path.with_suffix(".partial").unlink(missing_ok=True)

