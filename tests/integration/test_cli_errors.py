"""The CLI without a config or against a database that is missing, empty or unreachable: one line naming the
file or URL, exit status non-zero, no traceback, and no database created as a side effect."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oncall_agent.cli import app


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stderr + result.stdout


@pytest.fixture(autouse=True)
def _empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ONCALL_STORE__URL", raising=False)


def config(tmp_path: Path, url: str) -> str:
    path = tmp_path / "agent.yaml"
    path.write_text(f"store:\n  url: {url}\n")
    return str(path)


@pytest.mark.parametrize("command", [["incidents", "list"], ["incidents", "show", "inc-1"], ["db", "upgrade"]])
def test_without_a_config_it_says_so_and_creates_nothing(tmp_path: Path, command: list[str]) -> None:
    code, output = run(*command)
    assert code != 0
    assert output.strip() == "no config: oncall-agent.yaml not found here; pass --config FILE"
    assert list(tmp_path.iterdir()) == []  # no ./data/oncall-agent.db


def test_a_config_that_is_not_there_is_named(tmp_path: Path) -> None:
    code, output = run("incidents", "list", "--config", "nowhere.yaml")
    assert code != 0 and output.strip() == "no config: nowhere.yaml not found"


def test_a_missing_sqlite_file_is_named_and_not_created(tmp_path: Path) -> None:
    db = tmp_path / "data" / "agent.db"
    code, output = run("incidents", "list", "--config", config(tmp_path, f"sqlite:///{db}"))
    assert code == 1 and output.strip().startswith(f"no database at {db}")
    assert "db upgrade" in output and not db.parent.exists()


def test_an_empty_database_says_to_upgrade_instead_of_no_such_table(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    sqlite3.connect(db).close()
    code, output = run("incidents", "list", "--config", config(tmp_path, f"sqlite:///{db}"))
    assert code == 1 and "has no tables; run `oncall-agent db upgrade`" in output
    assert "no such table" not in output


@pytest.mark.parametrize("command", [["db", "upgrade"], ["incidents", "list"]])
def test_an_unreachable_database_is_one_line_without_the_password(tmp_path: Path, command: list[str]) -> None:
    url = "postgresql://agent:s3cret@127.0.0.1:1/oncall"  # nothing listens on port 1
    code, output = run(*command, "--config", config(tmp_path, url))
    assert code == 1
    assert len(output.strip().splitlines()) == 1, output
    assert "127.0.0.1:1/oncall" in output and "s3cret" not in output and "Traceback" not in output


def test_upgrade_then_list_works(tmp_path: Path) -> None:
    path = config(tmp_path, f"sqlite:///{tmp_path / 'agent.db'}")
    assert run("db", "upgrade", "--config", path) == (0, "database is at the latest revision\n")
    code, output = run("incidents", "list", "--config", path)
    assert code == 0 and "no incidents" in output
