"""The store recorder: what the engine reports during a job, written to the database in batches.

Every recorder call only appends to an in-memory queue (a few hundred nanoseconds), so logging
costs training almost nothing; `flush()` writes the queued rows in one transaction. The worker's
lease keeper flushes every heartbeat, the engine flushes at the end of a run, and a full queue
flushes itself so memory stays bounded.

Rows carry the job attempt that wrote them. A flush first checks, in the same transaction, that
this attempt still owns the job; if another worker has taken it over (this one lost its lease),
nothing is written and `lost` turns true.
"""
from __future__ import annotations

import math
import threading
from collections import deque
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from backend.store.db import Database
from backend.store.models import (
    POINT_TABLES,
    CidPoint,
    Diagnostic,
    InfluenceList,
    Job,
    LogLine,
    ResultValue,
    ScalarPoint,
    utcnow,
)
from backend.store.paths import public_text
from jobs.contracts.cid import CidPoint as Cid
from jobs.contracts.enums import CID_PHASES, JobStatus
from jobs.contracts.json_value import JsonObject
from jobs.contracts.results import JobResults
from jobs.recorder import InfluenceLists

# The rows a run writes while it trains: what a checkpoint's mark covers and a resumed run keeps.
TRAINING_TABLES = (ScalarPoint, CidPoint, InfluenceList, LogLine, Diagnostic)

# Job.progress_phase's length.
PHASE_CHARS = 200

# Metrics of one evaluated split (jobs.evaluate.accuracy_report) that become result rows.
SPLIT_METRICS = ("acc", "worst_group_acc", "agree_acc", "disagree_acc", "flip_rate", "n")


def _finite(value: Any) -> float | None:
    """JSON and SQL both choke on NaN/inf in some paths; store them as NULL."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def result_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The final metrics as (split, group, metric, value) rows: each split's accuracy, worst-group
    accuracy and the like, each (label|confound) group's accuracy, and run-level numbers (split None)."""
    rows = []
    for key, value in metrics.items():
        if isinstance(value, dict) and "acc" in value:
            for metric in SPLIT_METRICS:
                if metric in value:
                    rows.append({"split": key, "group": None, "metric": metric, "value": _finite(value[metric])})
            for group, accuracy in (value.get("per_group") or {}).items():
                rows.append({"split": key, "group": str(group), "metric": "acc", "value": _finite(accuracy)})
        elif isinstance(value, (int, float)):  # bools too: collapsed becomes 0 or 1
            rows.append({"split": None, "group": None, "metric": key, "value": _finite(value)})
    return rows


def jsonable(value: Any) -> Any:
    """`value` with NaN/inf replaced by None, recursively (strict JSON for the API)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


class StoreRecorder:
    """A jobs.recorder.Recorder that writes one job attempt's points to the store."""

    def __init__(self, db: Database, job_id: int, attempt: int, worker_id: str, max_queued: int = 20_000,
                 data_dir: Path | None = None):
        self.db, self.job_id, self.attempt, self.worker_id = db, job_id, attempt, worker_id
        # Anyone may read a job's log, phase and metrics: with the data directory given, the paths
        # the engine names in them (a model directory, the saved model's) are written relative to it.
        self.data_dir = data_dir
        self.max_queued = max_queued
        self.lost = False
        self._scalars: deque = deque()
        self._cids: deque = deque()
        self._influences: deque = deque()
        self._logs: deque = deque()
        self._diagnostics: deque = deque()
        self._progress: tuple[int, int, float | None, str | None, bool] | None = None
        self._metrics: dict[str, Any] | None = None
        self._flushing = threading.Lock()
        self.begun = False

    # --- the Recorder protocol: cheap appends --------------------------------------------------

    def scalar(self, name: str, step: int, value: float) -> None:
        self._scalars.append((name, int(step), float(value)))
        if len(self._scalars) >= self.max_queued:
            self._flush_quietly()

    def cid(self, point: Cid) -> None:
        if point.phase not in CID_PHASES:
            raise ValueError(f"unknown CID phase '{point.phase}'; valid: {', '.join(CID_PHASES)}")
        self._cids.append(point)

    def influence(self, lists: InfluenceLists) -> None:
        self._influences.append(lists)

    def progress(self, step, total, eta_s, phase=None, eta_guessed=False) -> None:
        self._progress = (int(step), int(total), None if eta_s is None else float(eta_s),
                          None if phase is None else str(phase)[:PHASE_CHARS], bool(eta_guessed))

    def result(self, results: JobResults) -> None:
        self._metrics = results.model_dump(mode="json", exclude_unset=True)  # what the engine set
        self._flush_quietly()

    def log(self, message: str) -> None:
        self._logs.append((utcnow(), str(message)))

    def diagnostic(self, name: str, payload: JsonObject) -> None:
        if not isinstance(payload, dict):
            raise TypeError(f"diagnostic '{name}': the payload must be a dict, got {type(payload).__name__}")
        self._diagnostics.append((utcnow(), str(name), jsonable(payload)))

    # --- checkpoints: which rows a resumed attempt keeps ---------------------------------------

    def checkpoint(self, step: int) -> JsonObject:
        """Flush (errors propagate: no checkpoint then), then mark the newest row of each training
        table: every row of this job up to that id belongs to the checkpointed state."""
        self.flush()
        with self.db.session() as session:
            ids = {table.__tablename__: session.scalar(select(func.max(table.id)).where(table.job_id == self.job_id))
                   for table in TRAINING_TABLES}
        return {"step": int(step), "ids": {name: value for name, value in ids.items() if value is not None}}

    def begin(self, resumed_from: JsonObject | None) -> None:
        """This attempt starts. Rows of earlier attempts are deleted, except, when it resumes from
        a checkpoint, the rows its mark covers: they become this attempt's (ids only grow, so the
        rows an earlier attempt wrote after its checkpoint have larger ids and go)."""
        ids = (resumed_from or {}).get("ids", {})
        with self.db.writing() as session:
            owned = session.scalar(select(func.count()).where(
                Job.id == self.job_id, Job.attempt == self.attempt, Job.worker_id == self.worker_id,
                Job.status == JobStatus.RUNNING))
            if not owned:
                self.lost = True
                return
            for table in POINT_TABLES:
                older = (table.job_id == self.job_id, table.attempt < self.attempt)
                if table.__tablename__ in ids:
                    session.execute(update(table).where(*older, table.id <= int(ids[table.__tablename__]))
                                    .values(attempt=self.attempt))
                session.execute(delete(table).where(*older))
        self.begun = True

    # --- writing ---------------------------------------------------------------------------------

    @staticmethod
    def _drain(queue: deque) -> list:
        # popleft is atomic, so the engine thread may keep appending while we drain.
        return [queue.popleft() for _ in range(len(queue))]

    def flush(self) -> None:
        """Write everything queued in one transaction (nothing if this attempt lost the job).

        If the database fails (busy beyond the timeout, restarting), the rows go back to the
        front of the queue and the error propagates: the next flush tries them again."""
        with self._flushing:
            batch = {name: self._drain(queue) for name, queue in self._queues().items()}
            progress, metrics, self._metrics = self._progress, self._metrics, None
            if self.lost:
                return
            try:
                self._write(batch, progress, metrics)
            except BaseException:
                for name, queue in self._queues().items():
                    queue.extendleft(reversed(batch[name]))
                if metrics is not None and self._metrics is None:
                    self._metrics = metrics
                raise

    def _flush_quietly(self) -> None:
        """A flush from inside the engine's calls: a database error must not fail the training;
        the rows stay queued for the next flush, which reports it."""
        try:
            self.flush()
        except Exception:
            pass

    def _public(self, text: str | None) -> str | None:
        return text if text is None or self.data_dir is None else public_text(text, self.data_dir)

    def _public_metrics(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """The engine's metrics with the saved model's directory relative to the data directory."""
        saved = metrics.get("artifact_dir")
        if self.data_dir is None or not isinstance(saved, str):
            return metrics
        return {**metrics, "artifact_dir": self._public(saved)}

    def _queues(self) -> dict[str, deque]:
        return {"scalars": self._scalars, "cids": self._cids, "influences": self._influences, "logs": self._logs,
                "diagnostics": self._diagnostics}

    def _write(self, batch: dict[str, list], progress, metrics) -> None:
        key = {"job_id": self.job_id, "attempt": self.attempt}
        with self.db.writing() as session:
            job_values: dict[str, Any] = {"heartbeat_at": utcnow()}
            if progress is not None:
                job_values.update(progress_step=progress[0], progress_total=progress[1], eta_s=_finite(progress[2]),
                                  progress_phase=self._public(progress[3]), eta_guessed=progress[4])
            if metrics is not None:
                job_values["metrics"] = self._public_metrics(jsonable(metrics))
            owned = session.execute(
                update(Job).where(Job.id == self.job_id, Job.attempt == self.attempt,
                                  Job.worker_id == self.worker_id, Job.status == JobStatus.RUNNING)
                .values(**job_values)).rowcount
            if not owned:
                self.lost = True
                return
            # A NaN loss cannot be stored (SQLite reads NaN as NULL); the point is dropped.
            scalars = [{**key, "name": n, "step": s, "value": v} for n, s, v in batch["scalars"] if math.isfinite(v)]
            if scalars:
                session.execute(insert(ScalarPoint), scalars)
            if batch["cids"]:
                session.execute(insert(CidPoint), [
                    {**key, "step": c.step, "phase": c.phase, "value": None if c.value is None else _finite(c.value),
                     "per_probe": jsonable(c.per_probe),
                     "extra": None if c.extra is None else jsonable(c.extra.model_dump(exclude_unset=True))}
                    for c in batch["cids"]])
            if batch["influences"]:
                session.execute(insert(InfluenceList), [
                    {**key, "step": int(li.step), "phase": li.phase, "probe": int(li.probe),
                     "a_index": [int(i) for i in li.a_index], "a_scores": jsonable([float(x) for x in li.a_scores]),
                     "b_index": [int(i) for i in li.b_index], "b_scores": jsonable([float(x) for x in li.b_scores])}
                    for li in batch["influences"]])
            if batch["logs"]:
                session.execute(insert(LogLine), [{**key, "created_at": t, "message": self._public(m)}
                                                   for t, m in batch["logs"]])
            if batch["diagnostics"]:
                # A name recorded again replaces its payload (readers take the newest row per name).
                session.execute(insert(Diagnostic), [{**key, "created_at": t, "name": n, "payload": p}
                                                     for t, n, p in batch["diagnostics"]])
            if metrics is not None and (rows := result_rows(metrics)):
                session.execute(insert(ResultValue), [{**key, **row} for row in rows])
