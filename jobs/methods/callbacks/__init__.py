"""The shared loop's concerns besides training itself, one callback each (jobs.methods.callbacks.base
lists the events): the stop check, the live CID, the accuracy points, the progress and the ETA,
and the checkpoints."""
from __future__ import annotations

from collections.abc import Callable

from jobs.checkpoint import Checkpointer
from jobs.methods.callbacks.accuracy_points import AccuracyPoints
from jobs.methods.callbacks.base import Callback, Callbacks
from jobs.methods.callbacks.checkpoints import Checkpoints
from jobs.methods.callbacks.live_cid_points import LiveCIDPoints
from jobs.methods.callbacks.progress_report import ProgressReport
from jobs.methods.callbacks.stop_check import StopCheck


def default_callbacks(should_stop: Callable[[], bool], checkpointer: Checkpointer | None,
                      saved: tuple[int, bool]) -> Callbacks:
    """The loop's callbacks in the order they act at each event: the stop check first (a stopped
    step has no diagnostics), the checkpoint last (it keeps what the diagnostics measured).
    saved: what a checkpoint on disk already holds (where the run resumed from)."""
    callbacks: list[Callback] = [StopCheck(should_stop), LiveCIDPoints(), AccuracyPoints(), ProgressReport()]
    if checkpointer is not None:
        callbacks.append(Checkpoints(checkpointer, saved))
    return Callbacks(callbacks)


__all__ = ["AccuracyPoints", "Callback", "Callbacks", "Checkpoints", "LiveCIDPoints", "ProgressReport",
           "StopCheck", "default_callbacks"]
