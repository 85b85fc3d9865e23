"""How the engine reports: a small interface, and the in-memory and JSONL implementations.

The engine calls these methods as numbers are produced; it never knows where they go.
backend/ adds a recorder that batches rows into the run store.

Phases of a CID point: "live" (measured every `cid_every` label steps), "pre-round" and
"post-round" (just before / after an influence-tuning round, at the same step).
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

from jobs.contracts.cid import CidPoint
from jobs.contracts.enums import CID_PHASES
from jobs.contracts.influence import InfluenceSnapshot
from jobs.contracts.json_value import JsonObject
from jobs.contracts.results import JobResults

# One probe's A and B scores at a step: Figure 1's two histograms (the contract's name for it).
InfluenceLists = InfluenceSnapshot


def flat_cid(point: CidPoint) -> JsonObject:
    """A CID point as one flat dict, its extra fields beside the others (a JSONL line; MemoryRecorder.cids);
    a missing value is NaN, as the engine measured it."""
    value = float("nan") if point.value is None else float(point.value)
    extra = point.extra.model_dump(exclude_unset=True) if point.extra is not None else {}
    return {"step": int(point.step), "phase": point.phase, "value": value, "per_probe": point.per_probe, **extra}


class ProgressReport(NamedTuple):
    """One progress call, as MemoryRecorder keeps it."""

    step: int
    total: int
    eta_s: float | None
    phase: str | None
    eta_guessed: bool


class Recorder(Protocol):
    """What the engine calls. Every method must be cheap; implementations batch their I/O."""

    def scalar(self, name: str, step: int, value: float) -> None:
        """A training curve point, e.g. name="loss/train", "acc/dev"."""

    def cid(self, point: CidPoint) -> None:
        """Mean CID over the probe set at a label step; point.phase in CID_PHASES."""

    def influence(self, lists: InfluenceLists) -> None:
        """Per-probe A/B influence score lists (for histograms)."""

    def progress(self, step: int, total: int, eta_s: float | None, phase: str | None = None,
                 eta_guessed: bool = False) -> None:
        """Where the job is: label step of total (0 of 0 before the total is known); seconds left
        (None: unknown, nothing timed yet); the phase, what it is doing now in words ("measuring
        CID (step 0)", "influence round 2/4: update 5/16", "training", "evaluating"); eta_guessed:
        part of eta_s rests on a guess, a kind of work not yet timed in this run."""

    def result(self, results: JobResults) -> None:
        """Final metrics (accuracy per split, per group, worst group, CID, flip rates...)."""

    def log(self, message: str) -> None:
        """A human-readable event line (round started, trial collapsed...)."""

    def diagnostic(self, name: str, payload: JsonObject) -> None:
        """A method's structured findings under `name` (e.g. NeuronTune's "neurontune.scores"):
        a JSON-ready dict, recorded once per name and run (a later one with the same name wins)."""

    def flush(self) -> None:
        """Write out anything buffered."""

    def checkpoint(self, step: int) -> JsonObject:
        """The run saved its state after label `step` (jobs.checkpoint): flush, and return a
        JSON-ready mark of what was recorded so far, which `begin` of a resumed run gets back."""

    def begin(self, resumed_from: JsonObject | None) -> None:
        """A run (attempt) starts: afresh (None), or resumed from a checkpoint whose mark this is;
        the recorder keeps what was recorded up to the mark and drops the rest."""


class NullRecorder:
    """Drops everything; the base for recorders that only care about some calls."""

    def scalar(self, name, step, value): pass
    def cid(self, point): pass
    def influence(self, lists): pass
    def progress(self, step, total, eta_s, phase=None, eta_guessed=False): pass
    def result(self, results): pass
    def log(self, message): pass
    def diagnostic(self, name, payload): pass
    def flush(self): pass

    def checkpoint(self, step):
        self.flush()
        return {}

    def begin(self, resumed_from): pass


@dataclass
class MemoryRecorder(NullRecorder):
    """Keeps everything in lists; what tests read."""

    scalars: list[tuple[str, int, float]] = field(default_factory=list)
    cids: list[JsonObject] = field(default_factory=list)
    influences: list[InfluenceLists] = field(default_factory=list)
    progresses: list[tuple[int, int, float | None]] = field(default_factory=list)
    reports: list[ProgressReport] = field(default_factory=list)  # the same calls, every argument
    results: list[JobResults] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    diagnostics: dict[str, JsonObject] = field(default_factory=dict)

    def scalar(self, name, step, value):
        self.scalars.append((name, int(step), float(value)))

    def cid(self, point):
        assert point.phase in CID_PHASES, point.phase
        self.cids.append(flat_cid(point))

    def influence(self, lists):
        self.influences.append(lists)

    def progress(self, step, total, eta_s, phase=None, eta_guessed=False):
        self.progresses.append((int(step), int(total), eta_s))
        self.reports.append(ProgressReport(int(step), int(total), eta_s, phase, bool(eta_guessed)))

    def result(self, results):
        self.results.append(results)

    def log(self, message):
        self.logs.append(message)

    def diagnostic(self, name, payload):
        self.diagnostics[name] = payload

    LISTS = ("scalars", "cids", "influences", "logs")

    def checkpoint(self, step):
        return {name: len(getattr(self, name)) for name in self.LISTS}

    def begin(self, resumed_from):
        """Resumed (the same recorder reused): keep what was recorded up to the mark."""
        for name in self.LISTS:
            if name in (resumed_from or {}):
                del getattr(self, name)[resumed_from[name]:]

    def series(self, name: str) -> list[tuple[int, float]]:
        """(step, value) of one scalar, in recording order."""
        return [(s, v) for n, s, v in self.scalars if n == name]


EVALUATION_PREFIX = "acc/"  # the scalars an evaluation records (jobs/methods/callbacks/accuracy_points.py)


class JsonlRecorder(NullRecorder):
    """One JSON object per line, {"kind": ..., "t": unix seconds, ...}; what the CLI writes.

    Scalars and progress are buffered, and written at least every `flush_every_s` seconds (and
    every `flush_every` records); a CID point, an influence snapshot (a round), a log line, a
    diagnostic and the result are written at once. So a run killed with -9 keeps all it measured
    and at most a few seconds of its loss curve."""

    def __init__(self, path: str | Path, flush_every: int = 50, flush_every_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = self.path.open("a", encoding="utf-8")
        self._buf: list[str] = []
        self.flush_every, self.flush_every_s, self._clock = flush_every, flush_every_s, clock
        self._flushed_at = clock()
        self._phase: str | None = None  # of the last progress call

    def _write(self, kind: str, now: bool = False, **data):
        self._buf.append(json.dumps({"kind": kind, "t": round(time.time(), 3), **data}))
        if now or len(self._buf) >= self.flush_every or self._clock() - self._flushed_at >= self.flush_every_s:
            self.flush()

    def scalar(self, name, step, value):
        # An evaluation (acc/<split>) is written at once, as a CID point is; losses are buffered.
        self._write("scalar", now=name.startswith(EVALUATION_PREFIX), name=name, step=int(step), value=float(value))

    def cid(self, point):
        self._write("cid", now=True, **flat_cid(point))

    def influence(self, lists):
        self._write("influence", now=True, **lists.model_dump())

    def progress(self, step, total, eta_s, phase=None, eta_guessed=False):
        # Progress is for live displays; the file keeps every 10th step and each change of phase.
        if step % 10 == 0 or step == total or phase != self._phase:
            self._write("progress", step=int(step), total=int(total), eta_s=eta_s, phase=phase,
                        eta_guessed=bool(eta_guessed))
        self._phase = phase

    def result(self, results):
        self._write("result", now=True, metrics=results.model_dump(mode="json", exclude_unset=True))

    def log(self, message):
        self._write("log", now=True, message=message)

    def diagnostic(self, name, payload):
        self._write("diagnostic", now=True, name=name, payload=payload)

    def flush(self):
        if self._buf:
            self._f.write("\n".join(self._buf) + "\n")
            self._f.flush()
            self._buf.clear()
        self._flushed_at = self._clock()

    def checkpoint(self, step):
        """The mark is the file's length after a flush: a resumed run cuts the file back to it."""
        self.flush()
        return {"jsonl_path": str(self.path.resolve()), "jsonl_bytes": self._f.tell()}

    def begin(self, resumed_from):
        if (resumed_from or {}).get("jsonl_path") == str(self.path.resolve()):
            self.flush()
            self._f.truncate(resumed_from["jsonl_bytes"])  # appends go on from the new end

    def close(self):
        self.flush()
        self._f.close()


class TeeRecorder:
    """Sends every call to several recorders (e.g. a file and a progress bar)."""

    def __init__(self, *recorders):
        self.recorders = recorders

    def scalar(self, *a, **k):
        for r in self.recorders:
            r.scalar(*a, **k)

    def cid(self, *a, **k):
        for r in self.recorders:
            r.cid(*a, **k)

    def influence(self, *a, **k):
        for r in self.recorders:
            r.influence(*a, **k)

    def progress(self, *a, **k):
        for r in self.recorders:
            r.progress(*a, **k)

    def result(self, *a, **k):
        for r in self.recorders:
            r.result(*a, **k)

    def log(self, *a, **k):
        for r in self.recorders:
            r.log(*a, **k)

    def diagnostic(self, *a, **k):
        for r in self.recorders:
            r.diagnostic(*a, **k)

    def flush(self):
        for r in self.recorders:
            r.flush()

    def checkpoint(self, step):
        """The recorders' marks in one dict (each keeps to keys of its own)."""
        merged: JsonObject = {}
        for r in self.recorders:
            merged.update(r.checkpoint(step) or {})
        return merged

    def begin(self, resumed_from):
        for r in self.recorders:
            r.begin(resumed_from)
