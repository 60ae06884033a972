"""`oncall-agent outbox list|retry`: see the ServiceNow/GitHub writes waiting or given up, and queue failed ones
again (after fixing what made them fail: credentials, a deleted repository, a tracker outage)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from oncall_agent.domain.errors import ConfigError, OncallAgentError
from oncall_agent.settings import load_settings

outbox_app = typer.Typer(no_args_is_help=True, help="Look at and retry ServiceNow/GitHub deliveries.")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config file (default: ./oncall-agent.yaml)")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document (for scripts).")]
STATUS_CHOICES = ("failed", "pending", "delivered", "all")


def _outbox(config: Path | None) -> Any:
    from oncall_agent.bootstrap import SystemClock
    from oncall_agent.store.engine import make_engine
    from oncall_agent.store.outbox import SqlOutbox

    try:
        settings = load_settings(config)
    except ConfigError as exc:
        typer.echo(f"configuration is invalid:\n{exc}", err=True)
        raise typer.Exit(2) from exc
    return SqlOutbox(make_engine(settings.store.url), SystemClock())


def _as_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "incident_id": row.incident_id,
        "target": row.target,
        "operation": row.operation,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at.isoformat(),
        "claimed_by": row.claimed_by,
        "last_error": row.last_error,
        "created_at": row.created_at.isoformat(),
    }


@outbox_app.command("list")
def outbox_list(
    status: Annotated[str, typer.Option("--status", help="failed, pending, delivered or all")] = "failed",
    config: ConfigOption = None,
    as_json: JsonFlag = False,
) -> None:
    """List outbox rows, newest first (failed ones by default)."""
    if status not in STATUS_CHOICES:
        raise typer.BadParameter(f"{status!r} is not one of {', '.join(STATUS_CHOICES)}", param_hint="--status")
    rows = [_as_dict(row) for row in _outbox(config).rows(None if status == "all" else status)]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        error = f"  {row['last_error']}" if row["last_error"] else ""
        typer.echo(
            f"{row['id']:>6}  {row['status']:<9} {row['incident_id']:<28} {row['operation']:<27} "
            f"attempts={row['attempts']}{error}"
        )
    if not rows:
        typer.echo(f"no {status} outbox rows" if status != "all" else "the outbox is empty")


@outbox_app.command("retry")
def outbox_retry(
    row_id: Annotated[int | None, typer.Argument(help="The row to queue again (see `outbox list`).")] = None,
    all_failed: Annotated[bool, typer.Option("--all-failed", help="Queue every failed row again.")] = False,
    config: ConfigOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Queue a failed row (or every failed row) again, due now with its attempts reset."""
    if (row_id is None) == (not all_failed):
        raise typer.BadParameter("give either a ROW_ID or --all-failed (not both)")
    try:
        rows = _outbox(config).requeue(None if all_failed else row_id)
    except OncallAgentError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps([_as_dict(row) for row in rows]))
        return
    typer.echo(f"queued {len(rows)} row(s) again: {', '.join(str(row.id) for row in rows) or 'none failed'}")
