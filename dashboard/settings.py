"""The dashboard's settings: `DECONFOUND_*` environment variables, else an `.env` file in the
working directory, else the defaults below (the README's "Settings" table lists them all).

The dashboard reads its own (it talks to the API only, so it shares no code with backend/);
`deconfound up` passes it the API's URL and its host and port. A bad value stops it with one line
naming the variable, e.g. `DECONFOUND_DASHBOARD_PORT: Input should be less than or equal to 65535`.
"""
from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "DECONFOUND_"


class DashboardSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8",
                                      env_ignore_empty=True, extra="ignore", frozen=True)

    api_url: str = Field("http://127.0.0.1:8000", pattern=r"^https?://\S+$", description="the API the dashboard reads")
    dashboard_host: str = Field("127.0.0.1", min_length=1, description="where the dashboard listens")
    dashboard_port: int = Field(8050, ge=1, le=65535, description="the dashboard's port")
    api_token: str | None = Field(None, description="sent on the dashboard's mutating calls")
    allowed_hosts: str = Field("", max_length=4096, description="comma-separated extra names the server answers to "
                               "(Host header) besides where it listens and the loopback names, e.g. behind a proxy; "
                               "bound to 0.0.0.0 with none: any name")


def load_dashboard_settings(**values: Any) -> DashboardSettings:
    """Settings from the environment and `.env`, `values` (not None) winning; a bad value raises
    SystemExit with one line naming the variable."""
    try:
        return DashboardSettings(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as error:
        raise SystemExit("error: " + "; ".join(f"{ENV_PREFIX}{str(e['loc'][0]).upper()}: {e['msg']}"
                                               for e in error.errors(include_url=False))) from None
