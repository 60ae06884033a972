"""Latency and a request meter for the in-process moto server (`ThreadedMotoServer`).

The stand-ins have a `FaultInjector` (latency, request log); moto has nothing of the kind. This module gives the
sandbox's moto the same two things, as a WSGI middleware around moto's application:

- every AWS API request first waits the configured latency (`set_latency(ms)`, default 0), so `eval --latency-ms`
  and `SandboxWorld(latency_ms=N)` can make AWS as slow as the stand-ins;
- every AWS API request is recorded (`calls()`): the SigV4 signing name of the service (`monitoring`, `logs`,
  `ecs`, ...), the operation, when it started and ended, the HTTP status, and who asked (the access key id of
  the signature and the User-Agent, so tests can tell replicas and their components apart). `clear_calls()`
  empties the log. `in_flight()` lists the requests moto has not answered yet (waiting their latency or being
  handled), so a test can kill a caller while one of its writes is on the way.

`install()` wraps the application of every `ThreadedMotoServer` started afterwards in this process (it replaces
the `DomainDispatcherApplication` name `ThreadedMotoServer` builds its app from; idempotent). moto's own admin
endpoints (`/moto-api/...`, e.g. the reset) are neither delayed nor recorded. State is process-wide, as moto's
backends are: one sandbox world per process at a time.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

_MARKER = "_oncall_agent_metered"
_FACTORY = "DomainDispatcherApplication"  # what `ThreadedMotoServer._server_entry` builds its WSGI app with
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")
_ACCESS_KEY = re.compile(r"Credential=([^/,\s]+)/")
_SMITHY_OPERATION = re.compile(r"/service/[^/]+/operation/([^/?]+)")
_ACTION = re.compile(r"(?:^|&)Action=([^&]+)")
_ADMIN_PREFIX = "/moto-api"
_install_lock = threading.Lock()

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class MotoCall:
    """One AWS API request moto answered. `started`/`ended` are `time.time()` values (the delay included)."""

    service: str
    operation: str
    started: float
    ended: float
    status: int | None
    access_key: str = ""
    user_agent: str = ""


class MotoMeter:
    """Thread-safe latency setting and bounded request log (the latest `max_log` requests)."""

    def __init__(self, max_log: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._log: deque[MotoCall] = deque(maxlen=max_log)
        self._latency_ms = 0
        self._in_flight: dict[int, MotoCall] = {}

    @property
    def latency_ms(self) -> int:
        return self._latency_ms

    def set_latency(self, ms: int) -> None:
        if ms < 0:
            raise ValueError("latency must be >= 0")
        with self._lock:
            self._latency_ms = ms

    def record(self, call: MotoCall) -> None:
        with self._lock:
            self._log.append(call)

    def begin(self, call: MotoCall) -> int:
        """Note a request moto has not answered yet; `finish(token)` forgets it."""
        with self._lock:
            token = id(call)
            self._in_flight[token] = call
            return token

    def finish(self, token: int) -> None:
        with self._lock:
            self._in_flight.pop(token, None)

    def in_flight(self) -> list[MotoCall]:
        with self._lock:
            return sorted(self._in_flight.values(), key=lambda c: c.started)

    def calls(self, since: float | None = None, until: float | None = None) -> list[MotoCall]:
        """The recorded requests that started in [since, until] (either bound optional), oldest first."""
        with self._lock:
            found = list(self._log)
        return [c for c in found if (since is None or c.started >= since) and (until is None or c.started <= until)]

    def clear(self) -> None:
        with self._lock:
            self._log.clear()


METER = MotoMeter()


def identify(environ: dict[str, Any]) -> tuple[str, str]:
    """(service, operation) of a request, from what botocore sends: the SigV4 credential scope names the service;
    the operation is the `X-Amz-Target` suffix (JSON protocols), the `/operation/NAME` path segment (Smithy RPC v2
    CBOR, e.g. CloudWatch), `Action=` in the query string (query protocol), else `METHOD /path` (REST)."""
    found = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = found[1] if found else "?"
    path = environ.get("PATH_INFO", "") or "/"
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return service, target.rsplit(".", 1)[-1]
    smithy = _SMITHY_OPERATION.search(path)
    if smithy:
        return service, smithy[1]
    action = _ACTION.search(environ.get("QUERY_STRING", ""))
    if action:
        return service, action[1]
    return service, f"{environ.get('REQUEST_METHOD', '?')} {path}"


class LatencyMiddleware:
    """WSGI middleware: wait the meter's latency, then let moto answer, and record the request."""

    def __init__(self, app: WsgiApp, meter: MotoMeter = METER) -> None:
        self.app = app
        self.meter = meter

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if str(environ.get("PATH_INFO", "")).startswith(_ADMIN_PREFIX):
            return self.app(environ, start_response)
        started = time.time()
        service, operation = identify(environ)
        key = _ACCESS_KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
        caller = (key[1] if key else "", str(environ.get("HTTP_USER_AGENT", "")))
        token = self.meter.begin(MotoCall(service, operation, started, 0.0, None, *caller))
        status: list[int] = []

        def capture(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status.append(int(status_line.split(" ", 1)[0]))
            if exc_info is not None:
                return start_response(status_line, headers, exc_info)
            return start_response(status_line, headers)

        try:
            delay = self.meter.latency_ms
            if delay:
                time.sleep(delay / 1000)
            return self.app(environ, capture)
        finally:
            self.meter.finish(token)
            answered = status[0] if status else None
            self.meter.record(MotoCall(service, operation, started, time.time(), answered, *caller))


def wrap(app: WsgiApp, meter: MotoMeter = METER) -> WsgiApp:
    """`app` behind the latency/meter middleware (for a WSGI app you start yourself)."""
    return LatencyMiddleware(app, meter)


def install(latency_ms: int | None = None) -> bool:
    """Meter (and delay) every `ThreadedMotoServer` started from now on in this process; idempotent. With
    `latency_ms`, also set the latency. False when moto is not installed."""
    try:
        from moto.moto_server import threaded_moto_server
    except ImportError:  # the sandbox extra is not installed: no in-process moto to wrap
        return False
    with _install_lock:
        current = getattr(threaded_moto_server, _FACTORY)
        if not getattr(current, _MARKER, False):

            def metered(*args: Any, **kwargs: Any) -> WsgiApp:
                return LatencyMiddleware(current(*args, **kwargs))

            setattr(metered, _MARKER, True)
            setattr(threaded_moto_server, _FACTORY, metered)
    if latency_ms is not None:
        set_latency(latency_ms)
    return True


def set_latency(ms: int) -> None:
    """Milliseconds added to every AWS API request of the metered moto servers (0 = none)."""
    METER.set_latency(ms)


def latency_ms() -> int:
    return METER.latency_ms


def calls(since: float | None = None, until: float | None = None) -> list[MotoCall]:
    return METER.calls(since, until)


def in_flight() -> list[MotoCall]:
    """Requests moto has not answered yet (`ended` is 0), oldest first."""
    return METER.in_flight()


def clear_calls() -> None:
    METER.clear()
