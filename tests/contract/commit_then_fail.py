"""An ASGI wrapper for stand-ins: a write reaches the app (and commits), then the client gets an error instead
of the answer — as when a proxy or the service fails after its database commit. The fault injector cannot do
this: it answers before the app runs. Used to prove reconcile-before-retry in the ticket adapters."""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class CommitThenFail:
    BODY: ClassVar[dict[str, Any]] = {"message": "Server Error"}
    STATUS: ClassVar[int] = 502

    def __init__(self, app: ASGIApp, method: str, path_regex: str, status: int | None = None, times: int = 1) -> None:
        self.app, self.method, self.path_regex, self.remaining = app, method, path_regex, times
        self.status = status or self.STATUS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hit = scope["type"] == "http" and scope["method"] == self.method and re.search(self.path_regex, scope["path"])
        if not hit or self.remaining <= 0:
            await self.app(scope, receive, send)
            return
        self.remaining -= 1

        async def swallow(_message: Message) -> None:
            return None

        await self.app(scope, receive, swallow)
        start = {
            "type": "http.response.start",
            "status": self.status,
            "headers": [(b"content-type", b"application/json")],
        }
        await send(start)
        await send({"type": "http.response.body", "body": json.dumps(self.BODY).encode()})
