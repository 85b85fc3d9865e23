"""The service's settings: `DECONFOUND_*` environment variables, else an `.env` file in the working
directory, else the defaults below; command-line flags override them (`with_overrides`).

Every variable, its default and its bounds are in the README's "Settings" table (a test checks
that it lists each one). An empty variable counts as unset (Compose passes
`${VAR:-}`), and a bad value stops the command with one line naming the variable, e.g.
`DECONFOUND_LEASE_S: Input should be greater than 0`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "DECONFOUND_"
MIB = 1024 * 1024


class SettingsError(ValueError):
    """A setting out of its bounds or of the wrong type; the message is one line naming the variable."""


def settings_error(error: ValidationError, prefix: str = ENV_PREFIX) -> SettingsError:
    """`error` as one line: `DECONFOUND_PORT: Input should be less than or equal to 65535; ...`."""
    parts = []
    for item in error.errors(include_url=False):
        field = str(item["loc"][0]) if item["loc"] else ""
        parts.append(f"{prefix}{field.upper()}: {item['msg']}" if field else item["msg"].removeprefix("Value error, "))
    return SettingsError("; ".join(parts))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8",
                                      env_ignore_empty=True, extra="ignore", frozen=True, allow_inf_nan=False)

    data_dir: Path = Field(Path("var"), description="where everything lives: the SQLite file, uploads/, "
                                                    "artifacts/, checkpoints/")
    database_url: str = Field("", description="`sqlite:///<data dir>/deconfound.db` when unset; "
                                              "`postgresql+psycopg://user:pw@host:5432/db` for many workers")
    api_token: str | None = Field(None, description="when set, every mutating call needs "
                                                    "`Authorization: Bearer <token>`")
    host: str = Field("127.0.0.1", min_length=1, description="where the API listens")
    port: int = Field(8000, ge=1, le=65535, description="the API's port")
    allowed_hosts: str = Field("", max_length=4096, description="comma-separated extra names the server answers to "
                               "(Host header) besides where it listens and the loopback names, e.g. behind a proxy; "
                               "bound to 0.0.0.0 with none: any name")
    upload_limit_mb: float = Field(20.0, gt=0, description="largest accepted upload, in MiB")
    json_limit_mb: float = Field(4.0, gt=0, description="largest accepted JSON request body, in MiB (a job "
                                                        "spec is a few KiB)")
    lease_s: float = Field(60.0, gt=0, description="a running job whose heartbeat is older than this is taken "
                                                   "up again by another worker")
    heartbeat_s: float = Field(1.0, gt=0, description="how often a worker heartbeats, flushes points and checks "
                                                      "for cancel; shorter than the lease")
    max_attempts: int = Field(3, ge=1, description="claims of one job before a lost job is marked failed")
    checkpoint_s: float = Field(300.0, ge=0, description="a running job saves its state this often, and a job "
                                                         "taken up again resumes from it; 0: never")
    grace_s: float = Field(180.0, ge=0, description="how long `deconfound up` waits on Ctrl-C for workers to save "
                                                    "their job (an update of MiniLM on every parameter takes "
                                                    "~100 s on a CPU), then kills them and requeues their jobs")
    dashboard_port: int = Field(8050, ge=1, le=65535, description="the dashboard's port (`deconfound up`, "
                                                                  "`deconfound dashboard`)")

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, data_dir: Path) -> Path:
        return data_dir.resolve()

    @model_validator(mode="before")
    @classmethod
    def _default_database(cls, values: Any) -> Any:
        """No database URL: the SQLite file inside the data dir."""
        if isinstance(values, dict) and not values.get("database_url"):
            data_dir = values.get("data_dir", cls.model_fields["data_dir"].default)
            if isinstance(data_dir, str | Path):
                values = {**values, "database_url": default_database_url(Path(data_dir).resolve())}
        return values

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> Settings:
        if self.heartbeat_s >= self.lease_s:
            raise ValueError(f"{ENV_PREFIX}HEARTBEAT_S ({self.heartbeat_s:g}) must be shorter than "
                             f"{ENV_PREFIX}LEASE_S ({self.lease_s:g}), or live jobs are taken up again")
        return self

    @property
    def upload_limit_bytes(self) -> int:
        return int(self.upload_limit_mb * MIB)

    @property
    def json_limit_bytes(self) -> int:
        return int(self.json_limit_mb * MIB)

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

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the non-None `changes` (command-line flags) applied and checked against the
        same bounds; a new data dir moves the default SQLite file too. Raises SettingsError."""
        changes = {k: v for k, v in changes.items() if v is not None}
        values = {**self.model_dump(), **changes}
        if "data_dir" in changes and "database_url" not in changes \
                and self.database_url == default_database_url(self.data_dir):
            values["database_url"] = ""
        try:
            return type(self).model_validate(values)
        except ValidationError as error:
            raise settings_error(error) from None


def default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'deconfound.db'}"


def load_settings(**values: Any) -> Settings:
    """Settings from the environment and `.env`, `values` winning; raises SettingsError (one line)."""
    try:
        return Settings(**values)
    except ValidationError as error:
        raise settings_error(error) from None
