"""The LangGraph checkpointer on the store's own database: SqliteSaver for SQLite, PostgresSaver for
PostgreSQL. A restarted daemon (or another replica) resumes an investigation from its last checkpoint."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oncall_agent.store.engine import normalise_url


def open_checkpointer(url: str) -> tuple[Any, Callable[[], None]]:
    """(checkpointer, close) for the store at `url`; tables are created if missing."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        from langgraph.checkpoint.sqlite import SqliteSaver

        database = parsed.database or ":memory:"
        if database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the worker threads (SqliteSaver serialises access with its own lock).
        connection = sqlite3.connect(database, check_same_thread=False, timeout=30)
        connection.execute("PRAGMA journal_mode=WAL")
        saver = SqliteSaver(connection)
        saver.setup()
        return saver, connection.close
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg import Connection
    from psycopg.rows import dict_row

    conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    pg = Connection.connect(conninfo, autocommit=True, prepare_threshold=0, row_factory=dict_row)
    pg_saver = PostgresSaver(pg)
    pg_saver.setup()
    return pg_saver, pg.close
