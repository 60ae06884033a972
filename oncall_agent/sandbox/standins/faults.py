"""Fault injection for the stand-ins: latency, error answers (5xx, 429 with Retry-After) and hung requests.

A `FaultInjector` holds rules and a request log; `FaultMiddleware` (pure ASGI, outermost) applies them to
every request of one stand-in and serves the admin endpoints, which bypass auth, faults and the log:

- `POST /_sandbox/faults` a JSON `FaultRule` (201), `DELETE /_sandbox/faults` removes every rule (204);
- `PUT /_sandbox/latency` `{"latency_ms": N}` sets the global latency added to every request;
- `GET /_sandbox/requests` the log (`method`, `path`, `query`, `status`, `at`); `DELETE` clears it.

For each request the first rule that matches (method, `re.search` of `path_regex` on the path) and still
has uses left is consumed: its `latency_ms` is waited, then `timeout` holds the request (for
`timeout_hold_s`, until `release_held()` or the server stops; then 504), or `status` answers in the
stand-in's own error shape. A rule with neither only delays. The global latency applies before any rule.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ADMIN_PREFIX = "/_sandbox/"

ErrorBody = Callable[[int], dict[str, Any]]


def default_error_body(status: int) -> dict[str, Any]:
    """A generic JSON error; each stand-in passes its own shape instead."""
    return {"message": f"Injected fault: HTTP {status}"}


@dataclass(frozen=True)
class FaultRule:
    """One fault on the requests matching `method` (None = any) and `path_regex` (searched in the path)."""

    method: str | None
    path_regex: str
    status: int | None = None
    retry_after: int | None = None
    latency_ms: int = 0
    timeout: bool = False
    times: int | None = None

    def __post_init__(self) -> None:
        re.compile(self.path_regex)
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP error status (4xx/5xx), got {self.status}")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be >= 1 or None")

    @classmethod
    def from_json(cls, data: Any) -> FaultRule:
        """Build a rule from the admin endpoint's JSON body; ValueError on anything malformed."""
        if not isinstance(data, dict) or "path_regex" not in data:
            raise ValueError("a fault rule is a JSON object with at least `path_regex`")
        allowed = {"method", "path_regex", "status", "retry_after", "latency_ms", "timeout", "times"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(f"unknown fault rule fields: {', '.join(unknown)}")
        try:
            return cls(**data)
        except (TypeError, re.error) as exc:
            raise ValueError(str(exc)) from exc

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return re.search(self.path_regex, path) is not None


@dataclass
class _ActiveRule:
    rule: FaultRule
    remaining: int | None
    applied: int = 0


@dataclass
class RequestRecord:
    """One request seen by a stand-in; `status` stays None while the request is held or in flight."""

    method: str
    path: str
    query: str
    status: int | None = None
    at: float = field(default_factory=time.time)


class FaultInjector:
    """Thread-safe rules, global latency and request log shared by a stand-in and the code driving it.

    The log keeps the latest `max_log` requests, so a long-running demo server does not grow without bound.
    """

    def __init__(self, *, timeout_hold_s: float = 30.0, max_log: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._rules: list[_ActiveRule] = []
        self._log: deque[RequestRecord] = deque(maxlen=max_log)
        self._latency_ms = 0
        self._generation = 0
        self.timeout_hold_s = timeout_hold_s

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(_ActiveRule(rule, rule.times))

    def clear(self) -> None:
        """Remove every rule (the global latency stays)."""
        with self._lock:
            self._rules.clear()

    def set_latency(self, ms: int) -> None:
        if ms < 0:
            raise ValueError("latency must be >= 0")
        with self._lock:
            self._latency_ms = ms

    @property
    def latency_ms(self) -> int:
        return self._latency_ms

    def rules(self) -> list[FaultRule]:
        """The rules that still have uses left."""
        with self._lock:
            return [active.rule for active in self._rules if active.remaining != 0]

    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return [RequestRecord(**asdict(record)) for record in self._log]

    def count(self, method: str | None = None, path_regex: str = "") -> int:
        """How many logged requests match `method` (None = any) and `path_regex`."""
        probe = FaultRule(method, path_regex)
        return sum(1 for record in self.requests() if probe.matches(record.method, record.path))

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def release_held(self) -> None:
        """Let every request held by a `timeout` rule go now (they answer 504); later ones are held again."""
        with self._lock:
            self._generation += 1

    @property
    def generation(self) -> int:
        """Bumped by `release_held`; a held request waits while it is unchanged."""
        return self._generation

    def record(self, method: str, path: str, query: str) -> RequestRecord:
        entry = RequestRecord(method, path, query)
        with self._lock:
            self._log.append(entry)
        return entry

    def take(self, method: str, path: str) -> FaultRule | None:
        """Consume one use of the first matching rule with uses left."""
        with self._lock:
            for active in self._rules:
                if active.remaining != 0 and active.rule.matches(method, path):
                    if active.remaining is not None:
                        active.remaining -= 1
                    active.applied += 1
                    return active.rule
        return None


class FaultMiddleware:
    """ASGI middleware applying a `FaultInjector` and serving the `/_sandbox/` admin endpoints."""

    def __init__(
        self,
        app: ASGIApp,
        injector: FaultInjector,
        error_body: ErrorBody = default_error_body,
        media_type: str = "application/json",
    ) -> None:
        self.app = app
        self.injector = injector
        self.error_body = error_body
        self.media_type = media_type

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]
        if path.startswith(ADMIN_PREFIX):
            response = await _admin(self.injector, method, path, receive)
            await response(scope, receive, send)
            return
        entry = self.injector.record(method, path, scope.get("query_string", b"").decode("latin-1"))

        async def send_and_log(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry.status = int(message["status"])
            await send(message)

        if self.injector.latency_ms:
            await asyncio.sleep(self.injector.latency_ms / 1000)
        rule = self.injector.take(method, path)
        if rule is not None:
            if rule.latency_ms:
                await asyncio.sleep(rule.latency_ms / 1000)
            if rule.timeout:
                await self._hold()
                await self._error(504, None)(scope, receive, send_and_log)
                return
            if rule.status is not None:
                await self._error(rule.status, rule.retry_after)(scope, receive, send_and_log)
                return
        await self.app(scope, receive, send_and_log)

    async def _hold(self) -> None:
        deadline = time.monotonic() + self.injector.timeout_hold_s
        generation = self.injector.generation
        while time.monotonic() < deadline and self.injector.generation == generation:
            await asyncio.sleep(0.05)

    def _error(self, status: int, retry_after: int | None) -> Response:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return JSONResponse(self.error_body(status), status, headers=headers, media_type=self.media_type)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _admin(injector: FaultInjector, method: str, path: str, receive: Receive) -> Response:
    route = (method, path.rstrip("/"))
    if route == ("GET", "/_sandbox/requests"):
        return JSONResponse([asdict(record) for record in injector.requests()])
    if route == ("DELETE", "/_sandbox/requests"):
        injector.clear_requests()
        return Response(status_code=204)
    if route == ("DELETE", "/_sandbox/faults"):
        injector.clear()
        return Response(status_code=204)
    if route == ("GET", "/_sandbox/faults"):
        return JSONResponse([asdict(rule) for rule in injector.rules()])
    if route in {("POST", "/_sandbox/faults"), ("PUT", "/_sandbox/latency")}:
        try:
            data = json.loads(await _read_body(receive) or b"null")
            if route[1] == "/_sandbox/latency":
                injector.set_latency(int(data["latency_ms"]))
                return JSONResponse({"latency_ms": injector.latency_ms})
            rule = FaultRule.from_json(data)
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"message": f"Bad sandbox admin request: {exc}"}, 400)
        injector.add(rule)
        return JSONResponse(asdict(rule), 201)
    return JSONResponse({"message": "Not Found"}, 404)
