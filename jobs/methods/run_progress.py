"""Where a run is and how long it has left: its phase in words, and an ETA from this run's speeds.

The loop, the live CID and a method's rounds report through one RunProgress. A run is a plan of
units of work, by label step:

    step 0           a CID point (when cid_every)
    label step s     the label step; the method's work after it (an influence round: a CID point,
                     its updates, a CID point); a live CID point every cid_every steps (where the
                     method measured none); an accuracy point every eval_every steps
    the end          the final evaluation, the final CID point

The ETA is what is left of the plan, each kind of unit at the seconds it took in this run
(Timings): label steps, CID points, accuracy points and influence updates are timed apart. A
kind not timed yet is guessed from one that is (GUESS_*; a method guesses its own units, and
gives the timings a checkpoint kept), and the report says so (eta_guessed); with nothing timed at
all the ETA is unknown (None). A CID point being measured counts as done in the share of its
examples' tokens scored so far.
"""
from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from jobs.contracts.enums import CidPhase
from jobs.recorder import Recorder


class Work(str, Enum):
    """Kinds of unit the ETA counts and times apart."""

    LABEL_STEP = "label step"
    CID = "CID point"
    UPDATE = "influence update"
    EVALUATION = "accuracy point"
    FINAL_EVALUATION = "final evaluation"


Units = dict[Work, float]

# Kinds whose guessed cost marks the ETA as a guess; accuracy points and the final evaluation are
# forward passes only, small beside them, and are guessed from the label steps without saying so.
FLAGGED = (Work.LABEL_STEP, Work.CID, Work.UPDATE)

# Guesses before a kind is timed, in seconds per example of the kind whose time is known
# (benchmarks/service/eta_error.py; docs/performance.md): a CID example (one forward and backward
# that keeps the factors, then dot products with the probes) against a training example of a
# label step, and an evaluated example (forward only, in batches of 128: measured 0.11 on MiniLM,
# 0.17 on tiny).
GUESS_CID_PER_LABEL_EXAMPLE = 1.0
GUESS_FORWARD_PER_LABEL_EXAMPLE = 0.15

# The latest units of a kind whose mean is its time.
RECENT_STEPS = 50
RECENT_UNITS = 10


def typical_seconds(samples: Sequence[float]) -> float:
    """The time of a unit from those timed so far: the mean of all but the first (a warm-up:
    allocations and first calls made it two or three times the later ones on MiniLM) once there
    are two. The mean, not the median: on a busy machine a unit's time has a long tail (tiny's
    label steps in one run: median 0.18 s, mean 0.58 s), and what is left takes the mean."""
    return statistics.fmean(list(samples)[1:] if len(samples) > 1 else samples)


class Timings:
    """Seconds of each unit timed in this run, by kind; a kind's time is typical_seconds of its
    latest units (RECENT_UNITS; label steps: RECENT_STEPS, enough to average a busy machine's
    bursts, few enough to follow a lasting change of its load)."""

    def __init__(self):
        self.units: dict[Work, list[float]] = {kind: [] for kind in Work}

    def add(self, kind: Work, seconds: float) -> None:
        self.units[kind].append(seconds)

    def timed(self, kind: Work) -> bool:
        return bool(self.units[kind])

    def seconds(self, kind: Work) -> float | None:
        """One unit of `kind`; None before one is timed."""
        units = self.units[kind]
        if not units:
            return None
        recent = RECENT_STEPS if kind == Work.LABEL_STEP else RECENT_UNITS
        return typical_seconds(units[:1] + units[1:][-recent:])


@dataclass(frozen=True)
class Sizes:
    """What the guesses scale with: examples per label step, per CID point (probes + pool), per
    accuracy point (train, dev, test) and in the final evaluation (counterfactuals included)."""

    batch: int
    cid: int
    evaluation: int
    final_evaluation: int


@dataclass(frozen=True)
class Cost:
    seconds: float
    guessed: bool


class RunProgress:
    """Reports the run's phase and ETA to the recorder as its units of work start and finish.

    method_plan: label step -> the units the method runs after it (jobs.methods.loop.Method.work_plan);
    method_cost: seconds of one unit of a kind the method times itself, or None (Method.unit_cost)."""

    def __init__(self, recorder: Recorder, total_steps: int, cid_every: int, eval_every: int, sizes: Sizes,
                 method_plan: dict[int, Units], method_cost: Callable[[Work], Cost | None]):
        self.recorder, self.total, self.sizes = recorder, total_steps, sizes
        self.cid_every, self.eval_every = cid_every, eval_every
        self.method_plan, self.method_cost = method_plan, method_cost
        self.rounds = sorted(s for s, units in method_plan.items() if units.get(Work.UPDATE))
        self.timings = Timings()
        self.last_end: float | None = None  # when the latest unit ended (an update is timed from it)
        self.step = 0              # the label step whose units are being worked through
        self.final = False         # in the final evaluation and CID
        self.done: Counter = Counter()  # units finished at self.step (or at the end)
        self.current: tuple[Work, float, float] | None = None  # (kind, started, share done) of the unit under way

    # ---- what the engine calls -------------------------------------------------------------

    def start(self, kind: Work, step: int, phase: str | None = None) -> None:
        """A unit of `kind` at label `step` begins (step 0: before the first label step); reports
        `phase` when given."""
        self._at(step)
        if kind == Work.FINAL_EVALUATION:
            self.final, self.done = True, Counter()
        self.current = (kind, time.perf_counter(), 0.0)
        if phase is not None:
            self.report(phase)

    def begin_steps(self, first_step: int) -> None:
        """Label steps start after `first_step` (0, or the step a checkpoint was saved after):
        everything up to it is done. Reports "training"."""
        self.step, self.done, self.current = first_step, Counter(self.plan_at(first_step)), None
        self.report("training")

    def advance(self, share: float, phase: str) -> None:
        """The unit under way is `share` (0..1) done; reports `phase`."""
        if self.current is not None:
            kind, started, _ = self.current
            self.current = (kind, started, min(max(share, 0.0), 1.0))
        self.report(phase)

    def finish(self, kind: Work, step: int, seconds: float | None = None) -> None:
        """A unit of `kind` at label `step` ended, taking `seconds` (timed here if None: since
        start). A round's CID point before its updates reports the first update as the phase."""
        self._at(step)
        if seconds is None and self.current is not None and self.current[0] == kind:
            seconds = time.perf_counter() - self.current[1]
        if seconds is not None:
            self.timings.add(kind, seconds)
        self.done[kind] += 1
        self.current, self.last_end = None, time.perf_counter()
        if kind == Work.CID and not self.final and step in self.rounds and self.done[Work.CID] == 1:
            self.report(self.round_phase(step, 1))

    def updates_done(self, step: int, done: int) -> None:
        """The method has run `done` updates of its round at label `step`; the new ones are timed
        from the end of the unit before (the round's first CID point, or the update before)."""
        self._at(step)
        now, new = time.perf_counter(), done - self.done[Work.UPDATE]
        if new > 0 and self.last_end is not None:
            for _ in range(new):
                self.timings.add(Work.UPDATE, (now - self.last_end) / new)
        self.done[Work.UPDATE], self.last_end = done, now

    def report(self, phase: str) -> None:
        eta = self.eta()
        self.recorder.progress(self.step, self.total, None if eta is None else eta.seconds, phase=phase,
                               eta_guessed=eta is not None and eta.guessed)

    # ---- phases in words -------------------------------------------------------------------

    def round_phase(self, step: int, update: int) -> str:
        """"influence round 2/4: update 5/16" (update: the one under way)."""
        return f"{self._round_name(step)}: update {update}/{int(self.method_plan[step][Work.UPDATE])}"

    def cid_phase(self, step: int, cid_phase: CidPhase) -> str:
        """The words of a CID point of a CidPhase at `step`."""
        if cid_phase == CidPhase.PRE_ROUND:
            return f"{self._round_name(step)}: measuring CID before"
        if cid_phase == CidPhase.POST_ROUND:
            return f"{self._round_name(step)}: measuring CID after"
        return "measuring CID (final)" if cid_phase == CidPhase.FINAL else f"measuring CID (step {step})"

    def _round_name(self, step: int) -> str:
        number = self.rounds.index(step) + 1 if step in self.rounds else "?"
        return f"influence round {number}/{len(self.rounds)}"

    # ---- the plan and the ETA --------------------------------------------------------------

    def _at(self, step: int) -> None:
        if step != self.step:
            self.step, self.done = step, Counter()

    def _live_cid(self, step: int) -> bool:
        return bool(self.cid_every) and step % self.cid_every == 0 and 0 < step < self.total \
            and not self.method_plan.get(step, {}).get(Work.CID)

    def plan_at(self, step: int) -> Units:
        """The units of label step `step` (step 0: the first CID point)."""
        if step == 0:
            return {Work.CID: 1.0 if self.cid_every else 0.0}
        units: Counter = Counter({Work.LABEL_STEP: 1.0})
        units.update(self.method_plan.get(step, {}))
        units[Work.CID] += self._live_cid(step)
        units[Work.EVALUATION] += step % self.eval_every == 0 and step < self.total
        return dict(units)

    def plan_after(self, step: int) -> Units:
        """The units of every label step after `step`, and of the end."""
        units: Counter = Counter({Work.LABEL_STEP: self.total - step, Work.FINAL_EVALUATION: 1, Work.CID: 1})
        for at, method_units in self.method_plan.items():
            if at > step:
                units.update(method_units)
        if self.cid_every:
            units[Work.CID] += (self.total - 1) // self.cid_every - step // self.cid_every
            units[Work.CID] -= sum(1 for at in self.method_plan if at > step and at < self.total
                                   and at % self.cid_every == 0 and self.method_plan[at].get(Work.CID))
        units[Work.EVALUATION] += max(0, (self.total - 1) // self.eval_every - step // self.eval_every)
        return dict(units)

    def left(self) -> Units:
        """Units still to run: the rest of the current step (or the end), then everything after it;
        the unit under way counts less its share done."""
        if self.final:
            units = Counter({Work.FINAL_EVALUATION: 1, Work.CID: 1})
        else:
            units = Counter(self.plan_at(self.step))
        for kind, done in self.done.items():
            units[kind] = max(0.0, units[kind] - done)
        if not self.final:
            units.update(self.plan_after(self.step))
        if self.current is not None:
            kind, _, share = self.current
            units[kind] = max(0.0, units[kind] - share)
        return {kind: count for kind, count in units.items() if count > 0}

    def cost(self, kind: Work) -> Cost | None:
        """Seconds of one unit of `kind`: timed in this run, else guessed; None if no basis yet."""
        if self.timings.timed(kind):
            return Cost(self.timings.seconds(kind), False)
        if kind == Work.CID and (partial := self._partial(Work.CID)) is not None:
            return Cost(partial, True)
        method_cost = self.method_cost(kind)
        if method_cost is not None:
            return method_cost
        per_example = self.label_example_s()
        if kind == Work.LABEL_STEP:
            return None if per_example is None else Cost(per_example.seconds * self.sizes.batch, True)
        if per_example is None:
            return None
        if kind == Work.CID:
            return Cost(per_example.seconds * GUESS_CID_PER_LABEL_EXAMPLE * self.sizes.cid, True)
        if kind == Work.FINAL_EVALUATION and self.timings.timed(Work.EVALUATION):
            evaluation = self.cost(Work.EVALUATION).seconds
            return Cost(evaluation * self.sizes.final_evaluation / max(self.sizes.evaluation, 1), False)
        rows = self.sizes.final_evaluation if kind == Work.FINAL_EVALUATION else self.sizes.evaluation
        return Cost(per_example.seconds * GUESS_FORWARD_PER_LABEL_EXAMPLE * rows, True)

    def label_example_s(self) -> Cost | None:
        """Seconds of one training example in a label step: timed, else guessed from a CID point's."""
        if self.timings.timed(Work.LABEL_STEP):
            return Cost(self.timings.seconds(Work.LABEL_STEP) / self.sizes.batch, False)
        cid = self.timings.seconds(Work.CID) if self.timings.timed(Work.CID) else self._partial(Work.CID)
        if not cid:
            return None
        return Cost(cid / max(self.sizes.cid, 1) / GUESS_CID_PER_LABEL_EXAMPLE, True)

    def _partial(self, kind: Work) -> float | None:
        """A first unit of `kind` under way: its seconds so far over its share done (None before
        a tenth is done: too early to extrapolate)."""
        if self.current is None or self.current[0] != kind or self.current[2] < 0.1:
            return None
        return (time.perf_counter() - self.current[1]) / self.current[2]

    def eta(self) -> Cost | None:
        """Seconds left, and whether a flagged kind among them is guessed; None while some unit
        left has no basis at all."""
        seconds, guessed = 0.0, False
        for kind, count in self.left().items():
            cost = self.cost(kind)
            if cost is None or not math.isfinite(cost.seconds):
                return None
            seconds += count * cost.seconds
            guessed = guessed or (cost.guessed and kind in FLAGGED)
        return Cost(seconds, guessed)
