"""Checkpoints (jobs.checkpoint): the state after a label step when one is due, inside a hook's
long work at run.boundary() when due or stopping, and on a stop between steps unless that state
is already saved. A failed save (a full disk, a busy store) is logged and training goes on."""
from __future__ import annotations

from jobs.checkpoint import Checkpointer
from jobs.methods.callbacks.base import Callback
from jobs.methods.training import Stop, Training


class Checkpoints(Callback):
    """saved: the (step, whole) the checkpoint on disk holds; at the start, where the run resumed
    from (nothing to add there)."""

    def __init__(self, checkpointer: Checkpointer, saved: tuple[int, bool]):
        self.checkpointer, self.saved = checkpointer, saved

    def save(self, training: Training, step: int, whole: bool) -> None:
        try:
            self.checkpointer.save(training.state(step, whole), training.recorder)
            self.saved = (step, whole)
        except Exception as error:  # a full disk or a busy store: training goes on without it
            training.recorder.log(f"checkpoint after step {step} not saved: {type(error).__name__}: {error}")

    def on_step_end(self, training: Training, step: int, measured: bool) -> None:
        if step < training.total_steps and self.checkpointer.due():
            self.save(training, step, whole=True)

    def on_boundary(self, training: Training, step: int, stopping: bool) -> None:
        if stopping or self.checkpointer.due():
            self.save(training, step, whole=False)

    def on_stop(self, training: Training, stop: Stop) -> None:
        # A hook that stopped at a boundary has saved its own state (whole=False).
        if stop.whole and self.saved != (stop.step, True):
            self.save(training, stop.step, whole=True)
