"""A CID point, one shape from the engine to the figure: LiveCID.measure builds it, the recorders
take it (jobs.recorder, backend.store.recorder), the store keeps its fields as columns, GET
/api/jobs/{id}/cid and /cid/display answer it, the dashboard draws it.

And thinning, written once: long series shown as about max_points points (the API's /metrics and
/cid/display, the dashboard's held series).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from jobs.contracts.enums import CidPhase

LIVE = CidPhase.LIVE


class CidExtra(BaseModel):
    """What the engine records beside the mean (methods may add more: kept)."""

    model_config = ConfigDict(extra="allow")

    p_median: float | None = Field(None, description="median over probes of the A-vs-B test's p-value")
    probes: int | None = Field(None, description="probes measured")


class CidPoint(BaseModel):
    """Mean CID over the probe set at a label step, with its phase; the display answer leaves
    per_probe and extra out (None)."""

    step: int
    phase: CidPhase
    value: float | None = Field(description="None (the engine: NaN) when no probe had both an A and a B group")
    per_probe: list[float | None] | None = None
    extra: CidExtra | None = None


T = TypeVar("T")


def thin(points: Sequence[T], max_points: int | None, pinned: Callable[[T], bool] | None = None) -> list[T]:
    """At most about max_points of `points` (in order): every k-th point, all those `pinned` says
    to keep, and always the last. Fewer than max_points (or None): all of them."""
    if max_points is None or len(points) <= max_points:
        return list(points)
    kept = {i for i, point in enumerate(points) if pinned(point)} if pinned is not None else set()
    free = [i for i in range(len(points)) if i not in kept]
    stride = max(1, -(-len(free) // max(1, max_points - len(kept))))
    kept.update(free[::stride])
    kept.add(len(points) - 1)
    return [points[i] for i in sorted(kept)]


def thin_cid(points: Sequence[CidPoint], max_points: int | None) -> list[CidPoint]:
    """Every k-th live point but every point of the rounds and the final one, so the drops the
    rounds make stay visible."""
    return thin(points, max_points, pinned=lambda point: point.phase != LIVE)
