"""A job's cost before it is launched (POST /api/jobs/estimate; the submit form shows it).

The same checks as a submission (422 what JobSpec refuses, 400 what this server cannot run),
then what the run will do, counted in the engine's units: label steps, influence rounds, CID
points, and "example gradients" (one forward and backward pass of one example). Seconds are
extrapolated from the finished jobs of the same model (total wall time over total example
gradients), so they mean something only once such a job has run.
"""
from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.services.catalogue import job_dataset
from backend.services.submission import accepted_spec
from backend.settings import Settings
from backend.store.models import Job
from jobs.contracts.api import Estimate
from jobs.contracts.enums import TRAINED_STATUSES, MethodName
from jobs.contracts.results import JobResults, results_of
from jobs.methods.loop import total_label_steps
from jobs.rounds import ROUND_METHODS, round_count, round_interval
from jobs.spec import JobSpec

# One influence-loss term needs the gradient of a gradient: about three passes per example.
SECOND_ORDER_FACTOR = {"cosine": 3, "dot": 3, "embedding": 1}
CALIBRATION_JOBS = 20
PARTS = ("label", "cid", "influence", "evaluation")


def live_cid_points(cid_every: int, steps: int, every: int, rounds: int) -> int:
    """Live CID points, in O(1): step 0, then every multiple of cid_every below `steps` that is not
    a round step (a round measures CID around itself); rounds run at every*1 .. every*rounds."""
    if not cid_every:
        return 0
    multiples = (steps - 1) // cid_every if steps > 0 else 0
    shared = every * rounds // math.lcm(cid_every, every) if rounds else 0
    return 1 + multiples - shared


def count_units(spec: JobSpec, train_size: int, eval_size: int = 0) -> dict[str, int]:
    """Label steps, rounds, CID points and example gradients by part of a run of `spec` over
    `train_size` training examples (`eval_size`: dev + test rows, evaluated every eval_every)."""
    train, diagnostics, influence = spec.train, spec.diagnostics, spec.influence
    steps = total_label_steps(train_size, train.batch_size, train.epochs, train.max_steps)
    rounds = round_count(influence.interval, steps) if spec.method in ROUND_METHODS else 0
    cid_points = live_cid_points(diagnostics.cid_every, steps, round_interval(influence.interval, steps), rounds) \
        + 2 * rounds + 1
    # A CID point scores every probe against a pool of `sample` examples per (label, confound) group.
    pool = min(train_size, 4 * diagnostics.sample)
    kind = "embedding" if spec.method == MethodName.EMBEDDING_TUNING else "cosine"
    per_round = influence.round_epochs * min(influence.probes_per_round, train_size) * (1 + 2 * influence.k)
    evaluations = steps // train.eval_every
    units = {
        "label": steps * train.batch_size,
        "cid": cid_points * (diagnostics.probes + pool),
        "influence": rounds * per_round * SECOND_ORDER_FACTOR[kind],
        # Evaluation is forward only: about a third of a forward and backward pass.
        "evaluation": (evaluations + 1) * (train_size + eval_size) // 3,
    }
    return {"label_steps": steps, "rounds": rounds, "cid_points": cid_points, **units}


def _calibration(session: Session, model: str) -> tuple[float | None, str]:
    """Seconds per example gradient over the latest finished jobs of `model`, and the basis in words."""
    jobs = session.scalars(select(Job).where(Job.model == model, Job.status.in_(TRAINED_STATUSES),
                                             Job.wall_s.is_not(None)).order_by(Job.id.desc())
                           .limit(CALIBRATION_JOBS)).all()
    seconds, units = 0.0, 0
    for job in jobs:
        results = results_of(job.metrics) or JobResults()
        sizes = {split: found.n if (found := results.split(split)) is not None else None
                 for split in ("train", "dev", "test")}
        if not sizes["train"]:
            continue
        counted = count_units(JobSpec.stored(job.spec), sizes["train"],
                              (sizes["dev"] or 0) + (sizes["test"] or 0))
        seconds += job.wall_s
        units += sum(counted[k] for k in PARTS)
    if not units:
        return None, f"no finished job of model '{model}' yet: run a small one to calibrate the estimate"
    return seconds / units, f"the wall time of the last {len(jobs)} finished job(s) of model '{model}' on this service"


def estimate(spec: JobSpec, session: Session, settings: Settings) -> Estimate:
    """Check a spec exactly as a submission would (Rejected), and estimate its cost; queues nothing."""
    spec = accepted_spec(spec, settings.data_dir, session)
    dataset = job_dataset(spec.model_dump(mode="json"), settings.data_dir)
    stored = spec.model_dump(mode="json")
    if dataset is None:
        return Estimate(spec=stored, train_size=None, label_steps=0, rounds=0, cid_points=0, example_gradients={},
                        total_example_gradients=0, seconds=None, basis="the dataset could not be loaded")
    train_size = len(dataset.train)
    eval_size = sum(len(split) for name, split in dataset.splits().items() if name != "train")
    counted = count_units(spec, train_size, eval_size)
    parts = {k: counted[k] for k in PARTS}
    rate, basis = _calibration(session, spec.model)
    total = sum(parts.values())
    return Estimate(spec=stored, train_size=train_size, label_steps=counted["label_steps"], rounds=counted["rounds"],
                    cid_points=counted["cid_points"], example_gradients=parts, total_example_gradients=total,
                    seconds=None if rate is None else rate * total, basis=basis)
