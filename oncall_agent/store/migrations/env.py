"""Alembic environment: runs migrations on the connection `oncall_agent.store.migrate` passes in.

Used without a connection (the `alembic` command line, e.g. to autogenerate a revision), it connects to
`sqlalchemy.url` from the Alembic config through `make_engine`, so SQLite gets its runtime settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from oncall_agent.store.engine import make_engine, writer
from oncall_agent.store.tables import metadata


def _run(connection: Connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things; batch mode recreates the table instead.
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url, or run migrations through oncall_agent.store.migrate")
    engine = make_engine(url)
    try:
        with writer(engine).connect() as own_connection:
            _run(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
