"""Settings: the MCP server (`oncall-agent mcp`): transport, where it listens, and whether it may decide."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from oncall_agent.settings.base import Section


class McpSettings(Section):
    # `stdio` for an assistant that starts the server itself; `http` (streamable HTTP) for a shared server.
    transport: Literal["stdio", "http"] = "stdio"
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)  # 0: any free port (the URL is logged as `mcp_listening`)
    path: str = Field(default="/mcp", pattern=r"^/[A-Za-z0-9/_-]*$")
    # Register the `decide_action` tool. Off (the default): the server only reads.
    decisions: bool = False
    # stdio only: the approver token (approvals.approvers.<name>.token) this process decides as. Give it in
    # the environment (ONCALL_MCP__APPROVER_TOKEN), not in the file. Over HTTP each request's bearer token decides.
    approver_token: SecretStr | None = None
