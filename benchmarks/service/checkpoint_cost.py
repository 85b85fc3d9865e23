"""Checkpoint cost: one save of a job's state (model, AdamW moments, schedule, RNG) against one
label step of the same model, in the same run.

Figures: median seconds of a label step (batch 32, length 64, as the cpu scale trains), median
seconds of a save (jobs.checkpoint.Checkpointer, to a temporary directory) and of reading it
back, the file's size, and two ratios: a save in label steps, and the share of training time
the saves take at the default interval (DECONFOUND_CHECKPOINT_S = 300 s).
--inside-round: the save is one taken inside an influence round, between two updates, which also
carries the round's own AdamW moments (a second optimiser over every parameter).

    .venv/bin/python benchmarks/service/checkpoint_cost.py [--model minilm] [--repeats 5] [--inside-round]
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
import torch.nn.functional as F

from jobs.checkpoint import Checkpointer, torch_random_state
from jobs.methods.optim import linear_schedule, make_optimizer
from jobs.models import load_model
from jobs.recorder import NullRecorder
from jobs.spec import JobSpec

DEFAULT_INTERVAL_S = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--inside-round", dest="inside_round", action="store_true",
                        help="measure a save inside an influence round (with the round's optimiser)")
    args = parser.parse_args()

    loaded = load_model(args.model, num_labels=2, device="cpu", seed=1)
    model = loaded.model
    optimizer = make_optimizer(model.named_parameters(), "adamw", 2e-5, 0.01, 1.0)
    schedule = linear_schedule(optimizer, 1000, 0.1)
    ids = torch.randint(1000, 2000, (32, 64))
    mask = torch.ones_like(ids)
    labels = torch.randint(0, 2, (32,))

    def label_step() -> float:
        started = time.perf_counter()
        model.train()
        logits, _ = model(ids, mask)
        F.cross_entropy(logits, labels).backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        return time.perf_counter() - started

    label_step()  # warm-up; also fills AdamW's moments, which a real checkpoint carries
    method_state: dict = {}
    if args.inside_round:  # the round's optimiser with its moments filled, as after an update
        round_optimizer = make_optimizer(model.named_parameters(), "adamw", 2e-5, 0.01, 1.0)
        logits, _ = model(ids, mask)
        F.cross_entropy(logits, labels).backward()
        round_optimizer.step()
        round_optimizer.zero_grad(set_to_none=True)
        method_state = {"round": {"step": 1, "elapsed_s": 0.0, "probes": None, "epoch": 0, "order": None,
                                  "position": 0, "losses": [], "optimizer": round_optimizer.state_dict()}}
    steps = [label_step() for _ in range(args.repeats)]
    spec = JobSpec(model=args.model, method="finetune")
    with tempfile.TemporaryDirectory() as directory:
        checkpointer = Checkpointer(directory, spec)
        saves, loads = [], []
        for _ in range(args.repeats):
            state = {"step": 1, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "schedule": schedule.state_dict(), "method": method_state, "random": torch_random_state(),
                     "cid_latest": None}
            started = time.perf_counter()
            checkpointer.save(state, NullRecorder())
            saves.append(time.perf_counter() - started)
            started = time.perf_counter()
            assert checkpointer.latest() is not None
            loads.append(time.perf_counter() - started)
        size_mb = checkpointer.path.stat().st_size / 1e6
    step_s, save_s, load_s = (statistics.median(x) for x in (steps, saves, loads))
    figures = {"model": args.model, "inside_round": args.inside_round, "label_step_s": step_s, "save_s": save_s, "load_s": load_s, "size_mb": size_mb,
               "save_in_label_steps": save_s / step_s, "overhead_at_300s": save_s / DEFAULT_INTERVAL_S}
    print(f"{args.model}{' (inside a round)' if args.inside_round else ''}: label step {step_s:.3f} s, checkpoint save {save_s:.3f} s ({size_mb:.0f} MB), "
          f"load {load_s:.3f} s")
    print(f"a save costs {figures['save_in_label_steps']:.2f} label steps; saving every "
          f"{DEFAULT_INTERVAL_S:.0f} s adds {100 * figures['overhead_at_300s']:.2f}% to training time")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
