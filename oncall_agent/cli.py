"""The `oncall-agent` command line (Typer). Thin: each command loads settings and calls one service."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from oncall_agent.domain.errors import ConfigError, OncallAgentError
from oncall_agent.domain.incident import Incident
from oncall_agent.observability import configure_logging
from oncall_agent.settings import Settings, load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Autonomous on-call incident agent for AWS.")
config_app = typer.Typer(no_args_is_help=True, help="Inspect configuration.")
db_app = typer.Typer(no_args_is_help=True, help="Database maintenance.")
incidents_app = typer.Typer(no_args_is_help=True, help="Look at incidents.")
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(incidents_app, name="incidents")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config file (default: ./oncall-agent.yaml)")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document (for scripts).")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        raise _fail(f"configuration is invalid:\n{exc}") from exc


@app.command()
def serve(config: ConfigOption = None) -> None:
    """Run the daemon: webhooks, DescribeAlarms poller and grouping, until SIGTERM."""
    from oncall_agent.daemon import Daemon

    settings = _settings(config)
    configure_logging(settings.logging.level, settings.logging.json_output)
    try:
        code = Daemon(settings).run()
    except OncallAgentError as exc:
        raise _fail(f"cannot start: {exc}", 1) from exc
    raise typer.Exit(code)


@config_app.command("check")
def config_check(config: ConfigOption = None, as_json: JsonFlag = False) -> None:
    """Validate a config file; print every problem, field by field."""
    path = config or Path("oncall-agent.yaml")
    try:
        settings = load_settings(path, required=True)
    except ConfigError as exc:
        problems = str(exc).splitlines()
        if as_json:
            typer.echo(json.dumps({"valid": False, "file": str(path), "problems": problems}))
        else:
            typer.echo(f"{path}: {len(problems)} problem(s)", err=True)
            for line in problems:
                typer.echo(f"  - {line}", err=True)
        raise typer.Exit(1) from exc
    summary = {
        "valid": True,
        "file": str(path),
        "regions": settings.aws.regions,
        "services": len(settings.services),
        "store": settings.store.url.split("://")[0],
        "sns_topics": len(settings.intake.sns.allowed_topic_arns),
        "eventbridge": settings.intake.eventbridge.secret is not None,
    }
    typer.echo(json.dumps(summary) if as_json else f"{path}: OK ({summary})")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Run the store's migrations up to the latest revision."""
    from oncall_agent.store.migrate import upgrade

    settings = _settings(config)
    upgrade(settings.store.url)
    typer.echo("database is at the latest revision")


def _open_store(config: Path | None) -> Any:
    from oncall_agent.store.engine import make_engine
    from oncall_agent.store.incident_store import SqlIncidentStore

    return SqlIncidentStore(make_engine(_settings(config).store.url))


def incident_summary(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "service": incident.service,
        "status": incident.status.value,
        "severity": incident.severity,
        "first_event_at": incident.first_event_at.isoformat(),
        "last_event_at": incident.last_event_at.isoformat(),
        "alarms": [{"name": a.alarm_name, "state": a.state.value} for a in incident.alarms],
    }


@incidents_app.command("list")
def incidents_list(config: ConfigOption = None, as_json: JsonFlag = False) -> None:
    """List incidents, newest first."""
    incidents = _open_store(config).list_incidents()
    rows = [incident_summary(i) for i in sorted(incidents, key=lambda i: i.first_event_at, reverse=True)]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        alarms = ", ".join(f"{a['name']}={a['state']}" for a in row["alarms"])
        typer.echo(f"{row['id']}  {row['status']:<18} {row['service']:<20} {row['first_event_at']}  {alarms}")
    if not rows:
        typer.echo("no incidents")


@incidents_app.command("show")
def incidents_show(incident_id: str, config: ConfigOption = None, as_json: JsonFlag = False) -> None:
    """Show one incident with its alarms and timeline."""
    incident = _open_store(config).get_incident(incident_id)
    if incident is None:
        raise _fail(f"no incident {incident_id}", 1)
    if as_json:
        typer.echo(incident.model_dump_json())
        return
    summary = incident_summary(incident)
    typer.echo(f"{summary['id']}  {summary['status']}  service={summary['service']}")
    for alarm in summary["alarms"]:
        typer.echo(f"  alarm {alarm['name']}: {alarm['state']}")
    for entry in incident.timeline:
        typer.echo(f"  {entry.at.isoformat()}  {entry.kind:<16} {entry.message}")


sandbox_app = typer.Typer(no_args_is_help=True, help="The local sandbox (moto and the stand-ins).")
app.add_typer(sandbox_app, name="sandbox")
ScenarioOption = Annotated[Path | None, typer.Option("--scenario", "-s", help="Scenario file (SCENARIOS.md format).")]


@app.command()
def demo(scenario: ScenarioOption = None, as_json: JsonFlag = False) -> None:
    """Run the sandbox and the agent on one scenario, and show what happens to its alarm."""
    from oncall_agent.sandbox.demo import run_demo

    configure_logging("WARNING", json_output=False)
    say = (lambda _line: None) if as_json else typer.echo
    result = run_demo(scenario, say)
    if as_json:
        typer.echo(json.dumps(result))


@sandbox_app.command("up")
def sandbox_up(
    scenario: Annotated[Path, typer.Option("--scenario", "-s", help="Scenario file to seed.")],
    store_url: Annotated[str, typer.Option(help="Store the printed config points at.")] = "sqlite:///data/sandbox.db",
    port: Annotated[int, typer.Option(help="HTTP port the printed config gives the agent.")] = 8080,
    latency_ms: Annotated[int, typer.Option(help="Latency added to every stand-in call.")] = 0,
    write_config: Annotated[Path | None, typer.Option(help="Also write the agent config to this file.")] = None,
) -> None:
    """Start the sandbox in the foreground, seed SCENARIO, print the endpoints and an agent config."""
    from oncall_agent.sandbox.up import run_sandbox

    configure_logging("WARNING", json_output=False)
    run_sandbox(
        scenario, store_url=store_url, port=port, latency_ms=latency_ms, write_config=write_config, say=typer.echo
    )


def main() -> None:
    try:
        app()
    except OncallAgentError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
