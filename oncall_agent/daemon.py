"""The process supervisor for `oncall-agent serve`: HTTP server, poller job, grouping worker, clean shutdown.

SIGTERM (ECS stopping a task) -> uvicorn stops accepting and finishes in-flight requests -> the lifespan exit
stops the scheduler after the running poll finishes, lets the grouper drain what was accepted, disposes the
store -> exit 0. ECS gives 30 s by default (stopTimeout); each step here is bounded well below that.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import FrameType

import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import FastAPI

from oncall_agent.bootstrap import Components, build_components
from oncall_agent.bootstrap_console import build_console
from oncall_agent.domain.grouping import GroupingOutcome
from oncall_agent.investigation.views import incident_summary, incident_view
from oncall_agent.investigation.worker import InvestigationWorker
from oncall_agent.lifecycle import lifecycle
from oncall_agent.observability import get_logger
from oncall_agent.settings import HttpSettings, Settings
from oncall_agent.web.api import api_router
from oncall_agent.web.app import create_app
from oncall_agent.web.github_webhook import github_router

log = get_logger(__name__)
RELAY_TARGETS = ("servicenow", "github", "sns")
POLLER_LEASE = "poller"  # the leader lease the DescribeAlarms poller runs under
REAPER_LEASE = "reaper"  # the leader lease the expiry reaper runs under
CHANGES_LEASE = "changes"  # the leader lease the ServiceNow change-approval job runs under
REAPER_INTERVAL_SECONDS = 30.0  # an expired proposal is noticed (and the incident escalated) within this


class GroupingWorker(threading.Thread):
    """Groups stored events into incidents, woken by intake or every `interval` seconds."""

    def __init__(
        self, components: Components, wake: threading.Event, interval: float, on_created: Callable[[], None]
    ) -> None:
        super().__init__(name="grouper", daemon=True)
        self._components = components
        self._wake = wake
        self._interval = interval
        self._on_created = on_created
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            self.drain()
        self.drain()  # what was accepted before shutdown is grouped before exit

    def drain(self, batch: int = 200) -> None:
        try:
            while True:
                grouped = self._components.grouper.run_once(batch)
                for item in grouped:
                    if item.decision.outcome is GroupingOutcome.QUARANTINED:
                        log.error(
                            "event_quarantined", event_id=item.event_id, alarm=item.alarm_name, reason=item.detail
                        )
                for item in grouped:
                    if item.decision.outcome is GroupingOutcome.CREATE and item.decision.incident_id:
                        lifecycle(
                            "incident_opened",
                            item.decision.incident_id,
                            service=item.decision.service,
                            alarm=item.alarm_name,
                        )
                created = sum(1 for g in grouped if g.decision.outcome is GroupingOutcome.CREATE)
                if created:
                    self._components.metrics.incidents_created.inc(created)
                    self._on_created()
                if len(grouped) < batch:
                    break
            self._components.metrics.ungrouped.set(self._components.store.event_counts()["ungrouped"])
        except Exception as exc:  # noqa: BLE001 - the worker must outlive a failing store call; retried next wake
            log.error("grouping_failed", error=f"{type(exc).__name__}: {exc}")

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self.join(timeout=20)


class InvestigationRunner(threading.Thread):
    """Runs one investigation worker: work while there is work, else wait to be woken (or poll each second)."""

    def __init__(self, worker: InvestigationWorker, wake: threading.Event) -> None:
        super().__init__(name=worker.name, daemon=True)
        self._worker = worker
        self._wake = wake
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                busy = self._worker.run_once() is not None
            except Exception as exc:  # noqa: BLE001 - e.g. the store is down: try again after the pause
                log.error("investigation_worker_failed", worker=self._worker.name, error=f"{type(exc).__name__}: {exc}")
                busy = False
            if not busy:
                self._wake.wait(1.0)
                self._wake.clear()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self.join(timeout=20)


class Daemon:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._wake = threading.Event()
        self._wake_workers = threading.Event()
        self.components = build_components(settings, self._wake.set, self._wake_workers.set)
        self._scheduler = BackgroundScheduler(timezone=UTC)
        self._grouper = GroupingWorker(
            self.components, self._wake, settings.intake.grouping_interval_seconds, self._wake_workers.set
        )
        investigation = self.components.investigation
        self._runners = (
            [InvestigationRunner(w, self._wake_workers) for w in investigation.workers] if investigation else []
        )
        self.server: uvicorn.Server | None = None

    def _poll(self) -> None:
        result = self.components.poller.poll_once()
        self.components.metrics.polls.labels("partial" if result.failed_regions else "ok").inc()
        if result.stored or result.failed_regions:
            log.info(
                "poll_done",
                seen=result.seen,
                stored=result.stored,
                duplicates=result.duplicates,
                failed_regions=result.failed_regions,
            )

    def _poll_soon(self) -> None:
        self._scheduler.modify_job("poll-alarms", next_run_time=datetime.now(UTC))

    def start_background(self) -> None:
        leader = self.components.leader
        if self.settings.aws.poll_enabled:
            # Only the lease holder polls; a new holder polls at once instead of after a whole interval.
            leader.want(POLLER_LEASE, on_acquired=self._poll_soon)
            self._scheduler.add_job(
                leader.run_if_leader(POLLER_LEASE, self._poll),
                "interval",
                seconds=self.settings.aws.poll_interval_seconds,
                id="poll-alarms",
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(UTC),
            )
        if self.components.investigation is not None:
            for target in RELAY_TARGETS:  # one job (thread) per destination: a slow tracker never delays the other
                self._scheduler.add_job(
                    self._relay,
                    "interval",
                    [target],
                    seconds=1.0,
                    id=f"outbox-relay-{target}",
                    max_instances=1,
                    coalesce=True,
                )
            investigation = self.components.investigation
            self._leader_job(REAPER_LEASE, "expiry-reaper", REAPER_INTERVAL_SECONDS, investigation.reaper.run_once)
            if investigation.changes is not None:
                poll = self.settings.approvals.change_poll_seconds
                self._leader_job(CHANGES_LEASE, "change-approvals", poll, investigation.changes.run_once)
        self._scheduler.start()
        leader.start()
        self._grouper.start()
        for runner in self._runners:
            runner.start()
        log.info("daemon_started", poll=self.settings.aws.poll_enabled, regions=self.settings.aws.regions)

    def _leader_job(self, lease: str, name: str, seconds: float, run_once: Callable[[], list[str]]) -> None:
        """`run_once` every `seconds` on the holder of `lease` only; it returns the ids of the actions it changed
        (expired by the reaper, decided by their change request), which are logged."""

        def job() -> None:
            try:
                changed = run_once()
            except Exception as exc:  # noqa: BLE001 - e.g. the store or ServiceNow is down: the next run tries again
                log.error(f"{job.__name__}_failed", error=f"{type(exc).__name__}: {exc}")
                return
            if changed:
                log.info(f"{job.__name__}_done", actions=changed)

        job.__name__ = name.replace("-", "_")
        self._scheduler.add_job(
            self.components.leader.run_if_leader(lease, job),
            "interval",
            seconds=seconds,
            id=name,
            max_instances=1,
            coalesce=True,
        )

    def _relay(self, target: str) -> None:
        assert self.components.investigation is not None
        delivered = self.components.investigation.relay.run_once(50, target=target)
        if delivered:
            log.info("outbox_delivered", target=target, rows=delivered)

    def stop_background(self) -> None:
        self._scheduler.shutdown(wait=True)
        self.components.leader.stop()  # after the last job run: releasing earlier could let two replicas poll
        self._grouper.stop()
        for runner in self._runners:
            runner.stop()
        self.components.dispose()
        log.info("daemon_stopped")

    def app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
            self.start_background()
            try:
                yield
            finally:
                self.stop_background()

        intake = self.settings.intake
        app = create_app(
            self.components.intake,
            self.components.metrics,
            intake.max_body_bytes,
            intake.eventbridge.header,
            self.components.store.ping,
            lifespan,
            body_timeout_seconds=self.settings.http.body_timeout_seconds,
        )
        investigation = self.components.investigation
        if investigation is not None:
            store = self.components.store
            app.include_router(
                api_router(
                    investigation.approvals,
                    investigation.approvals.tokens(),
                    lambda incident_id: incident_view(store, investigation.results, investigation.actions, incident_id),
                    lambda: [incident_summary(i) for i in store.list_incidents()],
                )
            )
            if self.settings.console.enabled:
                local = self.settings.http.host in {"127.0.0.1", "::1", "localhost"}
                app.include_router(build_console(self.settings.console, store, investigation, local_only=local))
            if investigation.comments is not None:
                secret = self.settings.integrations.github.webhook_secret if self.settings.integrations.github else None
                app.include_router(
                    github_router(
                        investigation.comments,
                        secret.get_secret_value() if secret else None,
                        self.components.metrics,
                        intake.max_body_bytes,
                        self.settings.http.body_timeout_seconds,
                    )
                )
        return app

    def _server(self) -> uvicorn.Server:
        self.server = uvicorn.Server(server_config(self.app(), self.settings.http))
        return self.server

    def run(self) -> int:
        """Serve in the foreground until SIGTERM/SIGINT; returns the exit code."""
        server = self._server()
        # uvicorn re-raises the signal it caught after its graceful shutdown; with a Python handler installed
        # first, that re-raise lands here instead of killing the process with 143.
        signal.signal(signal.SIGTERM, _note_signal)
        server.run()
        return 0

    def start_in_thread(self, timeout: float = 30.0) -> str:
        """Serve from a background thread (demo, tests); returns the base URL once listening."""
        server = self._server()
        self._thread = threading.Thread(target=server.run, name="oncall-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the HTTP server did not start")
            time.sleep(0.02)
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def stop_thread(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
            self._thread.join(timeout=30)


def _note_signal(signum: int, _frame: FrameType | None) -> None:
    log.info("signal_received", signal=signal.Signals(signum).name)


def server_config(app: FastAPI, http: HttpSettings) -> uvicorn.Config:
    """uvicorn with the limits from settings. h11, not httptools: its header-size limit is the one we can set."""
    return uvicorn.Config(
        app,
        host=http.host,
        port=http.port,
        http="h11",
        limit_concurrency=http.limit_concurrency,
        timeout_keep_alive=http.timeout_keep_alive,
        h11_max_incomplete_event_size=http.max_header_bytes,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
        lifespan="on",
    )
