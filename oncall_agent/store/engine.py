"""Engines for the one database URL: SQLite (default, one process) or PostgreSQL (several replicas).

SQLite connections get WAL, synchronous=NORMAL, a busy timeout and foreign keys. SQLAlchemy, not the sqlite3
driver, emits BEGIN, so transactions (DDL included) behave as documented, and writers can ask for
`BEGIN IMMEDIATE` through `writer(engine)`: it takes the write lock up front instead of failing to upgrade a
read lock half-way through a transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

SQLITE_BEGIN_OPTION = "oncall_sqlite_begin"
DEFAULT_BUSY_TIMEOUT_MS = 15_000


def normalise_url(url: str | URL) -> URL:
    """`postgresql://` and `postgres://` mean PostgreSQL through psycopg 3; other URLs are used as given."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS, **kwargs: Any) -> Engine:
    """Create the engine for `url`; extra keyword arguments go to `sqlalchemy.create_engine`."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, busy_timeout_ms, **kwargs)
    # pre-ping: a replica outlives RDS failovers and idle-connection reaping. lock_timeout: like SQLite's busy
    # timeout, a blocked write fails (and intake answers 5xx) well before SNS's 15 s delivery timeout.
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("connect_args", {"options": f"-c lock_timeout={int(busy_timeout_ms)}", "connect_timeout": 5})
    return sa.create_engine(parsed, **kwargs)


def writer(engine: Engine) -> Engine:
    """The same engine (same pool) whose transactions start with `BEGIN IMMEDIATE` on SQLite."""
    return engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})


def _sqlite_engine(url: URL, busy_timeout_ms: int, **kwargs: Any) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **kwargs)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (see `on_begin`); the driver's legacy mode would otherwise
        # skip BEGIN before SELECT and DDL.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    def on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"unknown SQLite BEGIN mode {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")

    sa.event.listen(engine, "connect", on_connect)
    sa.event.listen(engine, "begin", on_begin)
    return engine
