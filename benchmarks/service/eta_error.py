"""ETA error: how far a job's reported ETA is from the time it really had left.

Runs real influence-tuning jobs on TextLen in this process (jobs.runner.run, as a worker does;
tiny and MiniLM, each a few minutes on a 2-core CPU, with several rounds and CID points), keeps
every progress report with the time it came, and prints, at 10% and 50% of each job's wall time
T (from the call to its end), the error of the ETA the job was showing then:

    error = (eta_r - (T_end - t_r)) / (T_end - t_r)

for the last report r at or before that moment (t_r: when it came; the display shows eta_r
until the next one). Goal: within +-25%. Also: the phase at that moment, whether the ETA was
flagged as a guess, and the machine's slowdown then: the mean label step after that moment over
the mean before it (on a shared CPU other jobs come and go; an ETA from the speeds measured so
far is off by about that factor whatever it does), and the error of the ETA times that factor
(what is left of the error once the machine's change of speed is taken out: the estimator's own);
and this run's mean seconds of a label step,
a CID point and an influence update (from the times of the recorder calls), for the guesses in
jobs/methods/run_progress.py.

    .venv/bin/python benchmarks/service/eta_error.py [--models tiny minilm] [--json PATH]

It reads only the recorder interface, so it also runs against an older checkout (PYTHONPATH
pointing there) to compare estimators.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

import support  # noqa: F401  (puts the repository on sys.path)

from jobs.recorder import NullRecorder
from jobs.runner import run
from jobs.spec import JobSpec


def textlen(train: int, evaluation: int) -> dict:
    return {"name": "textlen", "options": {"train_size": train, "dev_size": evaluation, "test_size": evaluation}}


# Influence tuning with three or four rounds and regular CID points, as a CPU user runs it: about
# 1 (tiny) and 2 (MiniLM) minutes on a quiet 2-core CPU, several times that under load.
JOBS = {
    "tiny": {"model": "tiny", "method": "influence-tuning", "device": "cpu", "dataset": textlen(2000, 400),
             "train": {"max_steps": 300, "batch_size": 32, "lr": 1e-3, "eval_every": 100, "max_length": 64},
             "influence": {"interval": 60, "probes_per_round": 64, "round_epochs": 2, "tuples_per_update": 16,
                           "k": 5, "scope": "all"},
             "diagnostics": {"cid_every": 25, "probes": 40, "sample": 100, "scope": "all"}},
    "minilm": {"model": "minilm", "method": "influence-tuning", "device": "cpu", "dataset": textlen(600, 150),
               "train": {"max_steps": 120, "batch_size": 16, "lr": 5e-5, "eval_every": 40, "max_length": 64},
               "influence": {"interval": 30, "probes_per_round": 16, "round_epochs": 2, "tuples_per_update": 8,
                             "k": 3, "scope": "top"},
               "diagnostics": {"cid_every": 20, "probes": 10, "sample": 15, "scope": "top"}},
}
MOMENTS = (0.1, 0.5)
GOAL = 0.25


class Timeline(NullRecorder):
    """Every progress report and the calls that time a unit, with time.perf_counter() of each."""

    def __init__(self):
        self.reports: list[dict] = []
        self.events: list[tuple[float, str, int]] = []  # (t, "loss/train" | "loss/influence" | "cid", step)

    def progress(self, step, total, eta_s, *rest, phase=None, eta_guessed=False, **_old):
        self.reports.append({"t": time.perf_counter(), "step": step, "total": total, "eta_s": eta_s,
                             "phase": phase, "eta_guessed": eta_guessed})

    def scalar(self, name, step, value):
        if name in ("loss/train", "loss/influence"):
            self.events.append((time.perf_counter(), name, step))

    def cid(self, step, phase, value, per_probe=None, extra=None):
        self.events.append((time.perf_counter(), "cid", step))


def unit_times(timeline: Timeline) -> dict[str, list[tuple[float, float]]]:
    """(seconds, end) of each label step (between consecutive loss/train points with nothing else
    between them), influence update (consecutive loss/influence points) and CID point (from the
    report that starts it to the point)."""
    steps, updates, cids = [], [], []
    events = sorted(timeline.events + [(r["t"], "report", r["phase"] or "") for r in timeline.reports])
    last_step = last_update = cid_started = None
    for t, kind, what in events:
        if kind == "report" and "measuring CID" in what:
            cid_started = cid_started or t
        elif kind == "cid" and cid_started is not None:
            cids.append((t - cid_started, t))
            cid_started = None
        # A label step: loss/train to loss/train with at most a "training" report between them.
        if kind == "loss/train":
            if last_step is not None:
                steps.append((t - last_step, t))
            last_step = t
        elif not (kind == "report" and what in ("training", "")):  # "": an estimator without phases
            last_step = None
        # An update: loss/influence to loss/influence with at most the next update's report between.
        if kind == "loss/influence":
            if last_update is not None:
                updates.append((t - last_update, t))
            last_update = t
        elif not (kind == "report" and (": update " in what or what == "")):
            last_update = None
    return {"label_step_s": steps, "update_s": updates, "cid_s": cids}


def slowdown(steps: list[tuple[float, float]], moment: float) -> float | None:
    """Mean label step after `moment` over the mean before it."""
    before = [s for s, end in steps if end <= moment]
    after = [s for s, end in steps if end > moment]
    return statistics.fmean(after) / statistics.fmean(before) if before and after else None


def errors(timeline: Timeline, started: float, ended: float) -> list[dict]:
    wall = ended - started
    steps = unit_times(timeline)["label_step_s"]
    out = []
    for share in MOMENTS:
        moment = started + share * wall
        shown = [r for r in timeline.reports if r["t"] <= moment]
        last = shown[-1] if shown else None
        if last is None or last["eta_s"] is None:
            out.append({"at": share, "eta_s": None, "left_s": ended - moment, "error": None,
                        "phase": last and last["phase"], "guessed": None, "slowdown": slowdown(steps, moment)})
            continue
        left = ended - last["t"]
        out.append({"at": share, "eta_s": last["eta_s"], "left_s": left, "error": (last["eta_s"] - left) / left,
                    "phase": last["phase"], "guessed": last["eta_guessed"], "step": last["step"],
                    "slowdown": slowdown(steps, last["t"])})
    return out


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(JOBS), choices=list(JOBS))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = []
    for model in args.models:
        spec = JobSpec.model_validate(JOBS[model])
        timeline = Timeline()
        before = load()
        started = time.perf_counter()
        outcome = run(spec, timeline)
        ended = time.perf_counter()
        result = {"model": model, "status": outcome.status, "wall_s": ended - started, "reports": len(timeline.reports),
                  "load_before": before, "load_after": load(),
                  **{name: statistics.fmean(s for s, _ in times) if times else None
                     for name, times in unit_times(timeline).items()},
                  "moments": errors(timeline, started, ended)}
        results.append(result)
        print(f"{model}: {outcome.status} in {result['wall_s']:.0f} s, {result['reports']} progress reports; "
              f"label step {result['label_step_s'] or 0:.2f} s, CID point {result['cid_s'] or 0:.2f} s, "
              f"update {result['update_s'] or 0:.2f} s")
        print(f"  load before: {before}\n  load after:  {result['load_after']}")
        for m in result["moments"]:
            slower = "" if m["slowdown"] is None else f"; label steps after/before {m['slowdown']:.2f}x"
            if m["slowdown"] is not None and m["error"] is not None:
                slower += f", error of the ETA times that {m['eta_s'] * m['slowdown'] / m['left_s'] - 1:+.0%}"
            if m["error"] is None:
                print(f"  at {m['at']:.0%}: ETA unknown ({m['phase']!r}), {m['left_s']:.0f} s really left{slower}")
                continue
            verdict = "ok" if abs(m["error"]) <= GOAL else "MISSED"
            print(f"  at {m['at']:.0%}: ETA {m['eta_s']:.0f} s{' (guess)' if m['guessed'] else ''}, really "
                  f"{m['left_s']:.0f} s left: error {m['error']:+.0%} [{verdict}] at step {m['step']} "
                  f"({m['phase']!r}){slower}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
