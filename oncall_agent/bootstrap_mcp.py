"""Composition of the MCP server: settings -> stores -> (the approval service when `mcp.decisions`) -> tools."""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer

from oncall_agent.bootstrap import SystemClock
from oncall_agent.bootstrap_investigation import build_local_approvals
from oncall_agent.domain.errors import ConfigError
from oncall_agent.mcp.reads import IncidentReader
from oncall_agent.mcp.server import Decider, build_server
from oncall_agent.response.approvals import token_owner
from oncall_agent.settings import Settings
from oncall_agent.store.actions import SqlActionStore
from oncall_agent.store.incident_store import SqlIncidentStore
from oncall_agent.store.investigations import SqlInvestigationStore


def build_mcp(settings: Settings, engine: Any, transport: str) -> tuple[MCPServer, Any]:
    """The MCP server over `engine` (a migrated store) and the approver tokens the HTTP gate accepts (a callable).
    A configured `mcp.approver_token` that names nobody is a ConfigError at start, not a refusal later; over
    HTTP it is not used at all (each request's bearer token decides)."""
    clock = SystemClock()
    store = SqlIncidentStore(engine, clock)
    reader = IncidentReader(store, SqlInvestigationStore(engine, clock), SqlActionStore(engine, clock))
    approvals = build_local_approvals(settings, store, engine, clock)
    token = settings.mcp.approver_token.get_secret_value() if settings.mcp.approver_token else None
    if token is not None and token_owner(approvals.tokens(), token) is None:
        raise ConfigError("mcp.approver_token is not the token of any approver in approvals.approvers/tokens")
    decider = Decider(approvals, token if transport == "stdio" else None) if settings.mcp.decisions else None
    return build_server(reader, decider), approvals.tokens
