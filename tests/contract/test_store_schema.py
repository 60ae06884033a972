"""Store schema and plumbing: migrations (Alembic, programmatic), health check, engine settings, error
translation. Tests taking `store_url` run on SQLite and PostgreSQL; the others need no database fixture."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from oncall_agent.domain.alarm import AlarmEvent, AlarmState, EventChannel
from oncall_agent.domain.errors import StoreError, TransientStoreError
from oncall_agent.store.engine import make_engine, normalise_url
from oncall_agent.store.errors import translate_errors
from oncall_agent.store.incident_store import SqlIncidentStore
from oncall_agent.store.migrate import current_revision, head_revision, upgrade
from oncall_agent.store.tables import metadata


@pytest.fixture()
def engine(store_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(store_url)
    yield engine
    engine.dispose()


def alarm() -> AlarmEvent:
    return AlarmEvent(
        channel=EventChannel.POLL,
        region="us-east-1",
        alarm_arn="arn:aws:cloudwatch:us-east-1:1:alarm:a",
        alarm_name="a",
        new_state=AlarmState.ALARM,
        state_timestamp=datetime(2024, 5, 1, tzinfo=UTC),
    )


# --- schema and health --------------------------------------------------------------------------------


def test_ping_needs_a_migrated_database(store_url: str, engine: sa.Engine) -> None:
    with pytest.raises(StoreError, match="run `oncall-agent db upgrade`"):
        SqlIncidentStore(engine).ping()
    upgrade(store_url)
    SqlIncidentStore(engine).ping()


def test_upgrade_is_idempotent_and_safe_to_run_concurrently(store_url: str, engine: sa.Engine) -> None:
    assert current_revision(engine) is None
    with ThreadPoolExecutor(3) as pool:  # replicas starting together
        list(pool.map(lambda _: upgrade(store_url), range(3)))
    upgrade(store_url)
    assert current_revision(engine) == head_revision()


def test_tables_match_the_migrations(engine: sa.Engine) -> None:
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


# --- engine and errors (no database fixture) ------------------------------------------------------------


def test_sqlite_engine_creates_its_directory_and_uses_wal(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'agent.db'}")
    try:
        with engine.connect() as connection:

            def pragma(name: str) -> object:
                return connection.exec_driver_sql(f"PRAGMA {name}").scalar()

            assert pragma("journal_mode") == "wal"
            assert pragma("synchronous") == 1  # NORMAL
            assert pragma("foreign_keys") == 1
            assert int(str(pragma("busy_timeout"))) > 0
    finally:
        engine.dispose()


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db"])
def test_postgres_urls_use_psycopg(url: str) -> None:
    assert normalise_url(url).drivername == "postgresql+psycopg"


def test_a_locked_sqlite_database_is_a_transient_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'agent.db'}"
    upgrade(url)
    engine = make_engine(url, busy_timeout_ms=50)
    blocker = sqlite3.connect(tmp_path / "agent.db", isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        with pytest.raises(TransientStoreError, match="locked"):
            SqlIncidentStore(engine).append_event(alarm())
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        engine.dispose()


def test_an_unreachable_database_is_a_transient_error() -> None:
    engine = make_engine("postgresql://postgres@127.0.0.1:1/nowhere", connect_args={"connect_timeout": 2})
    try:
        with pytest.raises(TransientStoreError, match="ping"):
            SqlIncidentStore(engine).ping()
    finally:
        engine.dispose()


def test_other_database_errors_are_store_errors() -> None:
    with pytest.raises(StoreError) as raised, translate_errors("write"):
        raise sa.exc.IntegrityError("INSERT ...", {}, Exception("duplicate key"))
    assert not isinstance(raised.value, TransientStoreError)
    assert str(raised.value) == "write: duplicate key"
