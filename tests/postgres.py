"""A scratch PostgreSQL database on the local cluster (trust auth), for the service tests and
benchmarks: created fresh, dropped afterwards, the cluster started first if it is down."""
from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from tests.helpers import wait_for

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_up() -> bool:
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=10).close()
        return True
    except psycopg.OperationalError:
        return False


def ensure_postgres() -> None:
    """Start the local PostgreSQL cluster if it is not running (as CI does), and wait until it
    takes connections (up to the suite's ceiling, tests.helpers.WAIT_S)."""
    if postgres_up():
        return
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=True)
    wait_for(postgres_up, "PostgreSQL to take connections")


@contextmanager
def scratch_database(prefix: str = "deconfound_test") -> Iterator[str]:
    """The URL of a fresh database, dropped (connections and all) afterwards."""
    ensure_postgres()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
