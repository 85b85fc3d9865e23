"""Keeping a run's points current while it trains, asking the API only for what is new.

`held` is what the page keeps (JSON, in a dcc.Store):

    {"attempt": 1, "names": [...], "series": {name: {"steps", "values"}}, "cid": [points],
     "results": metrics or None}

Series are thinned for display on the API side (max_points) and again here as they grow
(dashboard.series); the full data stays downloadable from the API.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from dashboard.client import ApiClient, plain, plain_metrics
from dashboard.series import DISPLAY_POINTS, UPDATE_INDEXED, merge_cid, merge_series, poll_from
from jobs.contracts.api import JobOut, MetricsOut
from jobs.contracts.enums import FINISHED_STATUSES

FINISHED = FINISHED_STATUSES
# Shared by every page view: a refresh sends its few API calls at once (httpx clients are thread-safe).
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="deconfound-refresh")


def empty() -> dict:
    return {"attempt": None, "names": [], "series": {}, "cid": [], "results": None}


def refresh(client: ApiClient, job: JobOut, held: dict | None) -> tuple[dict, bool]:
    """(held with the points recorded since, whether anything changed) for `job` (GET /api/jobs/{id}).

    The API calls (curves, CID, results) are independent given the job, so they run at once:
    on a page load that is one round trip instead of three or four."""
    held = held if held and held.get("attempt") == job.attempt else {**empty(), "attempt": job.attempt}
    job_id = job.id
    series, names = held["series"], list(held["names"])

    # Label-step series together, update-indexed ones apart (their steps count other things),
    # and names never seen before from their first point.
    if not names:
        requests = [(None, None)]
    else:
        by_step = [n for n in names if n in series and n not in UPDATE_INDEXED]
        by_update = [n for n in names if n in series and n in UPDATE_INDEXED]
        requests = [(group, poll_from(series, group)) for group in (by_step, by_update) if group]
    cid = held["cid"]
    since = cid[-1]["step"] - 1 if cid else None
    results = held["results"]
    want_results = job.status in FINISHED and results is None

    metric_calls = [_POOL.submit(client.metrics, job_id, names=group, since_step=since_from, max_points=DISPLAY_POINTS)
                    for group, since_from in requests]
    # Means only: per-probe values stay on the server (the CSV download fetches them).
    cid_call = _POOL.submit(client.cid_display, job_id, since_step=since, max_points=DISPLAY_POINTS)
    results_call = _POOL.submit(client.results, job_id) if want_results else None

    changed = False

    def merge(answer: MetricsOut) -> bool:
        """Merge one metrics answer in; False if the job has moved on to another attempt."""
        nonlocal series, names, changed
        if answer.attempt != job.attempt:
            return False
        merged = merge_series(series, {n: plain(s) for n, s in answer.series.items() if s.steps})
        changed = changed or merged != series or answer.names != names
        series, names = merged, answer.names
        return True

    ok = all([merge(call.result()) for call in metric_calls])
    # Names the answers list but the page has never held: from their first point (rare: a new curve).
    fresh = [n for n in names if n not in series]
    if ok and fresh and held["names"]:
        ok = merge(client.metrics(job_id, names=fresh, since_step=None, max_points=DISPLAY_POINTS))
    if not ok:
        return {**empty(), "attempt": None}, True
    merged_cid = merge_cid(cid, plain(cid_call.result().points))
    changed = changed or len(merged_cid) != len(cid)
    if results_call is not None:
        results = plain_metrics(results_call.result()) or {}
        changed = True
    return {"attempt": job.attempt, "names": names, "series": series, "cid": merged_cid,
            "results": results}, changed
