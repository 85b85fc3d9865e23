"""Points for display: thinning long series and merging the new points of a live poll.

The API thins on its side too (max_points); these keep what the page holds bounded while a
run grows, and let a poll ask again for the last step without drawing any point twice.
"""
from __future__ import annotations

from typing import Any

from jobs.contracts.cid import thin as thin_points

DISPLAY_POINTS = 1000
# Series whose x axis is not the label step (influence-optimiser updates): polled on their own.
UPDATE_INDEXED = ("loss/influence",)


def thin(steps: list[int], values: list[Any], max_points: int = DISPLAY_POINTS) -> tuple[list[int], list[Any]]:
    """Every k-th point, always keeping the last, so that at most about max_points remain
    (jobs.contracts.cid.thin, as the API thins)."""
    keep = thin_points(range(len(steps)), max_points)
    return [steps[i] for i in keep], [values[i] for i in keep]


def merge_series(held: dict[str, dict], new: dict[str, dict], max_points: int = DISPLAY_POINTS) -> dict[str, dict]:
    """Append to each held series {"steps", "values"} the new points past its last step; thin a
    series again once it holds twice max_points."""
    merged = {name: {"steps": list(s["steps"]), "values": list(s["values"])} for name, s in held.items()}
    for name, series in new.items():
        target = merged.setdefault(name, {"steps": [], "values": []})
        last = target["steps"][-1] if target["steps"] else None
        for step, value in zip(series["steps"], series["values"], strict=False):
            if last is None or step > last:
                target["steps"].append(step)
                target["values"].append(value)
                last = step
        if len(target["steps"]) > 2 * max_points:
            target["steps"], target["values"] = thin(target["steps"], target["values"], max_points)
    return merged


def poll_from(held: dict[str, dict], names: list[str]) -> int | None:
    """The since_step for the next poll of `names`: one before the least recent last step, so a
    step whose points arrived in two flushes is read again (merge_series drops repeats)."""
    lasts = [held[n]["steps"][-1] for n in names if n in held and held[n]["steps"]]
    return min(lasts) - 1 if lasts else None


def merge_cid(held: list[dict], new: list[dict]) -> list[dict]:
    """CID points in recording order without repeats; a point is its (step, phase)."""
    seen = {(p["step"], p["phase"]) for p in held}
    merged = list(held)
    for point in new:
        key = (point["step"], point["phase"])
        if key not in seen:
            seen.add(key)
            merged.append(point)
    return merged
