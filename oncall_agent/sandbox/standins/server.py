"""Run an ASGI app with uvicorn on a loopback port in a daemon thread (stand-ins for tests, demo, eval)."""

from __future__ import annotations

import threading
import time

import uvicorn
from starlette.types import ASGIApp

from oncall_agent.sandbox.standins.faults import FaultInjector


class BackgroundServer:
    """One uvicorn server on `host`, port 0 by default (the OS picks), serving `app` from a daemon thread.

    `stop()` releases requests held by `faults` (if given), asks uvicorn to exit and cancels anything still
    running after `graceful_timeout_s`, so a stand-in holding a "timeout" request never blocks a teardown.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultInjector | None = None,
        graceful_timeout_s: int = 1,
        name: str = "standin",
    ) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._faults = faults
        self._graceful_timeout_s = graceful_timeout_s
        self._name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, without a trailing slash; only after `start()`."""
        if self._base_url is None:
            raise RuntimeError(f"{self._name} server is not running")
        return self._base_url

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout_s: float = 10.0) -> str:
        """Start serving and return the base URL once the socket is listening."""
        if self._base_url is not None:
            return self._base_url
        config = uvicorn.Config(
            self._app,
            host=self._host,
            port=self._port,
            log_config=None,
            log_level="error",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=self._graceful_timeout_s,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name=f"{self._name}-uvicorn", daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self._server = self._thread = None
                server.should_exit = True
                raise RuntimeError(f"{self._name} server did not start on {self._host}:{self._port}")
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        self._base_url = f"http://{self._host}:{port}"
        return self._base_url

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving and wait for the thread (idempotent)."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        if self._faults is not None:
            self._faults.release_held()
        server.should_exit = True
        thread.join(timeout_s)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout_s)
        self._server = self._thread = None
        self._base_url = None

    def __enter__(self) -> BackgroundServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
