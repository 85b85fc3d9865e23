"""Keeping a run's points current while it trains, asking the API only for what is new.

`held` is what the page keeps (JSON, in a dcc.Store):

    {"attempt": 1, "names": [...], "series": {name: {"steps", "values"}}, "cid": [points],
     "results": metrics or None}

Series are thinned for display on the API side (max_points) and again here as they grow
(dashboard.series); the full data stays downloadable from the API.
"""
from __future__ import annotations

from dashboard.client import ApiClient
from dashboard.series import DISPLAY_POINTS, UPDATE_INDEXED, merge_cid, merge_series, poll_from

FINISHED = ("succeeded", "failed", "cancelled", "collapsed")


def empty() -> dict:
    return {"attempt": None, "names": [], "series": {}, "cid": [], "results": None}


def refresh(client: ApiClient, job: dict, held: dict | None) -> tuple[dict, bool]:
    """(held with the points recorded since, whether anything changed) for `job` (GET /api/jobs/{id})."""
    held = held if held and held.get("attempt") == job["attempt"] else {**empty(), "attempt": job["attempt"]}
    job_id, changed = job["id"], False
    series, names = held["series"], list(held["names"])

    def fetch(group: list[str] | None, since: int | None) -> bool:
        """Merge one metrics answer in; False if the job has moved on to another attempt."""
        nonlocal series, names, changed
        answer = client.metrics(job_id, names=group, since_step=since, max_points=DISPLAY_POINTS)
        if answer["attempt"] != job["attempt"]:
            return False
        merged = merge_series(series, {n: s for n, s in answer["series"].items() if s["steps"]})
        changed = changed or merged != series or answer["names"] != names
        series, names = merged, answer["names"]
        return True

    # Label-step series together, update-indexed ones apart (their steps count other things),
    # and names never seen before from their first point.
    if not names:
        ok = fetch(None, None)
    else:
        by_step = [n for n in names if n in series and n not in UPDATE_INDEXED]
        by_update = [n for n in names if n in series and n in UPDATE_INDEXED]
        ok = all(fetch(group, poll_from(series, group)) for group in (by_step, by_update) if group)
        fresh = [n for n in names if n not in series]  # names as the last answer gave them
        ok = ok and (not fresh or fetch(fresh, None))
    if not ok:
        return {**empty(), "attempt": None}, True

    cid = held["cid"]
    since = cid[-1]["step"] - 1 if cid else None
    # Means only: per-probe values stay on the server (the CSV download fetches them).
    answer = client.cid_display(job_id, since_step=since, max_points=DISPLAY_POINTS)
    merged_cid = merge_cid(cid, answer["points"])
    changed = changed or len(merged_cid) != len(cid)

    results = held["results"]
    if job["status"] in FINISHED and results is None:
        results = client.results(job_id).get("metrics") or {}
        changed = True
    return {"attempt": job["attempt"], "names": names, "series": series, "cid": merged_cid,
            "results": results}, changed
