"""Run one experiment to its end from the command line, locally or through a running service.

    run_experiment(request, LocalStore(settings))      # in-process worker on the local store
    run_experiment(request, RemoteApi(url, token))     # the service's workers run the jobs

Either way the experiment is looked up by name first: an existing one of the same request is
resumed (finished jobs are kept, nothing is submitted twice), one of another request is an
error. Locally, jobs left 'running' by a dead process of this machine go back to the queue at
once (others after their lease), and an in-process worker runs the experiment's jobs only.
Progress (jobs done of total, the running job's step, ETA) is drawn while it waits; Ctrl-C
puts the running job back in the queue, so the same command resumes. The tables come last.
"""
from __future__ import annotations

import json
import math
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import httpx
from pydantic import ValidationError
from sqlalchemy import select, update
from tqdm import tqdm

from backend.queue.worker import Worker, pid_alive
from backend.services.errors import Rejected
from backend.services.experiment_records import add_experiment, cid_rows, job_rows
from backend.services.experiment_report import print_tables
from backend.services.experiments import (
    GridTooLarge,
    JobState,
    estimated_seconds,
    experiment_progress,
    table_rows,
)
from backend.services.submission import check_spec, in_one_line
from backend.settings import Settings
from backend.store.db import Database
from backend.store.models import Experiment, Job
from backend.store.paths import hub_reachable
from client import ApiClient, ApiError
from jobs.contracts.api import CidTrajectoryRow, ExperimentIn, ExperimentProgress, JobOut, TableRow
from jobs.contracts.enums import UNFINISHED_STATUSES, ExperimentKind, JobStatus
from jobs.contracts.json_value import JsonObject
from jobs.interrupt import ctrl_c_sets

POLL_S = 1.0
LOG_EVERY_S = 60.0  # without a terminal: a line per job event, and the running job's step this often


class ExperimentError(RuntimeError):
    """One line saying what is wrong (a name taken by another request, a job the store refuses...)."""


def _same_request(stored: JsonObject, request: ExperimentIn) -> bool:
    return json.loads(json.dumps(stored)) == json.loads(json.dumps(request.settings()))


def _taken(name: str, experiment_id: int) -> ExperimentError:
    return ExperimentError(f"experiment '{name}' (id {experiment_id}) was made from other settings; "
                           "pass --name to start a new one")


def dead_here(worker_id: str | None, host: str | None = None) -> bool:
    """True for a worker id ("host:pid[:...]") of this machine whose process has exited."""
    parts = (worker_id or "").split(":")
    if len(parts) < 2 or parts[0] != (host or socket.gethostname()) or not parts[1].isdigit():
        return False
    return not pid_alive(int(parts[1]))


def row_state(job: Job) -> JobState:
    """What progress needs of a job, from its row."""
    return JobState(id=job.id, method=job.method, seed=job.seed, params=job.params or {}, status=job.status,
                    wall_s=job.wall_s, worker_id=job.worker_id, step=job.progress_step, total=job.progress_total,
                    eta_s=job.eta_s, phase=job.progress_phase)


def answer_state(job: JobOut) -> JobState:
    """What progress needs of a job, from the API's answer."""
    return JobState(id=job.id, method=job.method, seed=job.seed, params=job.params, status=job.status,
                    wall_s=job.wall_s, worker_id=job.worker_id, step=job.progress.step, total=job.progress.total,
                    eta_s=job.progress.eta_s, phase=job.progress.phase)


class LocalStore:
    """The database of `deconfound up` (DECONFOUND_DATA_DIR / DECONFOUND_DATABASE_URL), with an
    in-process worker that runs only this experiment's jobs."""

    def __init__(self, settings: Settings, device: str | None = None):
        self.settings, self.device = settings, device
        self.db = Database(settings.database_url)
        self.db.migrate()
        self.worker = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def find_or_submit(self, request: ExperimentIn) -> tuple[int, bool]:
        """(experiment id, True when it was created now)."""
        with self.db.session() as session:
            found = session.scalars(select(Experiment).where(Experiment.name == request.name)
                                    .order_by(Experiment.id.desc())).first()
            if found is not None:
                if not _same_request(found.grid, request):
                    raise _taken(request.name, found.id)
                return found.id, False

            def check(raw: dict, index: int, params: dict):
                try:
                    return check_spec(raw, self.settings.data_dir, session)
                except (Rejected, ValidationError) as error:
                    detail = in_one_line(error) if isinstance(error, ValidationError) else str(error)
                    raise ExperimentError(f"job {index} ({raw.get('method')}, seed {raw.get('seed')}, "
                                          f"{params or 'base'}): {detail}") from None

            try:
                experiment = add_experiment(session, request, check)
            except GridTooLarge as error:
                raise ExperimentError(str(error)) from None
            session.commit()
            return experiment.id, True

    def requeue(self, experiment_id: int, failed_too: bool = False) -> int:
        """Put back in the queue the experiment's jobs whose worker on this machine is dead (and,
        with failed_too, its failed and cancelled ones). Returns how many."""
        with self.db.writing() as session:
            running = session.execute(select(Job.id, Job.worker_id).where(
                Job.experiment_id == experiment_id, Job.status == JobStatus.RUNNING)).all()
            ids = [job.id for job in running if dead_here(job.worker_id)]
            if failed_too:
                ids += list(session.scalars(select(Job.id).where(Job.experiment_id == experiment_id,
                                                                  Job.status.in_(UNFINISHED_STATUSES))))
            if ids:
                session.execute(update(Job).where(Job.id.in_(ids)).values(
                    status=JobStatus.QUEUED, worker_id=None, heartbeat_at=None, started_at=None, finished_at=None,
                    cancel_requested=False, error=None))
        return len(ids)

    def jobs(self, experiment_id: int) -> list[JobState]:
        with self.db.session() as session:
            rows = session.execute(select(Job.id, Job.method, Job.seed, Job.params, Job.status, Job.wall_s,
                                          Job.worker_id, Job.progress_step, Job.progress_total, Job.eta_s,
                                          Job.progress_phase)
                                   .where(Job.experiment_id == experiment_id).order_by(Job.id)).all()
        return [row_state(row) for row in rows]

    def table(self, experiment_id: int) -> list[TableRow]:
        with self.db.session() as session:
            return table_rows(job_rows(session, experiment_id))

    def cid(self, experiment_id: int) -> list[CidTrajectoryRow]:
        with self.db.session() as session:
            return cid_rows(session, experiment_id)

    def start(self, experiment_id: int) -> None:
        """Start the in-process worker: it claims this experiment's jobs until none is left."""
        if hub_reachable():  # downloads land in the data directory, as a service worker's do
            os.environ.setdefault("HF_HOME", str(self.settings.data_dir / "hf-cache"))
        self.worker = worker = Worker(self.settings, device=self.device, poll_s=POLL_S,
                                      worker_id=f"{socket.gethostname()}:{os.getpid()}:reproduce")

        def work() -> None:
            try:  # waits out jobs another worker runs, or whose lease has not run out yet
                worker.run_forever(exit_when_idle=True, experiment_id=experiment_id)
            except BaseException as error:  # shown by the main thread
                self._error = error

        self._thread = threading.Thread(target=work, name=f"reproduce-{experiment_id}", daemon=True)
        self._thread.start()

    def running(self) -> bool:
        if self._error is not None:
            raise ExperimentError(f"the in-process worker stopped: {type(self._error).__name__}: {self._error}")
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """Stop the worker: the running job stops at its next step, saves its checkpoint and goes
        back to the queue."""
        if self.worker is not None:
            self.worker.shutdown.set()
        if self._thread is not None:
            self._thread.join()

    def close(self) -> None:
        if self.worker is not None:
            self.worker.db.dispose()
        self.db.dispose()


class RemoteApi:
    """A running service (`deconfound up` or `deconfound api` + workers) reached over REST, through
    the API client (client/): its failures become ExperimentError with the client's one line."""

    def __init__(self, url: str | None = None, token: str | None = None,
                 client: ApiClient | httpx.Client | None = None):
        self.api = client if isinstance(client, ApiClient) else ApiClient(client or url, token=token)

    @contextmanager
    def _calling(self) -> Iterator[None]:
        try:
            yield
        except ApiError as error:
            raise ExperimentError(str(error)) from None

    def find_or_submit(self, request: ExperimentIn) -> tuple[int, bool]:
        with self._calling():
            found = [e for e in self.api.experiments() if e.name == request.name]
            if found:  # newest first
                if not _same_request(found[0].grid, request):
                    raise _taken(request.name, found[0].id)
                return found[0].id, False
            return self.api.create_experiment(request).id, True

    def requeue(self, experiment_id: int, failed_too: bool = False) -> int:
        return 0  # the service's workers take up lost jobs after their lease

    def jobs(self, experiment_id: int) -> list[JobState]:
        with self._calling():
            items = self.api.jobs(experiment=experiment_id, limit=1000).items
        return sorted((answer_state(job) for job in items), key=lambda job: job.id)

    def table(self, experiment_id: int) -> list[TableRow]:
        with self._calling():
            return self.api.experiment_table(experiment_id).rows

    def cid(self, experiment_id: int) -> list[CidTrajectoryRow]:
        with self._calling():
            return self.api.experiment_cid(experiment_id).rows

    def start(self, experiment_id: int) -> None:
        pass

    def running(self) -> bool:
        return True  # the service's workers: wait until every job has finished

    def stop(self) -> None:
        pass

    def close(self) -> None:
        self.api.close()


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "ETA unknown"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return "ETA " + (f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s")


def _current(jobs: list[JobState]) -> str:
    running = [j for j in jobs if j.status == JobStatus.RUNNING]
    if not running:
        return "waiting for a worker" if any(j.status == JobStatus.QUEUED for j in jobs) else ""
    return "; ".join(f"job {j.id} {j.method} seed {j.seed}" + (f" {j.params}" if j.params else "") + _where(j)
                     for j in running)


def _where(job: JobState) -> str:
    """": step 10/60, influence round 1/4: update 2/16"; ": starting" before the job has said anything."""
    parts = ([f"step {job.step}/{job.total}"] if job.total else []) + ([job.phase] if job.phase else [])
    return ": " + ", ".join(parts) if parts else ": starting"


class ProgressView:
    """Jobs done of total, the running job's step and the ETA: a live bar (tqdm) on a terminal; in
    a log, a line whenever a job starts or ends and every LOG_EVERY_S seconds in between."""

    def __init__(self, out: TextIO, name: str, estimates_s: dict[str, float] | None = None,
                 log_every_s: float = LOG_EVERY_S):
        self.out, self.name, self.estimates_s = out, name, estimates_s or {}
        self.live = _is_terminal(out)
        self.log_every_s = log_every_s
        self._last_event: tuple = ()
        self._last_logged = -math.inf
        self.bar: tqdm | None = None

    def __enter__(self) -> ProgressView:
        return self

    def __exit__(self, *_exc) -> None:
        if self.bar is not None:
            self.bar.close()

    def update(self, jobs: list[JobState]) -> ExperimentProgress:
        summary = experiment_progress(jobs, self.estimates_s)
        eta, current = _duration(summary.eta_s), _current(jobs)
        if self.live:
            if self.bar is None:
                self.bar = tqdm(total=summary.total, desc=self.name, file=self.out, dynamic_ncols=True,
                                bar_format="{desc} {bar} {n_fmt}/{total_fmt} jobs{postfix}")  # ", ETA ..."
            self.bar.n = summary.done
            self.bar.set_postfix_str(f"{eta} · {current}" if current else eta)  # redraws
        else:
            event = (summary.done, tuple((j.id, j.total is None) for j in jobs if j.status == JobStatus.RUNNING))
            now = time.monotonic()
            if event != self._last_event or now - self._last_logged >= self.log_every_s:
                self._last_event, self._last_logged = event, now
                line = f"[{summary.done}/{summary.total} jobs] {current or 'done'}"
                print(f"{time.strftime('%H:%M:%S')} {line} · {eta}", file=self.out, flush=True)
        return summary


def _is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def run_experiment(request: ExperimentIn, backend: LocalStore | RemoteApi, out: TextIO | None = None,
                   wait: bool = True, retry_failed: bool = False, poll_s: float = POLL_S, markdown: bool = False) -> int:
    """Submit (or resume) `request`, run it to the end, print its tables (plain text, or Markdown)
    to `out` (default stdout). Returns the exit code:
    0 all finished (failed jobs: 1), 130 interrupted, 2 refused."""
    out = out or sys.stdout

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    try:
        experiment_id, created = backend.find_or_submit(request)
    except ExperimentError as error:
        say(f"error: {error}")
        return 2
    requeued = backend.requeue(experiment_id, failed_too=retry_failed)
    jobs = backend.jobs(experiment_id)
    done = experiment_progress(jobs).done
    say(f"experiment {experiment_id} '{request.name}': {len(jobs)} jobs, "
        + (("submitted" + (f", {done} of them copies of identical finished jobs" if done else ""))
           if created else f"resumed ({done} finished" + (f", {requeued} put back in the queue" if requeued else "") + ")"))
    if not wait:
        return 0
    started = time.monotonic()
    interrupted = threading.Event()
    try:
        with ProgressView(out, request.name, estimated_seconds(request.model_dump(mode="json"))) as view, \
                ctrl_c_sets(interrupted):
            backend.start(experiment_id)
            summary = view.update(jobs)
            while summary.done < summary.total and backend.running() and not interrupted.wait(poll_s):
                summary = view.update(backend.jobs(experiment_id))
            if interrupted.is_set():
                raise KeyboardInterrupt
            summary = view.update(backend.jobs(experiment_id))
    except KeyboardInterrupt:
        say("interrupted: stopping the running job (it saves its state and goes back to the queue)...")
        backend.stop()
        say("stopped; run the same command again to resume (the job from the step it reached)")
        return 130
    except ExperimentError as error:
        backend.stop()
        say(f"error: {error}")
        return 1
    backend.stop()
    say(f"{summary.done} of {summary.total} jobs finished ({summary.succeeded} succeeded, "
        f"{summary.collapsed} collapsed, {summary.failed} failed, {summary.cancelled} cancelled) "
        f"after {time.monotonic() - started:.0f} s")
    print_tables(backend.table(experiment_id), request.kind, out, name=request.name,
                 cid_rows=backend.cid(experiment_id) if request.kind == ExperimentKind.REPRODUCE else None, markdown=markdown)
    if summary.done < summary.total:
        return 1
    return 1 if summary.failed else 0
