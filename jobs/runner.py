"""Spec in, result out: the one entry point the CLI and the worker call.

    outcome = run(spec, recorder, should_stop)

Loads the dataset and the model, trains with the spec's method, retries a collapsed trial
with the next seed when the spec asks for it (the paper re-trains those), and reports the
final metrics through the recorder. Honours `should_stop` (checked every step) for cancel.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from jobs.contracts.enums import RUN_OUTCOMES, JobStatus, MethodName
from jobs.contracts.results import JobResults
from jobs.recorder import Recorder
from jobs.saved_model import load_saved_model, save_model
from jobs.spec import JobSpec

STATUSES = RUN_OUTCOMES
# The diagnostic recorded when the model loads: its family, kind and pooling (ArchitectureUsed).
MODEL_DIAGNOSTIC = "model"

__all__ = ["MODEL_DIAGNOSTIC", "STATUSES", "RunOutcome", "load_saved_model", "run", "save_model"]  # the saved model's two: jobs.saved_model


@dataclass
class RunOutcome:
    """status: one of STATUSES; seed: the seed of the trial that was kept; results: the final
    metrics as reported (JobResults); metrics: the same as the method returned them (a dict)."""

    status: JobStatus
    seed: int
    metrics: dict[str, Any] = field(default_factory=dict)
    results: JobResults = field(default_factory=JobResults)
    attempts: int = 1
    artifact_dir: str | None = None
    wall_s: float = 0.0


def run(spec: JobSpec, recorder: Recorder, should_stop: Callable[[], bool] = lambda: False,
        artifact_dir: str | Path | None = None, checkpoint_dir: str | Path | None = None,
        checkpoint_every_s: float = 300.0, on_start: Callable[[int | None], None] | None = None) -> RunOutcome:
    """Run one job to the end (or until should_stop() is true).

    checkpoint_dir: where the job's checkpoint lives (jobs.checkpoint). A checkpoint found there
    for this spec is resumed from; one is saved every `checkpoint_every_s` seconds of training
    and when the run is stopped; it is removed once the run ends (succeeded, collapsed, failed).
    on_start(step): called once the recorder has begun, with the label step the run resumes
    after (None: from the start), so the caller can log why it resumes.
    Exceptions propagate: the caller records them as a failed job.
    """
    from jobs.checkpoint import Checkpointer
    from jobs.data import load_dataset
    from jobs.lora import add_lora, describe_lora
    from jobs.methods import train
    from jobs.methods.loop import total_label_steps
    from jobs.methods.no_confound import control_splits
    from jobs.models import load_model
    from jobs.presets import preset_used
    from jobs.rounds import check_rounds

    t0 = time.time()
    checkpointer = Checkpointer(checkpoint_dir, spec, checkpoint_every_s) if checkpoint_dir is not None else None
    resume = checkpointer.latest() if checkpointer is not None else None
    recorder.begin(resume["recorder_mark"] if resume is not None else None)
    if on_start is not None:
        on_start(int(resume["step"]) if resume is not None else None)
    dtype = torch.float64 if spec.dtype == "float64" else torch.float32
    recorder.progress(0, 0, None, phase="loading the data")  # 0 of 0: the step count is not known yet
    data = load_dataset(spec.dataset)
    if used := preset_used(spec.preset, spec.dataset.name, spec.method):
        recorder.log(used)
    if spec.method == MethodName.NO_CONFOUND:
        control_splits(data)  # no confound-free copy: a one-line DataError before the model loads
    check_rounds(spec.method, spec.influence.interval,
                 total_label_steps(len(data.train), spec.train.batch_size, spec.train.epochs, spec.train.max_steps))
    seed, attempts = spec.seed, 0
    resumed_at = None
    if resume is not None:  # the trial the checkpoint belongs to (a collapsed one may have been retried)
        seed, attempts = resume["trial"]["seed"], resume["trial"]["attempts"] - 1
        resumed_at = int(resume["step"])
    while True:
        attempts += 1
        trial = spec.model_copy(update={"seed": seed})
        if checkpointer is not None:
            checkpointer.trial = {"seed": seed, "attempts": attempts}
            if resume is None:
                checkpointer.discard()  # a new trial: an older trial's state must not be resumed
        recorder.progress(0, 0, None, phase=f"loading model {spec.model}")
        loaded = load_model(spec.model, num_labels=data.num_labels, device=spec.device, seed=seed, dtype=dtype)
        if spec.lora is not None:
            recorder.log(describe_lora(loaded.model, add_lora(loaded.model, spec.lora)))
        recorder.log(f"attempt {attempts}: {spec.method} on {data.name} with {spec.model}, seed {seed}, "
                     f"device {loaded.device}")
        architecture = loaded.architecture()
        recorder.log(f"model: {architecture.summary()}")
        for note in architecture.notes:
            recorder.log(f"model: {note}")
        recorder.diagnostic(MODEL_DIAGNOSTIC, architecture.model_dump(mode="json"))
        result = train(trial, data, loaded, recorder, should_stop, checkpointer, resume)
        resume = None
        if result.stopped:
            status = JobStatus.CANCELLED
        elif result.collapsed:
            status = JobStatus.COLLAPSED
        else:
            status = JobStatus.SUCCEEDED
        if status == JobStatus.COLLAPSED and attempts <= spec.retry_collapsed:
            recorder.log(f"seed {seed} collapsed (train accuracy at chance); retrying with seed {seed + 1}")
            seed += 1
            continue
        break
    if checkpointer is not None and status != JobStatus.CANCELLED:
        checkpointer.discard()
    metrics = dict(result.metrics, seed=seed, attempts=attempts, status=status,
                   architecture=architecture.model_dump(mode="json"))
    if checkpointer is not None and status == JobStatus.CANCELLED:
        # Where a resume starts (a stop inside a round saves there: the resume goes on with that step's round).
        metrics["checkpoint_step"] = checkpointer.saved_step if checkpointer.saves else (resumed_at or None)
    saved = None
    if artifact_dir is not None and status != JobStatus.CANCELLED:
        saved = str(save_model(loaded, trial, Path(artifact_dir)))
        metrics["artifact_dir"] = saved
    results = JobResults.model_validate(json.loads(json.dumps(metrics, default=float)))  # numpy numbers: floats
    recorder.result(results)
    recorder.flush()
    return RunOutcome(status=status, seed=seed, metrics=metrics, results=results, attempts=attempts,
                      artifact_dir=saved, wall_s=time.time() - t0)
