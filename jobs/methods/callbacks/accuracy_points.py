"""The accuracy curves: train, dev and test accuracy every eval_every label steps (the last
step's are the final evaluation's: Training.finish), each point timed for the ETA."""
from __future__ import annotations

import time

from jobs.evaluate import predict
from jobs.methods.callbacks.base import Callback
from jobs.methods.run_progress import Work
from jobs.methods.training import Training


class AccuracyPoints(Callback):
    def on_step_end(self, training: Training, step: int, measured: bool) -> None:
        if step >= training.total_steps or step % training.spec.train.eval_every:
            return
        start = time.perf_counter()
        for name in ("train", "dev", "test"):
            predictions = predict(training.model, training.encodings[name])
            accuracy = float((predictions == training.splits[name].labels).mean())
            training.recorder.scalar(f"acc/{name}", step, accuracy)
        training.progress.finish(Work.EVALUATION, step, time.perf_counter() - start)
