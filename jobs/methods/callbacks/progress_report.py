"""The phase and the ETA (jobs.methods.run_progress): label steps timed, "training" reported
after each step's diagnostics."""
from __future__ import annotations

import time

from jobs.methods.callbacks.base import Callback
from jobs.methods.run_progress import Work
from jobs.methods.training import Training


class ProgressReport(Callback):
    def __init__(self):
        self.step_start = time.perf_counter()

    def on_train_begin(self, training: Training) -> None:
        training.progress.begin_steps(training.first_step)

    def on_step_begin(self, training: Training, step: int) -> None:
        self.step_start = time.perf_counter()

    def on_label_step(self, training: Training, step: int) -> None:
        training.progress.finish(Work.LABEL_STEP, step, time.perf_counter() - self.step_start)

    def on_step_end(self, training: Training, step: int, measured: bool) -> None:
        training.progress.report("training")
