"""When influence and embedding tuning run their rounds, and whether a run has any.

A round runs after every `interval` label steps while more than interval/2 steps remain (the
paper: every 50 steps of a 240-step TextLen run, 4 rounds). Left unset, the interval scales with
the run: about a fifth of its label steps, at most the paper's 50, so a short run still has
rounds instead of silently being finetuning.
"""
from __future__ import annotations

import math

from jobs.contracts.enums import ROUND_METHODS

DEFAULT_ROUNDS = 5       # the default interval cuts a run into this many parts (4 rounds)
MAX_DEFAULT_INTERVAL = 50  # the paper's interval


class NoRounds(ValueError):
    """A round method whose spec runs no round: refused before training."""


def round_interval(interval: int | None, total_steps: int) -> int:
    """Label steps between rounds: the spec's, else total_steps / DEFAULT_ROUNDS (1 to 50)."""
    if interval is not None:
        return interval
    return max(1, min(MAX_DEFAULT_INTERVAL, total_steps // DEFAULT_ROUNDS))


def round_steps(interval: int | None, total_steps: int) -> list[int]:
    """The label steps after which a round runs."""
    every = round_interval(interval, total_steps)
    return [every * j for j in range(1, round_count(interval, total_steps) + 1)]


def round_count(interval: int | None, total_steps: int) -> int:
    """How many rounds run, in O(1): the j >= 1 with total_steps - every*j > every/2, i.e.
    2*every*j <= 2*total_steps - every - 1 (so an estimate of a huge run costs nothing)."""
    every = round_interval(interval, total_steps)
    return max(0, (2 * total_steps - every - 1) // (2 * every))


def is_round_step(interval: int | None, total_steps: int, step: int) -> bool:
    """Does a round run after label step `step`? In O(1) (the loop asks after every step)."""
    every = round_interval(interval, total_steps)
    return step > 0 and step % every == 0 and step // every <= round_count(interval, total_steps)


def no_rounds_reason(method: str, interval: int | None, total_steps: int) -> str | None:
    """Why a round method would run no round at all (it would be plain finetuning), in one line
    naming the field to change; None when it has rounds or is not a round method."""
    if method not in ROUND_METHODS or round_count(interval, total_steps):
        return None
    if total_steps < 2:
        return (f"{method} with {total_steps} label step has no influence round: rounds run between label "
                "steps; give train.max_steps or train.epochs for at least 2 steps")
    largest = max(1, math.ceil(2 * total_steps / 3) - 1)
    return (f"influence.interval {interval}: a run of {total_steps} label steps has no influence round "
            f"(rounds run every interval steps while more than interval/2 remain), so {method} would be "
            f"plain finetuning; set influence.interval to at most {largest}, or leave it unset "
            f"(default: a fifth of the run)")


def check_rounds(method: str, interval: int | None, total_steps: int) -> None:
    """Raise NoRounds (the one-line reason) when a round method would run no round."""
    if reason := no_rounds_reason(method, interval, total_steps):
        raise NoRounds(reason)
