"""The store: SQLAlchemy tables, the database (with Alembic migrations), the recorder that writes a
running job's points, and the data directory's path confinement."""
