"""The `oncall-agent` command line (Typer). Thin: each command loads settings and calls one service."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from oncall_agent.cli_mcp import mcp
from oncall_agent.cli_outbox import outbox_app
from oncall_agent.cli_render import describe_incident, incident_table
from oncall_agent.cli_store import CliError, open_existing, settings_for_store, upgrade_or_fail
from oncall_agent.domain.errors import ConfigError, OncallAgentError
from oncall_agent.observability import configure_logging
from oncall_agent.settings import Settings, load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Autonomous on-call incident agent for AWS.")
config_app = typer.Typer(no_args_is_help=True, help="Inspect configuration.")
db_app = typer.Typer(no_args_is_help=True, help="Database maintenance.")
incidents_app = typer.Typer(no_args_is_help=True, help="Look at incidents.")
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(incidents_app, name="incidents")
app.add_typer(outbox_app, name="outbox")
app.command()(mcp)

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


def _store_settings(config: Path | None) -> Settings:
    try:
        return settings_for_store(config)
    except CliError as exc:
        raise _fail(str(exc)) from exc


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

    settings = _store_settings(config)
    try:
        upgrade_or_fail(settings.store.url)
    except CliError as exc:
        raise _fail(str(exc), 1) from exc
    typer.echo("database is at the latest revision")


def _open(config: Path | None) -> tuple[Settings, Any, Any]:
    from oncall_agent.bootstrap import SystemClock
    from oncall_agent.store.incident_store import SqlIncidentStore

    settings = _store_settings(config)
    try:
        engine = open_existing(settings.store.url)
    except CliError as exc:
        raise _fail(str(exc), 1) from exc
    return settings, SqlIncidentStore(engine, SystemClock()), SystemClock()


@incidents_app.command("list")
def incidents_list(config: ConfigOption = None, as_json: JsonFlag = False) -> None:
    """List incidents, newest first."""
    from oncall_agent.investigation.views import incident_summary

    _, store, _ = _open(config)
    rows = [incident_summary(i) for i in store.list_incidents()]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for line in incident_table(rows, datetime.now(UTC)):
        typer.echo(line)


@incidents_app.command("show")
def incidents_show(incident_id: str, config: ConfigOption = None, as_json: JsonFlag = False) -> None:
    """Show one incident: status, severity, likely causes with their evidence, actions and the timeline."""
    from oncall_agent.investigation.views import incident_view
    from oncall_agent.store.actions import SqlActionStore
    from oncall_agent.store.investigations import SqlInvestigationStore

    _, store, clock = _open(config)
    view = incident_view(
        store, SqlInvestigationStore(store.engine, clock), SqlActionStore(store.engine, clock), incident_id
    )
    if view is None:
        raise _fail(f"no incident {incident_id}", 1)
    if as_json:
        typer.echo(json.dumps(view))
        return
    for line in describe_incident(view, datetime.now(UTC)):
        typer.echo(line)


def _decide(action_id: str, approve: bool, who: str, digest: str | None, config: Path | None, as_json: bool) -> None:
    from oncall_agent.bootstrap_investigation import build_local_approvals
    from oncall_agent.store.actions import SqlActionStore

    settings, store, clock = _open(config)
    # Log lines (the decision's lifecycle event) go to stderr: stdout is the answer, JSON with --json.
    configure_logging(settings.logging.level, settings.logging.json_output)
    current = SqlActionStore(store.engine, clock).get(action_id)
    if current is None:
        raise _fail(f"no action {action_id}", 1)
    approvals = build_local_approvals(settings, store, store.engine, clock)
    try:
        action = approvals.decide(action_id, digest or current.digest, approve, who, "cli")
    except OncallAgentError as exc:
        raise _fail(f"refused: {exc}", 1) from exc
    if as_json:
        typer.echo(action.model_dump_json())
    else:
        typer.echo(f"{action.id} {action.kind} {action.status.value} by {who} (digest {action.digest[:12]})")


AsOption = Annotated[str, typer.Option("--as", help="Who decides (recorded with the decision).")]
DigestOption = Annotated[str | None, typer.Option(help="The digest you reviewed (default: the current one).")]


@app.command()
def approve(
    action_id: str, who: AsOption, digest: DigestOption = None, config: ConfigOption = None, as_json: JsonFlag = False
) -> None:
    """Approve a proposed action; the agent executes it and verifies recovery."""
    _decide(action_id, True, who, digest, config, as_json)


@app.command()
def reject(
    action_id: str, who: AsOption, digest: DigestOption = None, config: ConfigOption = None, as_json: JsonFlag = False
) -> None:
    """Reject a proposed action; it is never executed."""
    _decide(action_id, False, who, digest, config, as_json)


runbooks_app = typer.Typer(no_args_is_help=True, help="Runbooks and policy.")
app.add_typer(runbooks_app, name="runbooks")


@runbooks_app.command("validate")
def runbooks_validate(
    folder: Annotated[Path | None, typer.Argument(help="Folder of *.md runbooks and *.cedar policies.")] = None,
    config: ConfigOption = None,
) -> None:
    """Check every runbook and policy file; print each problem."""
    from oncall_agent.bootstrap_investigation import runbooks_dir
    from oncall_agent.response.policy import PolicyEngine
    from oncall_agent.response.runbooks import load_runbooks

    chosen = folder or runbooks_dir(_settings(config))
    try:
        books = load_runbooks(chosen)
        PolicyEngine.from_folder(chosen)
    except ConfigError as exc:
        raise _fail(f"{chosen}: invalid\n{exc}", 1) from exc
    typer.echo(f"{chosen}: {len(books)} runbook(s) and the policy are valid: {', '.join(b.id for b in books)}")


sandbox_app = typer.Typer(no_args_is_help=True, help="The local sandbox (moto and the stand-ins).")
app.add_typer(sandbox_app, name="sandbox")
ScenarioOption = Annotated[Path | None, typer.Option("--scenario", "-s", help="Scenario file (SCENARIOS.md format).")]


@app.command()
def demo(
    scenario: ScenarioOption = None,
    as_json: JsonFlag = False,
    interactive: Annotated[
        bool, typer.Option(help="Wait for a person to approve instead of the demo operator.")
    ] = False,
    keep: Annotated[
        bool, typer.Option(help="Keep the store and leave the agent serving (browse the story) until Ctrl-C.")
    ] = False,
) -> None:
    """Run the sandbox and the agent on one scenario: alarm, investigation, tickets, approval, action, recovery."""
    from oncall_agent.sandbox.demo import run_demo

    configure_logging("WARNING", json_output=False)
    say = (lambda _line: None) if as_json else typer.echo

    def report(result: dict[str, Any]) -> None:
        if as_json:
            typer.echo(json.dumps(result), nl=True)
            sys.stdout.flush()

    result = run_demo(scenario, say, interactive, keep=keep, on_result=report)
    if not keep:
        report(result)


@app.command("eval")
def eval_scenarios(
    directory: Annotated[Path, typer.Argument(help="Folder of scenario files (SCENARIOS.md format).")],
    json_file: Annotated[Path | None, typer.Option("--json", help="Also write the results as JSON to FILE.")] = None,
    latency_ms: Annotated[int, typer.Option(min=0, help="Latency added to every stand-in and moto request.")] = 0,
    llm: Annotated[
        str,
        typer.Option(
            "--llm",
            help="Model of the reason step: off; stub (the sandbox's scripted Bedrock stand-in, adversaries "
            "included); bedrock (Amazon Bedrock with the llm section of --config).",
        ),
    ] = "off",
    config: ConfigOption = None,
) -> None:
    """Run the agent on every scenario in DIRECTORY and score it: a table, a summary, and optionally JSON."""
    from oncall_agent.domain.errors import ScenarioError
    from oncall_agent.eval.llm_modes import LlmModeError, usage_line
    from oncall_agent.eval.report import render, to_json
    from oncall_agent.eval.runner import run_eval

    configure_logging("WARNING", json_output=False)
    user = _settings(config) if llm == "bedrock" else None
    try:
        run = run_eval(
            directory,
            latency_ms=latency_ms,
            progress=lambda line: typer.echo(line, err=True),
            llm=llm,
            user_settings=user,
        )
    except (ScenarioError, LlmModeError) as exc:
        raise _fail(str(exc), 2) from exc
    typer.echo(render(run.results))
    if run.llm != "off":
        typer.echo(usage_line([r.extra["llm"] for r in run.results if "llm" in r.extra]))
    if json_file is not None:
        meta = {
            "directory": str(directory),
            "latency_ms": run.latency_ms,
            "abstain_below": run.abstain_below,
            "llm": run.llm,
        }
        json_file.write_text(json.dumps(to_json(run.results, meta), indent=2) + "\n")


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
