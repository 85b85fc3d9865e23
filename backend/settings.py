"""The service's settings, read from the environment once; command-line flags override them.

    DECONFOUND_DATA_DIR        where everything lives (default ./var): the SQLite file,
                               uploads/, artifacts/
    DECONFOUND_DATABASE_URL    default sqlite:///<data dir>/deconfound.db; postgresql://... works
    DECONFOUND_API_TOKEN       when set, every mutating endpoint needs `Authorization: Bearer <token>`
    DECONFOUND_HOST / _PORT    where the API listens (default 127.0.0.1:8000)
    DECONFOUND_UPLOAD_LIMIT_MB largest accepted upload (default 20)
    DECONFOUND_LEASE_S         a running job whose heartbeat is older than this is taken up again (60)
    DECONFOUND_HEARTBEAT_S     how often a worker heartbeats, flushes points and checks for cancel (1)
    DECONFOUND_MAX_ATTEMPTS    claims of one job before a lost job is marked failed (3)
    DECONFOUND_CHECKPOINT_S    a running job saves its state this often, in seconds, and a job taken
                               up again resumes from it (300; 0: never, a re-run starts at step 0)
    DECONFOUND_GRACE_S         how long `deconfound up` waits, on Ctrl-C, for workers to save their
                               job at its next label step or influence update (180: one update of
                               MiniLM on every parameter takes ~100 s on a CPU); later, it kills them
                               and puts their jobs back in the queue from their last checkpoint
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    api_token: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    upload_limit_bytes: int = 20 * 1024 * 1024
    lease_s: float = 60.0
    heartbeat_s: float = 1.0
    max_attempts: int = 3
    checkpoint_s: float = 300.0
    grace_s: float = 180.0

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    def artifact_dir(self, job_id: int) -> Path:
        """Where a job's saved model goes."""
        return self.artifacts_dir / f"job-{job_id}"

    def checkpoint_dir(self, job_id: int) -> Path:
        """Where a running job's checkpoint lives until the job ends (jobs.checkpoint)."""
        return self.data_dir / "checkpoints" / f"job-{job_id}"

    def with_overrides(self, **changes) -> Settings:
        """A copy with the non-None `changes` applied; a new data dir moves the default SQLite file too."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if "data_dir" in changes:
            changes["data_dir"] = Path(changes["data_dir"]).resolve()
            if "database_url" not in changes and self.database_url == default_database_url(self.data_dir):
                changes["database_url"] = default_database_url(changes["data_dir"])
        return replace(self, **changes)


def default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'deconfound.db'}"


def load_settings() -> Settings:
    """Settings from the environment (see the module docstring)."""
    data_dir = Path(_env("DECONFOUND_DATA_DIR", "var")).resolve()
    return Settings(
        data_dir=data_dir,
        database_url=_env("DECONFOUND_DATABASE_URL") or default_database_url(data_dir),
        api_token=_env("DECONFOUND_API_TOKEN"),
        host=_env("DECONFOUND_HOST", "127.0.0.1"),
        port=int(_env("DECONFOUND_PORT", "8000")),
        upload_limit_bytes=int(float(_env("DECONFOUND_UPLOAD_LIMIT_MB", "20")) * 1024 * 1024),
        lease_s=float(_env("DECONFOUND_LEASE_S", "60")),
        heartbeat_s=float(_env("DECONFOUND_HEARTBEAT_S", "1")),
        max_attempts=int(_env("DECONFOUND_MAX_ATTEMPTS", "3")),
        checkpoint_s=float(_env("DECONFOUND_CHECKPOINT_S", "300")),
        grace_s=float(_env("DECONFOUND_GRACE_S", "180")),
    )
