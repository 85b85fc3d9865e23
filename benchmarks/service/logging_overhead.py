"""Logging overhead: the same training run with the store recorder and with the in-memory one.

The store side is what the worker does: a StoreRecorder on a SQLite file under a temporary
data dir, flushed (with a heartbeat) every second by the lease keeper thread. Runs alternate
between the two recorders (ABBA). Figures: the ratio of median CPU seconds of the process (the
flusher thread included; robust to other processes on a shared machine) and of median wall
seconds. A micro-benchmark adds the cost of one recorder call on the training thread and the
rate at which a flush writes rows.

    .venv/bin/python benchmarks/service/logging_overhead.py [--repeats 6] [--steps 80]
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import support  # noqa: F401  (puts the repository on sys.path)
import torch

from backend.queue.claims import claim_next
from backend.queue.worker import LeaseKeeper
from backend.services.jobs import new_job
from backend.store.db import Database
from backend.store.recorder import StoreRecorder
from jobs.recorder import MemoryRecorder
from jobs.runner import run
from jobs.spec import JobSpec


def job_spec(steps: int) -> JobSpec:
    return JobSpec.model_validate({
        "model": "tiny", "method": "finetune",
        "dataset": {"name": "textlen", "options": {"train_size": 512, "dev_size": 64, "test_size": 64}},
        "train": {"max_steps": steps, "batch_size": 16, "epochs": 100, "eval_every": 10},
        "diagnostics": {"probes": 2, "sample": 4, "cid_every": 20, "histogram_probes": 2}})


def claimed_recorder(db: Database, spec: JobSpec) -> tuple[StoreRecorder, LeaseKeeper]:
    with db.session() as session:
        session.add(new_job(spec))
        session.commit()
    claim = claim_next(db, "bench", lease_s=600)
    recorder = StoreRecorder(db, claim.job_id, claim.attempt, "bench")
    return recorder, LeaseKeeper(db, claim, recorder, interval_s=1.0)


def timed_run(spec: JobSpec, db: Database | None) -> tuple[float, float, int]:
    """Wall and CPU seconds of run(), and the rows the run reported."""
    if db is None:
        recorder, keeper = MemoryRecorder(), None
    else:
        recorder, keeper = claimed_recorder(db, spec)
        keeper.start()
    start, start_cpu = time.perf_counter(), time.process_time()
    run(spec, recorder)
    if keeper is not None:
        keeper.stop()
        recorder.flush()
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    rows = 0 if keeper else len(recorder.scalars) + len(recorder.cids) + len(recorder.influences) + len(
        recorder.progresses) + len(recorder.logs)
    return wall, cpu, rows


def micro(db: Database, spec: JobSpec, calls: int = 200_000) -> dict[str, float]:
    """Per-call cost with nothing written meanwhile, then one flush of everything queued."""
    recorder, _ = claimed_recorder(db, spec)
    recorder.max_queued = calls + 1
    memory = MemoryRecorder()
    out = {}
    for name, target in (("memory", memory), ("store", recorder)):
        start = time.perf_counter()
        for step in range(calls):
            target.scalar("loss/train", step, 0.5)
        out[f"{name}_scalar_call_ns"] = (time.perf_counter() - start) / calls * 1e9
    start = time.perf_counter()
    recorder.flush()
    out["flush_rows_per_s"] = calls / (time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(1)  # CPU time then tracks the work, not how many cores were free
    spec = job_spec(args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        db.migrate()
        timed_run(spec, None)  # warm-up: imports, tokenizer, first allocations
        runs: dict[str, list[tuple[float, float]]] = {"memory": [], "store": []}
        rows = 0
        for repeat in range(args.repeats):
            # ABBA order, so that drifts of a shared machine fall on both sides alike.
            for name in ("memory", "store") if repeat % 2 == 0 else ("store", "memory"):
                wall, cpu, count = timed_run(spec, db if name == "store" else None)
                runs[name].append((wall, cpu))
                rows = count or rows
        figures: dict[str, float] = {"rows_per_run": rows}
        for name, values in runs.items():
            figures[f"{name}_wall_s"] = statistics.median(w for w, _ in values)
            figures[f"{name}_cpu_s"] = statistics.median(c for _, c in values)
        figures["cpu_ratio_store_over_memory"] = figures["store_cpu_s"] / figures["memory_cpu_s"]
        figures["wall_ratio_store_over_memory"] = figures["store_wall_s"] / figures["memory_wall_s"]
        figures.update(micro(db, spec))
        db.dispose()
    print(f"training run ({args.steps} label steps, {rows} recorder rows), median of {args.repeats}:")
    for name in ("memory", "store"):
        listed = ", ".join(f"{w:.1f}/{c:.1f}" for w, c in runs[name])
        print(f"  {name:6s} recorder: wall {figures[f'{name}_wall_s']:.2f} s, cpu {figures[f'{name}_cpu_s']:.2f} s"
              f"   (wall/cpu per run: {listed})")
    print(f"  ratio store/memory: cpu {figures['cpu_ratio_store_over_memory']:.3f}, "
          f"wall {figures['wall_ratio_store_over_memory']:.3f}")
    print(f"one scalar() call on the training thread: memory {figures['memory_scalar_call_ns']:.0f} ns, "
          f"store {figures['store_scalar_call_ns']:.0f} ns; a flush writes {figures['flush_rows_per_s']:,.0f} rows/s")
    if args.json:
        Path(args.json).write_text(json.dumps({**figures, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
