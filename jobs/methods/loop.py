"""The training loop every method shares: label steps that fire events.

    set up: tokenise each split once -> method.setup -> label optimiser + linear schedule
            (or, resuming, everything a checkpoint saved: jobs.checkpoint)   jobs.methods.training
    for each label step: batch -> method.label_loss -> clip -> step
                         method.after_label_step (influence rounds)
    the end: final accuracies (per group, worst group, flip rate) and the final CID

Everything else is a callback on the loop's events (jobs.methods.callbacks): the stop check, the
live CID at step 0 and every cid_every steps, the accuracy points every eval_every steps, the
phase and the ETA (jobs.methods.run_progress), and the checkpoints, taken when due and when
stopping, after a step or inside a hook's long work at run.boundary() (an influence round).

A method changes the loop only through the hooks of `Method` (jobs.methods.method); the defaults
are finetuning. Steps are label (optimiser) steps: ceil(N / batch) per epoch, every example seen
once an epoch.
"""
from __future__ import annotations

from collections.abc import Callable

from jobs.checkpoint import Checkpointer
from jobs.data.dataset import ConfoundedDataset
from jobs.methods.callbacks import default_callbacks
from jobs.methods.label_steps import batch_indices, total_label_steps
from jobs.methods.method import Method, Run, TrainResult
from jobs.methods.training import Training
from jobs.models import LoadedModel
from jobs.recorder import Recorder
from jobs.spec import JobSpec


def run_method(method: Method, spec: JobSpec, data: ConfoundedDataset, loaded: LoadedModel, recorder: Recorder,
               should_stop: Callable[[], bool] = lambda: False, checkpointer: Checkpointer | None = None,
               resume: dict | None = None) -> TrainResult:
    """Train `loaded.model` in place with `method` and return the final metrics:

    {"train", "dev", "test" (and any other evaluation split): evaluate_split dicts,
     "cid": final CID, "steps": label steps, "collapsed": bool, "wall_s": seconds}.
    When should_stop() turns true the run ends within a step with stopped=True and only
    "steps" and "wall_s" in the metrics. With a checkpointer, the state is saved when due and
    when the run is stopped (jobs.methods.callbacks.checkpoints); `resume` (a saved state)
    continues a run from where it was saved, giving the numbers the run would have given unstopped."""
    training = Training(method, spec, data, loaded, recorder, should_stop)
    training.restore(resume)
    events = default_callbacks(should_stop, checkpointer, saved=(training.first_step, not training.pending))
    training.run.pause = lambda step, stopping: events.on_boundary(training, step, stopping)
    stop = events.on_train_begin(training)
    for step, index, taken in [] if stop else training.label_steps():
        if not taken:
            if stop := events.on_step_begin(training, step):
                break
            training.label_step(index, step)
            events.on_label_step(training, step)
        measured = method.after_label_step(training.run, step)
        if stop := events.on_step_end(training, step, measured):
            break
    if stop:
        events.on_stop(training, stop)
        return training.stopped()
    return training.finish()


__all__ = ["Method", "Run", "TrainResult", "batch_indices", "run_method", "total_label_steps"]
