"""Run the MCP server: over stdio (the client started this process; stdout is the protocol, logs go to
stderr) or over streamable HTTP (stateless JSON responses, so any replica answers any request; every request
needs an approver's bearer token)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping

import uvicorn
from mcp.server import MCPServer
from starlette.types import ASGIApp

from oncall_agent.mcp.auth import RequireApprover
from oncall_agent.observability import get_logger

log = get_logger(__name__)


def serve_stdio(server: MCPServer) -> None:
    server.run("stdio")


def http_app(server: MCPServer, tokens: Callable[[], Mapping[str, str]], host: str, path: str) -> ASGIApp:
    # `host` turns on the SDK's DNS-rebinding check (Host/Origin) when it is a loopback address.
    app = server.streamable_http_app(streamable_http_path=path, stateless_http=True, json_response=True, host=host)
    return RequireApprover(app, tokens)


def serve_http(app: ASGIApp, host: str, port: int, path: str) -> None:
    """Listen before logging the URL, so a caller that reads `mcp_listening` (port 0: any free port) connects."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    log.info("mcp_listening", url=f"http://{shown}:{bound}{path}")
    uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on")).run(sockets=[sock])
