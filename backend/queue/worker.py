"""`deconfound worker`: claim queued jobs, run them through the engine, record the outcome.

    loop: claim (backend.queue.claims) -> run(spec, StoreRecorder, should_stop, artifact_dir, checkpoint_dir)
          -> finish

A job saves a checkpoint every `checkpoint_s` (jobs.checkpoint); one taken up again after its
worker stopped or died resumes from it, and the store keeps the points recorded up to it. The
checkpoint is removed once the job has ended.

While a job runs, a lease keeper thread flushes the recorder, heartbeats and watches for a
cancel every `heartbeat_s`; should_stop() turns true within that time after a cancel. A
worker runs one job at a time on one device (`--device`, or CUDA_VISIBLE_DEVICES), so one
worker per GPU gives one job per GPU.

SIGTERM / SIGINT stop the current job at its next label step, or inside an influence round at
its next update, save its checkpoint there and put the job back in the queue; the worker then
exits. One update can take minutes on a CPU (MiniLM, every parameter: ~100 s), so whoever sends
the signal must wait that long (`deconfound up --grace`, docker's stop_grace_period). A worker
killed outright (kill -9, a grace that ran out) leaves a running job whose heartbeat stops: after
`lease_s` any worker takes it up again (backend.queue.claims), and `deconfound up` puts the jobs of
workers it killed, or that are gone from this machine when it starts, back in the queue at once
(worker_is_gone). Either way the job resumes from its last checkpoint, and its log says "worker
lost; resumed from step N (attempt k)". A job's wall_s adds up all its attempts
(backend.queue.claims).
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from backend.queue.claims import Claim, Lease, claim_next, finish, heartbeat, release, unfinished
from backend.queue.devices import announce, withdraw
from backend.settings import Settings
from backend.store.db import Database
from backend.store.models import Artifact
from backend.store.paths import (
    absolute_spec,
    hub_reachable,
    inside,
    model_is_local_path,
    public_text,
    spec_files,
)
from backend.store.recorder import StoreRecorder
from jobs.contracts.enums import UNFINISHED_STATUSES, JobStatus

MAX_ERROR_CHARS = 20_000  # a traceback in the job's log
CAUSE_CHARS = 500  # Job.error: the one line a user reads
log = logging.getLogger(__name__)


def failure_cause(error: BaseException, data_dir: Path) -> str:
    """Why a job failed, for anyone to read (Job.error): the exception's type and the first line of
    its message, with no absolute server path. The traceback goes to the job's log and the
    worker's own (server) log instead."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    cause = f"{type(error).__name__}: {lines[0].strip()}" if lines else type(error).__name__
    cause = public_text(cause, data_dir)
    return cause if len(cause) <= CAUSE_CHARS else cause[:CAUSE_CHARS - 1] + "…"


def worker_pid(worker_id: str) -> int | None:
    """The process id in a worker id ("host:pid" or "host:pid:device") when the worker ran on this
    machine, else None."""
    host, _, rest = worker_id.partition(":")
    pid = rest.split(":")[0]
    return int(pid) if host == socket.gethostname() and pid.isdigit() else None


def worker_is_gone(worker_id: str) -> bool:
    """True when the worker ran on this machine and its process no longer exists. (A reused
    process id reads as alive: its job then waits for the lease, never the other way round.)"""
    pid = worker_pid(worker_id)
    return pid is not None and not pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """Whether a process of this id exists on this machine (another user's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class LeaseKeeper(threading.Thread):
    """Flushes the job's points, heartbeats and watches for a cancel until stopped."""

    def __init__(self, db: Database, claim: Claim, recorder: StoreRecorder, interval_s: float):
        super().__init__(name=f"lease-job-{claim.job_id}", daemon=True)
        self.db, self.claim, self.recorder, self.interval_s = db, claim, recorder, interval_s
        self.cancel = threading.Event()
        self.lost = threading.Event()
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval_s):
            try:
                self.recorder.flush()
                state = heartbeat(self.db, self.claim)
            except Exception as error:  # a busy or restarting database: try again next beat
                print(f"worker: heartbeat of job {self.claim.job_id} failed: {error}", flush=True)
                continue
            if state == Lease.CANCEL:
                self.cancel.set()
            elif state == Lease.LOST or self.recorder.lost:
                self.lost.set()

    def stop(self) -> None:
        self._done.set()
        self.join()


class NotRunnableHere(RuntimeError):
    """A stored spec that was valid when submitted but cannot run here now (a file gone, no GPU)."""


def gone_since_submission(spec: dict, model_is_path: bool, cuda_available: bool) -> str | None:
    """What may have changed since a spec was checked at submission, in one line (None: nothing):
    the files it names (absolute here) and, for a CUDA device, whether this worker has one."""
    files = [(".".join(location), value) for location, value in spec_files(spec)]
    if model_is_path:
        files.append(("model", spec["model"]))
    gone = [f"{where} ({Path(value).name})" for where, value in files if not Path(value).exists()]
    if gone:
        return f"gone from the data directory since the job was submitted: {', '.join(gone)}"
    if str(spec.get("device", "auto")).startswith("cuda") and not cuda_available:
        return f"device '{spec['device']}' is not available on this worker (no CUDA)"
    return None


@dataclass
class Worker:
    settings: Settings
    device: str | None = None  # overrides the spec's device when given
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    poll_s: float = 1.0
    shutdown: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        self.db = Database(self.settings.database_url)

    def run_forever(self, exit_when_idle: bool = False, max_jobs: int | None = None,
                    experiment_id: int | None = None) -> int:
        """Claim and run jobs (of one experiment, when given) until shut down or after max_jobs;
        returns jobs run. exit_when_idle: also stop once no job is queued or running (a running
        one may yet come back to the queue)."""
        done = 0
        while not self.shutdown.is_set() and (max_jobs is None or done < max_jobs):
            claim = claim_next(self.db, self.worker_id, self.settings.lease_s, self.settings.max_attempts,
                               experiment_id=experiment_id)
            if claim is None:
                if exit_when_idle and not unfinished(self.db, experiment_id):
                    break
                self.shutdown.wait(self.poll_s)
                continue
            self.run_claim(claim)
            done += 1
        return done

    def run_claim(self, claim: Claim) -> str:
        """Run one claimed job to its end; returns the status recorded ("lost" / "requeued" too)."""
        import torch

        from jobs.runner import run
        from jobs.spec import JobSpec

        print(f"worker {self.worker_id}: job {claim.job_id} attempt {claim.attempt}", flush=True)
        recorder = StoreRecorder(self.db, claim.job_id, claim.attempt, self.worker_id,
                                 data_dir=self.settings.data_dir)
        keeper = LeaseKeeper(self.db, claim, recorder, self.settings.heartbeat_s)
        artifact_dir = inside(self.settings.data_dir, self.settings.artifact_dir(claim.job_id), "artifact dir")
        checkpoint_dir = inside(self.settings.data_dir, self.settings.checkpoint_dir(claim.job_id), "checkpoint dir")
        status, error, wall_s = JobStatus.FAILED, None, None
        started = time.time()
        keeper.start()
        try:
            shutil.rmtree(artifact_dir, ignore_errors=True)  # what an earlier, killed attempt left
            model_is_path = model_is_local_path(claim.spec.get("model", "tiny"), self.settings.data_dir)
            raw = absolute_spec(claim.spec, self.settings.data_dir, model_is_path)
            if self.device:
                raw["device"] = self.device
            spec = JobSpec.stored(raw)  # validated once, at the API: only what can change since is checked
            if problem := gone_since_submission(raw, model_is_path, torch.cuda.is_available()):
                raise NotRunnableHere(problem)

            def should_stop() -> bool:
                return keeper.cancel.is_set() or keeper.lost.is_set() or self.shutdown.is_set()

            checkpoints = dict(checkpoint_dir=checkpoint_dir, checkpoint_every_s=self.settings.checkpoint_s) \
                if self.settings.checkpoint_s > 0 else {}
            def on_start(step: int | None) -> None:
                if claim.lost:  # a takeover: say so in the job's log, where the user looks
                    recorder.log(f"worker lost; resumed from step {step} (attempt {claim.attempt})" if step is not None
                                 else f"worker lost; started again from step 0 (attempt {claim.attempt}): "
                                      "it had saved no checkpoint")

            outcome = run(spec, recorder, should_stop, artifact_dir=artifact_dir, on_start=on_start, **checkpoints)
            status, wall_s = outcome.status, outcome.wall_s
        except Exception as exc:
            error = failure_cause(exc, self.settings.data_dir)
            recorder.log(f"failed: {error}")
            recorder.log(traceback.format_exc()[-MAX_ERROR_CHARS:])  # the recorder writes it without server paths
            log.error("worker %s: job %s failed", self.worker_id, claim.job_id, exc_info=exc)
            wall_s = time.time() - started
        finally:
            keeper.stop()
        if not recorder.begun:  # failed before the run began: the older attempts' rows go now
            recorder.begin(None)
        recorder.flush()
        if keeper.lost.is_set() or recorder.lost:
            print(f"worker {self.worker_id}: job {claim.job_id} was taken over by another worker", flush=True)
            return "lost"
        if status == JobStatus.CANCELLED and not keeper.cancel.is_set() and heartbeat(self.db, claim) != Lease.CANCEL:
            release(self.db, claim)  # stopped by our own shutdown, not by a user: run it again later
            return "requeued"
        artifacts = []
        if status not in UNFINISHED_STATUSES and artifact_dir.is_dir():
            size = sum(f.stat().st_size for f in artifact_dir.rglob("*") if f.is_file())
            artifacts.append(Artifact(job_id=claim.job_id, attempt=claim.attempt, kind="model", size_bytes=size,
                                      path=str(artifact_dir.relative_to(self.settings.data_dir.resolve()))))
        if finish(self.db, claim, status, error, wall_s, artifacts):
            shutil.rmtree(checkpoint_dir, ignore_errors=True)  # ended: nothing will resume it
        print(f"worker {self.worker_id}: job {claim.job_id} {status}", flush=True)
        return status


def serve(settings: Settings, device: str | None = None, exit_when_idle: bool = False,
          max_jobs: int | None = None) -> int:
    """The `deconfound worker` process: migrate, then work until a signal (or idle)."""
    if hub_reachable():
        # Downloads from the hub land in the data directory, like everything else the worker writes.
        os.environ.setdefault("HF_HOME", str(settings.data_dir / "hf-cache"))
    worker = Worker(settings, device=device)
    if device:
        worker.worker_id += f":{device}"
    worker.db.migrate()

    def on_signal(signum, _frame):
        print(f"worker {worker.worker_id}: {signal.Signals(signum).name}, stopping: a running job saves at its next "
              "label step or influence update and goes back to the queue", flush=True)
        worker.shutdown.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"worker {worker.worker_id} on {settings.database_url.split('@')[-1]}", flush=True)
    announced = announce(settings.data_dir, worker.worker_id, device)  # for the API's device check
    try:
        worker.run_forever(exit_when_idle=exit_when_idle, max_jobs=max_jobs)
    finally:
        withdraw(announced)
    worker.db.dispose()
    return 0
