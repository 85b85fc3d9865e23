"""The live CID curve: a point at step 0 (not on a resume) and every cid_every label steps
where the method's hook measured none (the final point is the run's end: Training.finish)."""
from __future__ import annotations

from jobs.contracts.enums import CidPhase
from jobs.methods.callbacks.base import Callback
from jobs.methods.training import Training


class LiveCIDPoints(Callback):
    def on_train_begin(self, training: Training) -> None:
        if training.spec.diagnostics.cid_every and not training.resumed:
            training.live_cid.measure(training.model, 0, CidPhase.LIVE)

    def on_step_end(self, training: Training, step: int, measured: bool) -> None:
        every = training.spec.diagnostics.cid_every
        if step < training.total_steps and every and step % every == 0 and not measured:
            training.live_cid.measure(training.model, step, CidPhase.LIVE)
