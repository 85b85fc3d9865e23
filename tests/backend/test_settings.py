"""The service's and the dashboard's settings: DECONFOUND_* variables, an `.env` file, command-line
flags over both; every numeric setting has bounds and a bad value is one line naming the variable;
the README's "Settings" table lists every variable the code reads."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from backend.cli import main
from backend.settings import Settings, SettingsError, default_database_url, load_settings
from dashboard.settings import DashboardSettings, load_dashboard_settings
from tests.helpers import WAIT_S

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch, tmp_path) -> Path:
    """No DECONFOUND_* variable set and an empty working directory (no `.env` of the developer's)."""
    for name in [n for n in os.environ if n.startswith("DECONFOUND_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults(clean_env):
    settings = load_settings()
    assert settings.data_dir == clean_env / "var"
    assert settings.database_url == default_database_url(clean_env / "var") == f"sqlite:///{clean_env}/var/deconfound.db"
    assert (settings.api_token, settings.host, settings.port) == (None, "127.0.0.1", 8000)
    assert settings.upload_limit_bytes == 20 * 1024 * 1024
    assert (settings.lease_s, settings.heartbeat_s, settings.max_attempts) == (60, 1, 3)
    assert (settings.checkpoint_s, settings.grace_s, settings.dashboard_port) == (300, 180, 8050)
    assert settings.artifact_dir(7) == clean_env / "var" / "artifacts" / "job-7"
    assert settings.checkpoint_dir(7) == clean_env / "var" / "checkpoints" / "job-7"
    with pytest.raises(Exception, match="frozen"):
        settings.port = 1  # type: ignore[misc]


def test_environment_then_env_file_then_defaults(clean_env, monkeypatch):
    (clean_env / ".env").write_text("# a comment\nDECONFOUND_LEASE_S=90\nDECONFOUND_PORT=8123\n"
                                    "DECONFOUND_UPLOAD_LIMIT_MB=0.5\nDECONFOUND_POSTGRES_PASSWORD=compose-only\n"
                                    "OTHER=ignored\n")
    monkeypatch.setenv("DECONFOUND_PORT", "9001")          # the environment wins over .env
    monkeypatch.setenv("DECONFOUND_DATA_DIR", "elsewhere")
    monkeypatch.setenv("DECONFOUND_API_TOKEN", "")         # empty = unset (Compose passes ${VAR:-})
    monkeypatch.setenv("DECONFOUND_MAX_ATTEMPTS", "")
    settings = load_settings()
    assert (settings.port, settings.lease_s, settings.upload_limit_bytes) == (9001, 90, 512 * 1024)
    assert settings.data_dir == clean_env / "elsewhere"
    assert settings.database_url == default_database_url(clean_env / "elsewhere")
    assert settings.api_token is None and settings.max_attempts == 3
    # The dashboard reads the same file.
    (clean_env / ".env").write_text("DECONFOUND_DASHBOARD_PORT=8123\nDECONFOUND_API_TOKEN=s3cret\n")
    dashboard = load_dashboard_settings()
    assert (dashboard.dashboard_port, dashboard.api_token, dashboard.api_url) == (8123, "s3cret", "http://127.0.0.1:8000")
    assert load_settings().dashboard_port == 8123


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("DECONFOUND_LEASE_S", "0", "DECONFOUND_LEASE_S: Input should be greater than 0"),
    ("DECONFOUND_LEASE_S", "nan", "DECONFOUND_LEASE_S: Input should be a finite number"),
    ("DECONFOUND_HEARTBEAT_S", "-1", "DECONFOUND_HEARTBEAT_S: Input should be greater than 0"),
    ("DECONFOUND_PORT", "0", "DECONFOUND_PORT: Input should be greater than or equal to 1"),
    ("DECONFOUND_PORT", "65536", "DECONFOUND_PORT: Input should be less than or equal to 65535"),
    ("DECONFOUND_PORT", "http", "DECONFOUND_PORT: Input should be a valid integer"),
    ("DECONFOUND_DASHBOARD_PORT", "70000", "DECONFOUND_DASHBOARD_PORT: Input should be less than or equal to 65535"),
    ("DECONFOUND_UPLOAD_LIMIT_MB", "0", "DECONFOUND_UPLOAD_LIMIT_MB: Input should be greater than 0"),
    ("DECONFOUND_MAX_ATTEMPTS", "0", "DECONFOUND_MAX_ATTEMPTS: Input should be greater than or equal to 1"),
    ("DECONFOUND_CHECKPOINT_S", "-5", "DECONFOUND_CHECKPOINT_S: Input should be greater than or equal to 0"),
    ("DECONFOUND_GRACE_S", "inf", "DECONFOUND_GRACE_S: Input should be a finite number"),
    ("DECONFOUND_HEARTBEAT_S", "60", "DECONFOUND_HEARTBEAT_S (60) must be shorter than DECONFOUND_LEASE_S (60)"),
])
def test_a_bad_value_is_one_line_naming_the_variable(clean_env, monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == message or str(raised.value).startswith(message), str(raised.value)
    assert "\n" not in str(raised.value)


def test_the_dashboard_port_and_url_are_checked_too(clean_env, monkeypatch):
    monkeypatch.setenv("DECONFOUND_DASHBOARD_PORT", "0")
    monkeypatch.setenv("DECONFOUND_API_URL", "api:8000")
    with pytest.raises(SystemExit) as raised:
        load_dashboard_settings()
    assert str(raised.value).startswith("error: DECONFOUND_API_URL: String should match pattern")
    assert "; DECONFOUND_DASHBOARD_PORT: Input should be greater than or equal to 1" in str(raised.value)
    assert DashboardSettings(dashboard_port=8051, api_url="http://api:8000").dashboard_port == 8051


def test_overrides_are_checked_and_move_the_default_database(clean_env, monkeypatch):
    settings = load_settings()
    moved = settings.with_overrides(data_dir="other", port=None, lease_s=5)
    assert moved.data_dir == clean_env / "other" and moved.database_url == default_database_url(clean_env / "other")
    assert (moved.port, moved.lease_s) == (8000, 5)
    assert settings.lease_s == 60  # a copy
    # A database given explicitly stays where it is.
    monkeypatch.setenv("DECONFOUND_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert load_settings().with_overrides(data_dir="other").database_url == "postgresql+psycopg://u@h/db"
    with pytest.raises(SettingsError, match=r"^DECONFOUND_PORT: Input should be less than or equal to 65535$"):
        settings.with_overrides(port=70000)
    # Init values (tests, callers) win over the environment, None included.
    monkeypatch.setenv("DECONFOUND_API_TOKEN", "from-env")
    assert load_settings(api_token=None).api_token is None
    assert isinstance(load_settings(), Settings)


def test_the_cli_stops_with_one_line(clean_env, monkeypatch, capsys):
    monkeypatch.setenv("DECONFOUND_LEASE_S", "-3")
    with pytest.raises(SystemExit) as raised:
        main(["worker", "--exit-when-idle"])
    assert str(raised.value) == "error: DECONFOUND_LEASE_S: Input should be greater than 0"
    # A flag is checked against the same bounds.
    monkeypatch.delenv("DECONFOUND_LEASE_S")
    with pytest.raises(SystemExit) as raised:
        main(["worker", "--exit-when-idle", "--heartbeat-s", "0"])
    assert str(raised.value) == "error: DECONFOUND_HEARTBEAT_S: Input should be greater than 0"
    # And in a process of its own: the line, no traceback, a failing exit status.
    done = subprocess.run([sys.executable, "-m", "backend.cli", "api"], capture_output=True, text=True, cwd=clean_env,
                          env={"PATH": "/usr/bin:/bin", "DECONFOUND_PORT": "99999",
                               "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])},
                          timeout=WAIT_S)
    assert done.returncode == 1 and done.stderr.strip() == \
        "error: DECONFOUND_PORT: Input should be less than or equal to 65535", done.stderr


def _readme_settings_table() -> dict[str, str]:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Settings"):]
    section = section[:section.find("\n## ", 1) if "\n## " in section[1:] else None]
    return {m.group(1): line for line in section.splitlines()
            for m in re.finditer(r"`((?:DECONFOUND|HF)_[A-Z_]+)`", line.split("|")[1] if line.startswith("|") else "")}


def test_readme_lists_every_variable_the_code_and_compose_read():
    table = _readme_settings_table()
    fields = {f"DECONFOUND_{name.upper()}" for name in Settings.model_fields} - {"DECONFOUND_UPLOAD_LIMIT_MB"}
    fields |= {f"DECONFOUND_{name.upper()}" for name in DashboardSettings.model_fields}
    fields |= {"DECONFOUND_UPLOAD_LIMIT_MB"}
    read = set()
    for folder in ("jobs", "backend", "dashboard"):
        for path in (REPO / folder).rglob("*.py"):
            read |= set(re.findall(r"\b(DECONFOUND_[A-Z_]+[A-Z])\b", path.read_text()))
    compose = set(re.findall(r"\b(DECONFOUND_[A-Z_]+[A-Z])\b", (REPO / "docker-compose.yml").read_text()))
    missing = sorted((fields | read | compose) - set(table) - {"DECONFOUND_"})
    assert not missing, f"not in the README's Settings table: {missing}"
    # Each field's row gives its default.
    for name, field in Settings.model_fields.items():
        if name in ("data_dir", "database_url", "api_token", "upload_limit_mb", "allowed_hosts"):  # none: no default
            continue
        assert f"`{field.default:g}`" in table[f"DECONFOUND_{name.upper()}"] if isinstance(field.default, float) \
            else f"`{field.default}`" in table[f"DECONFOUND_{name.upper()}"], name
