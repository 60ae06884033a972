"""`oncall-agent mcp`: the MCP server over stdio or streamable HTTP (settings `mcp`, flags override them)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from oncall_agent.cli_store import CliError, open_existing, settings_for_store
from oncall_agent.domain.errors import ConfigError
from oncall_agent.observability import configure_logging


class Transport(StrEnum):
    STDIO = "stdio"
    HTTP = "http"


def mcp(
    transport: Annotated[
        Transport | None, typer.Option(help="stdio (an assistant starts this process) or http (streamable HTTP).")
    ] = None,
    host: Annotated[str | None, typer.Option(help="HTTP: address to listen on (default: mcp.host).")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535, help="HTTP: port, 0 for any free one.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config file.")] = None,
) -> None:
    """Serve incidents, findings and actions to MCP clients; decide actions only if `mcp.decisions` is on."""
    from oncall_agent.bootstrap_mcp import build_mcp
    from oncall_agent.mcp.serve import http_app, serve_http, serve_stdio

    try:
        settings = settings_for_store(config)
        configure_logging(settings.logging.level, settings.logging.json_output)
        engine = open_existing(settings.store.url)
        chosen = (transport or Transport(settings.mcp.transport)).value
        server, tokens = build_mcp(settings, engine, chosen)
    except (CliError, ConfigError) as exc:
        typer.echo(f"cannot start the MCP server: {exc}", err=True)
        raise typer.Exit(2) from exc
    if chosen == Transport.STDIO:
        serve_stdio(server)
        return
    listen_on = host or settings.mcp.host
    app = http_app(server, tokens, listen_on, settings.mcp.path)
    serve_http(app, listen_on, settings.mcp.port if port is None else port, settings.mcp.path)
