"""NeuronTune against its parent on TextLen and MSGS (issue 7's closing numbers).

    .venv/bin/python benchmarks/neurontune_minilm.py                      # minilm, moderate sizes
    .venv/bin/python benchmarks/neurontune_minilm.py --model tiny --train-size 200 --dev-size 100 \\
        --test-size 100 --steps 40 --lr 1e-3                               # a smoke test in a minute

For each dataset: finetune a parent (saved to a temporary directory), then NeuronTune post hoc
on that saved model (neurontune.parent_artifact) with the published defaults. Prints parent vs
tuned test accuracy, worst-group accuracy and CID, the neurons zeroed, the top-3 suggested
confounds and whether the planted confound is among them (a top-3 suggestion whose rule marks
the hidden confound with |correlation| > 0.5 on dev: TextLen's "Positive ."/"Negative ."
prefix, MSGS's article order), and the wall time of each stage. --json PATH writes the rows.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from jobs.data import load_dataset  # noqa: E402
from jobs.data.rules import parse_rule  # noqa: E402
from jobs.recorder import MemoryRecorder  # noqa: E402
from jobs.runner import run  # noqa: E402
from jobs.spec import JobSpec  # noqa: E402

DATASETS = ("textlen", "msgs")
PLANTED_CORRELATION = 0.5


def parent_spec(args, dataset: str) -> JobSpec:
    return JobSpec(
        model=args.model, method="finetune", device=args.device, seed=args.seed,
        dataset={"name": dataset, "options": {"train_size": args.train_size, "dev_size": args.dev_size,
                                              "test_size": args.test_size}},
        train={"max_steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "max_length": args.max_length,
               "eval_every": max(1, args.steps // 5)},
        diagnostics={"cid_every": 0, "probes": args.probes, "sample": args.sample, "histogram_probes": 0})


def planted_rank(suggestions: list[dict], data) -> tuple[int | None, list[float]]:
    """1-based rank of the first top-3 suggestion whose rule marks the hidden confound
    (|corr| > PLANTED_CORRELATION on dev), and each top-3 suggestion's |corr|."""
    agreement = []
    for s in suggestions[:3]:
        marks = parse_rule(s["rule"]).values(data.dev.texts)
        corr = np.corrcoef(marks, data.dev.confounds)[0, 1] if 0 < marks.sum() < len(marks) else 0.0
        agreement.append(float(abs(corr)))
    rank = next((i + 1 for i, a in enumerate(agreement) if a > PLANTED_CORRELATION), None)
    return rank, agreement


def one_dataset(args, dataset: str, workdir: Path) -> dict:
    spec = parent_spec(args, dataset)
    data = load_dataset(spec.dataset)
    start = time.perf_counter()
    parent = run(spec, MemoryRecorder(), artifact_dir=workdir / f"{dataset}-parent")
    parent_s = time.perf_counter() - start
    if parent.status != "succeeded":
        return {"dataset": dataset, "model": args.model, "status": f"parent {parent.status}",
                "wall_s": {"parent": parent_s}}

    tuned_spec = spec.model_copy(update={"method": "neurontune", "neurontune": spec.neurontune.model_copy(
        update={"parent_artifact": str(workdir / f"{dataset}-parent")})})
    recorder = MemoryRecorder()
    start = time.perf_counter()
    tuned = run(tuned_spec, recorder)
    tuned_s = time.perf_counter() - start
    metrics = tuned.metrics
    found = metrics["neurontune"]
    rank, agreement = planted_rank(found["suggestions"], data)
    return {
        "dataset": dataset, "model": args.model, "status": tuned.status,
        "parent": {"test_acc": parent.metrics["test"]["acc"], "worst_group_acc": parent.metrics["test"]["worst_group_acc"],
                   "cid": parent.metrics["cid"]},
        "tuned": {"test_acc": metrics["test"]["acc"], "worst_group_acc": metrics["test"]["worst_group_acc"],
                  "cid": metrics["cid_after"]},
        "cid_before_in_tuned_job": metrics["cid_before"],
        "zeroed": len(found["zeroed"]), "hidden_size": found["hidden_size"], "lambda": found["lambda"],
        "top3": [{"ngram": s["ngram"], "effect": s["effect"], "lower": s["lower"], "support": s["support"],
                  "rule": s["rule"], "corr_with_confound": a} for s, a in zip(found["suggestions"][:3], agreement,
                                                                               strict=False)],
        "planted_rank": rank, "planted_in_top3": rank is not None,
        "wall_s": {"parent": parent_s, "neurontune": tuned_s},
    }


def show(row: dict) -> None:
    print(f"\n== {row['dataset']} ({row['model']}) ==")
    if "tuned" not in row:
        print(f"{row['status']} after {row['wall_s']['parent']:.1f} s: no NeuronTune (try more --steps or another --lr)")
        return
    p, t = row["parent"], row["tuned"]
    print(f"{'':18}{'parent':>10}{'neurontune':>12}")
    print(f"{'test accuracy':18}{100 * p['test_acc']:>10.1f}{100 * t['test_acc']:>12.1f}")
    print(f"{'worst group':18}{100 * p['worst_group_acc']:>10.1f}{100 * t['worst_group_acc']:>12.1f}")
    print(f"{'CID':18}{p['cid']:>10.4f}{t['cid']:>12.4f}")
    print(f"zeroed {row['zeroed']} of {row['hidden_size']} neurons (lambda {row['lambda']:g})")
    for i, s in enumerate(row["top3"], 1):
        print(f"  {i}. {s['ngram']!r:24} d={s['effect']:.2f} (low {s['lower']:.2f}) n={s['support']:<5} "
              f"|corr with confound|={s['corr_with_confound']:.2f}")
    print(f"planted confound in top 3: {'yes, rank ' + str(row['planted_rank']) if row['planted_in_top3'] else 'no'}")
    print(f"wall: parent {row['wall_s']['parent']:.1f} s, neurontune {row['wall_s']['neurontune']:.1f} s")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--dev-size", type=int, default=500)
    parser.add_argument("--test-size", type=int, default=500)
    parser.add_argument("--steps", type=int, default=300, help="parent finetuning label steps")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--probes", type=int, default=20, help="CID probes (before and after)")
    parser.add_argument("--sample", type=int, default=50, help="CID training examples per group per probe")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory(prefix="neurontune-bench-") as workdir:
        for dataset in args.datasets:
            rows.append(one_dataset(args, dataset, Path(workdir)))
            show(rows[-1])
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
