"""Alembic environment: migrates the connection the service hands over (Database.migrate), or
the database named by the environment when run from the alembic command line."""
from __future__ import annotations

from alembic import context
from sqlalchemy import text

from backend.settings import load_settings
from backend.store.db import make_engine
from backend.store.models import Base

# Any constant: two processes migrating one PostgreSQL database at once take turns on it.
MIGRATION_LOCK = 7_243_917


def run_migrations(connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    engine = make_engine(load_settings().database_url)
    with engine.connect() as fresh:
        if fresh.dialect.name == "sqlite":
            fresh = fresh.execution_options(sqlite_begin="IMMEDIATE")
        run_migrations(fresh)
    engine.dispose()
