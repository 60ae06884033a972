"""Schema migrations: Alembic run programmatically with the scripts shipped inside this package.

No alembic.ini is needed at runtime: the Config is built here and the caller's connection is handed to
`migrations/env.py`. On PostgreSQL an advisory lock serialises replicas that start (and migrate) together.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection, Engine

from oncall_agent.store.engine import make_engine, writer

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Arbitrary but fixed: every replica must use the same key ("oncall" in ASCII, then 1 = migrations).
MIGRATION_LOCK_KEY = 0x6F6E63616C6C01


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config pointing at the packaged scripts, optionally bound to `connection`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The revision the code expects the database to be at."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships at least one revision
        raise RuntimeError("no migrations found")
    return head


def upgrade(target: str | URL | Engine, revision: str = "head") -> None:
    """Bring the database at `target` (URL or engine) to `revision`; a no-op when it is already there."""
    engine = target if isinstance(target, Engine) else make_engine(target)
    try:
        # One transaction for lock + DDL: PostgreSQL and (with our BEGIN handling) SQLite roll back a failed
        # migration as a whole.
        with writer(engine).begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
            command.upgrade(alembic_config(connection), revision)
    finally:
        if engine is not target:
            engine.dispose()


def current_revision(bind: Engine | Connection) -> str | None:
    """The revision the database is at, or None when it has never been migrated."""
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            return current_revision(connection)
    return MigrationContext.configure(bind).get_current_revision()


def is_current(bind: Engine | Connection) -> bool:
    """True when the database schema is at the head revision the code expects."""
    return current_revision(bind) == head_revision()
