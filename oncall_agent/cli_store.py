"""How the CLI finds its config and reaches the store: a missing config file, a database that does not exist,
is not migrated or cannot be reached is one line naming the file or URL (never a traceback), and nothing is
created as a side effect of a command that only reads."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from oncall_agent.domain.errors import ConfigError
from oncall_agent.settings import DEFAULT_CONFIG_PATH, Settings, load_settings
from oncall_agent.store.engine import make_engine, normalise_url


class CliError(Exception):
    """One line for the person at the terminal."""


def settings_for_store(config: Path | None) -> Settings:
    """Settings for a command that uses the store: without `--config`, `./oncall-agent.yaml` or an
    `ONCALL_STORE__URL` in the environment, there is no store to talk to (the default would be a new file)."""
    if config is None and not DEFAULT_CONFIG_PATH.exists() and not os.environ.get("ONCALL_STORE__URL"):
        raise CliError(f"no config: {DEFAULT_CONFIG_PATH} not found here; pass --config FILE")
    if config is not None and not config.exists():
        raise CliError(f"no config: {config} not found")
    try:
        return load_settings(config, required=config is not None)
    except ConfigError as exc:
        raise CliError(f"configuration is invalid:\n{exc}") from exc


def shown(url: str) -> str:
    """The URL without its password."""
    return normalise_url(url).render_as_string(hide_password=True)


def sqlite_file(url: str) -> Path | None:
    parsed = normalise_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def open_existing(url: str) -> Any:
    """An engine on a database that exists, answers and is migrated; CliError naming the URL otherwise."""
    from oncall_agent.store.migrate import current_revision

    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise CliError(f"no database at {path} (store.url {url}); create it with `oncall-agent db upgrade`")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            revision = current_revision(connection)
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        raise CliError(f"cannot reach the database {shown(url)}: {first_line(exc)}") from exc
    if revision is None:
        engine.dispose()
        raise CliError(f"the database {shown(url)} has no tables; run `oncall-agent db upgrade`")
    return engine


def upgrade_or_fail(url: str) -> None:
    from oncall_agent.store.migrate import upgrade

    try:
        upgrade(url)
    except sa.exc.SQLAlchemyError as exc:
        raise CliError(f"cannot upgrade the database {shown(url)}: {first_line(exc)}") from exc


def first_line(exc: BaseException) -> str:
    """The driver's own message, first line, without SQLAlchemy's background link."""
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return lines[0] if lines else type(original).__name__
