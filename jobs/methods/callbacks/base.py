"""The events of the shared loop (jobs.methods.loop), in the manner of HF Trainer's TrainerCallback.

    on_train_begin  set up, resumed or not, before the first label step left
    on_step_begin   before a label step            (not for a step a resume finds taken)
    on_label_step   after the optimiser step
    on_step_end     after the method's hook after the step (measured: the hook measured CID)
    on_boundary     inside the hook's long work, at run.boundary() (an influence round)
    on_stop         the run stops (Training.stop, set by a callback)

A callback stops the run by setting `training.stop`; an event ends at the callback that did, so
the callbacks after it (diagnostics, checkpoints) are skipped, as a stopped step has none.
"""
from __future__ import annotations

from collections.abc import Sequence

from jobs.methods.training import Stop, Training


class Callback:
    """One concern of the loop; each event does nothing unless overridden."""

    def on_train_begin(self, training: Training) -> None: ...

    def on_step_begin(self, training: Training, step: int) -> None: ...

    def on_label_step(self, training: Training, step: int) -> None: ...

    def on_step_end(self, training: Training, step: int, measured: bool) -> None: ...

    def on_boundary(self, training: Training, step: int, stopping: bool) -> None: ...

    def on_stop(self, training: Training, stop: Stop) -> None: ...


class Callbacks:
    """Fires each event at every callback in order; the stopping events return training.stop."""

    def __init__(self, callbacks: Sequence[Callback]):
        self.callbacks = list(callbacks)

    def _fire(self, training: Training, event: str, *args) -> Stop | None:
        for callback in self.callbacks:
            getattr(callback, event)(training, *args)
            if training.stop is not None:
                return training.stop
        return None

    def on_train_begin(self, training: Training) -> Stop | None:
        return self._fire(training, "on_train_begin")

    def on_step_begin(self, training: Training, step: int) -> Stop | None:
        return self._fire(training, "on_step_begin", step)

    def on_label_step(self, training: Training, step: int) -> None:
        self._fire(training, "on_label_step", step)

    def on_step_end(self, training: Training, step: int, measured: bool) -> Stop | None:
        return self._fire(training, "on_step_end", step, measured)

    def on_boundary(self, training: Training, step: int, stopping: bool) -> None:
        for callback in self.callbacks:
            callback.on_boundary(training, step, stopping)

    def on_stop(self, training: Training, stop: Stop) -> None:
        for callback in self.callbacks:
            callback.on_stop(training, stop)
