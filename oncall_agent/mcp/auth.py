"""Who is asking: over HTTP the request's `Authorization: Bearer <approver token>` (every request, reads too, as
for `/api`); over stdio the token the process was given (settings `mcp.approver_token`). A token names one
approver (settings `approvals`); whether that approver may decide a given action is the approval service's
group check, not this module's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

from oncall_agent.response.approvals import token_owner


class Refused(Exception):
    """A refusal with the HTTP-like status the API would answer (401, 403, 404, 409) and the reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"refused ({status}): {reason}")
        self.status = status
        self.reason = reason


def bearer_owner(tokens: Mapping[str, str], header: str | None) -> str:
    """The approver whose token the `Authorization` header carries; Refused(401) otherwise."""
    if not header or not header.lower().startswith("bearer "):
        raise Refused(401, "missing bearer token (Authorization: Bearer <approver token>)")
    name = token_owner(tokens, header[7:].strip())
    if name is None:
        raise Refused(401, "unknown bearer token")
    return name


def stdio_owner(tokens: Mapping[str, str], token: str | None) -> str:
    """The approver a stdio server decides as: the owner of its configured token; Refused(401) otherwise."""
    if not token:
        raise Refused(401, "no approver credentials: set ONCALL_MCP__APPROVER_TOKEN to your approver token")
    name = token_owner(tokens, token)
    if name is None:
        raise Refused(401, "mcp.approver_token is not the token of any approver in settings approvals")
    return name


class RequireApprover:
    """ASGI gate in front of the streamable HTTP app: a request without a known approver token is answered 401
    (`{"detail": <reason>}`, as `/api` does) before the MCP layer reads it. Lifespan events pass through."""

    def __init__(self, app: ASGIApp, tokens: Callable[[], Mapping[str, str]]) -> None:
        self._app = app
        self._tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            try:
                bearer_owner(self._tokens(), header)
            except Refused as refused:
                await _answer_401(send, refused.reason)
                return
        await self._app(scope, receive, send)


async def _answer_401(send: Send, reason: str) -> None:
    body = json.dumps({"detail": reason}).encode()
    headers = [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})
