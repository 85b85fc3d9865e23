"""Command line of the influence benchmark: run the measures per model, print the table, write JSON."""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
from pathlib import Path

import torch

from benchmarks.influence import cases, peers
from benchmarks.influence.cases import Row
from benchmarks.influence.families import QUICK_SIZES, relative_table, run_family
from benchmarks.influence.family_shapes import SHAPES
from benchmarks.influence.workload import textlen_like
from jobs.models import load_model, resolve_device

FULL = {"r2_train": 1500, "tuples": 64, "peer_train": 300, "dattri_train": 300, "dattri_budget": 300}
QUICK = {"r2_train": 300, "tuples": 16, "peer_train": 100, "dattri_train": 50, "dattri_budget": 120}
MEASURES = ("r1", "r2", "r3", "r3-dattri", "r4")      # r3: Captum; r3-dattri: dattri (child process)


def run_model(name: str, device: torch.device, sizes: dict, examples_per_call: int, only=MEASURES,
              log=print) -> list[Row]:
    """The measures named in `only` (MEASURES) on one model; the training baseline with any of
    r1, r2, r4 (their ratios are over it; R3's are over its peers)."""
    loaded = load_model(name, device=str(device))
    model = loaded.model.eval()
    work = textlen_like(loaded.tokenizer, 1500, device=device)
    rows, per_example = [], float("nan")
    if {"r1", "r2", "r4"} & set(only):
        per_example, train_peak = cases.train_seconds_per_example(model, work, device)
        log(f"[{name}] training: {per_example * 1e3:.2f} ms per example (batch 64, AdamW), peak {train_peak:.0f} MiB")
        rows.append(Row(name, "baseline: training step / example", per_example, per_example, 1.0, None, train_peak,
                        "batch 64, AdamW, train mode", device.type))
    loop_train = 100 if name == "tiny" else 20
    measures = {
        "r1": lambda: cases.r1(model, name, work, device, per_example, sizes["tuples"], 5, examples_per_call),
        "r2": lambda: cases.r2(model, name, work, device, per_example, sizes["r2_train"], 40, loop_train),
        "r4": lambda: cases.r4(model, name, work, device, per_example, sizes["tuples"], 5),
        "r3": lambda: [peers.captum(model, name, work, device, sizes["peer_train"])],
        "r3-dattri": lambda: [peers.dattri(model, name, work, device, sizes["dattri_train"],
                                           budget_s=sizes["dattri_budget"])],
    }
    steps = [measures[m] for m in ("r1", "r2", "r4", "r3", "r3-dattri") if m in only]
    for step in steps:
        for row in step():
            row.device = device.type
            rows.append(row)
            log(format_row(row))
    return rows


def _number(x: float, digits: int = 2) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


HEADER = f"{'model':<7} {'measure':<44} {'ours s':>9} {'base s':>9} {'ratio':>7} {'goal':>6} {'peak MiB':>9}  note"


def format_row(r: Row) -> str:
    goal = f"<={r.goal:g}" if r.goal is not None else "-"
    ours, base = _number(r.ours_s, 3), _number(r.baseline_s, 3)
    return (f"{r.model:<7} {r.name:<44} {ours:>9} {base:>9} {_number(r.ratio):>7} {goal:>6} "
            f"{_number(r.peak_mb, 0):>9}  {r.note}")


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.influence", description=__doc__)
    parser.add_argument("--models", nargs="+", default=["tiny", "minilm"])
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--quick", action="store_true", help="smaller work (R2 300 examples, 16 tuples)")
    parser.add_argument("--no-peers", action="store_true", help="skip R3 (Captum, dattri)")
    parser.add_argument("--only", default=",".join(MEASURES),
                        help=f"comma-separated measures to run, of {','.join(MEASURES)} (default: all)")
    parser.add_argument("--examples-per-call", type=int, default=96,
                        help="R1: examples per batched influence-loss call (memory bound)")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    parser.add_argument("--families", nargs="*", metavar="SHAPE", default=None,
                        help="R1, R2, R4 per model family on random models of real shapes instead of --models: "
                             f"{', '.join(SHAPES)} (no names: all), each ratio beside bert-base's")
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "deconfound" / "bench-shapes"),
                        help="where --families saves its random models (several GB; built once)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    sizes = QUICK if args.quick else FULL
    only = [m.strip().lower() for m in args.only.split(",") if m.strip()]
    unknown = sorted(set(only) - set(MEASURES))
    if unknown:
        parser.error(f"--only: unknown measure(s) {', '.join(unknown)}; choose from {', '.join(MEASURES)}")
    if args.no_peers:
        only = [m for m in only if not m.startswith("r3")]
    print(f"influence benchmark: torch {torch.__version__}, {device}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}; ratios = ours / baseline, same run", flush=True)
    print(HEADER, flush=True)
    rows = []
    if args.families is not None:
        unknown = sorted(set(args.families) - set(SHAPES))
        if unknown:
            parser.error(f"--families: unknown shape(s) {', '.join(unknown)}; choose from {', '.join(SHAPES)}")
        for name in args.families or list(SHAPES):
            rows += run_family(name, device, Path(args.cache), QUICK_SIZES if args.quick else None,
                               log=lambda line: print(line, flush=True))
    else:
        for name in args.models:
            rows += run_model(name, device, sizes, args.examples_per_call, only,
                              log=lambda line: print(line, flush=True))
    print("\n" + HEADER)
    for row in rows:
        print(format_row(row))
    if args.families is not None:
        print("\n" + relative_table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": " ".join(["python -m benchmarks.influence", *(argv or sys.argv[1:])]),
                       "device": str(device), "threads": torch.get_num_threads(), "torch": torch.__version__,
                       "rows": [row.as_dict() for row in rows]}, f, indent=1)
    return rows
