"""Stops the run when should_stop() turns true: before the first step left, before a label step,
and after a hook that stopped at a boundary (run.interrupted)."""
from __future__ import annotations

from collections.abc import Callable

from jobs.methods.callbacks.base import Callback
from jobs.methods.training import Stop, Training


class StopCheck(Callback):
    def __init__(self, should_stop: Callable[[], bool]):
        self.should_stop = should_stop

    def on_train_begin(self, training: Training) -> None:
        if self.should_stop():
            training.stop = Stop(training.first_step, whole=not training.pending)

    def on_step_begin(self, training: Training, step: int) -> None:
        if self.should_stop():  # a stop asked for during a step lets that step finish first
            training.stop = Stop(step - 1, whole=True)

    def on_step_end(self, training: Training, step: int, measured: bool) -> None:
        if self.should_stop() and training.run.interrupted:
            training.stop = Stop(step, whole=False)
