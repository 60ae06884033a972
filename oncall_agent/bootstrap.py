"""Composition root: Settings -> adapters -> services. The only module that picks concrete adapters."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from oncall_agent.adapters.aws.clients import make_client
from oncall_agent.adapters.aws.cloudwatch import CloudWatchAlarmSource
from oncall_agent.adapters.aws.sns import SnsSubscriptionConfirmer
from oncall_agent.bootstrap_investigation import Investigation, build_investigation
from oncall_agent.coordination.leader import LeaderElector, holder_id
from oncall_agent.coordination.read_rates import DOCUMENTED_QUOTAS, ReadRates
from oncall_agent.intake.grouping import Grouper
from oncall_agent.intake.old_events import OldEventGate
from oncall_agent.intake.poller import AlarmFilter, AlarmPoller
from oncall_agent.intake.service import IntakeService, SubscriptionRequest
from oncall_agent.intake.sns import mapped_certificate_fetcher, verify_message
from oncall_agent.investigation.tracing import TRACER_NAME
from oncall_agent.observability import IntakeMetrics, LlmMetrics, get_logger
from oncall_agent.settings import Settings
from oncall_agent.store.engine import make_engine
from oncall_agent.store.incident_store import SqlIncidentStore
from oncall_agent.store.leases import SqlLeaseStore
from oncall_agent.store.migrate import upgrade
from oncall_agent.store.rate_limits import SqlRateLimiter
from oncall_agent.telemetry import TracerProvider, configure_tracing

log = get_logger(__name__)
POLLER_APP_ID = "oncall-agent-poller"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Components:
    settings: Settings
    store: SqlIncidentStore
    intake: IntakeService
    grouper: Grouper
    poller: AlarmPoller
    leader: LeaderElector
    metrics: IntakeMetrics
    wake_grouper: Callable[[], None]
    background: ThreadPoolExecutor
    engine_dispose: Callable[[], None]
    tracing: TracerProvider
    investigation: Investigation | None = None

    def dispose(self) -> None:
        self.background.shutdown(wait=True)
        if self.investigation is not None:
            self.investigation.close()
        self.engine_dispose()
        self.tracing.shutdown()  # flushes the OTLP batch, when there is one


def aws_client_factory(
    settings: Settings, service: str, app_id: str | None = None, *, rates: ReadRates | None = None
) -> Callable[[str], Any]:
    creds = settings.aws.credentials
    return partial(
        make_client,
        service,
        endpoint_url=settings.aws.service_endpoints.get(service, settings.aws.endpoint_url),
        access_key_id=creds.access_key_id.get_secret_value() if creds else None,
        secret_access_key=creds.secret_access_key.get_secret_value() if creds else None,
        app_id=app_id,
        throttle=rates.throttle if rates is not None else None,
    )


def read_rates(settings: Settings, engine: Any) -> ReadRates | None:
    """The replicas' shared AWS read rates, or None when they are off (a sandbox endpoint)."""
    aws = settings.aws
    if not aws.rate_limited:
        return None
    quotas = {**DOCUMENTED_QUOTAS, **aws.quotas}
    return ReadRates(SqlRateLimiter(engine), quotas, aws.quota_share, aws.rate_max_wait_seconds, time.sleep)


def build_sns_verifier(settings: Settings) -> Callable[[dict[str, Any], datetime], None]:
    sources = settings.intake.sns.certificate_sources
    fetch = mapped_certificate_fetcher(sources, fallback=None) if sources else None

    def verify(message: dict[str, Any], at: datetime) -> None:
        verify_message(message, at=at, fetch_certificate=fetch)

    return verify


def _log_failure(future: Any) -> None:
    if future.exception() is not None:
        log.error("background_task_failed", error=repr(future.exception()))


class SystemClock:
    def now(self) -> datetime:
        return utc_now()


def build_components(
    settings: Settings, wake_grouper: Callable[[], None], wake_workers: Callable[[], None] = lambda: None
) -> Components:
    """Wire everything for one process. Runs the store migrations (idempotent) first."""
    upgrade(settings.store.url)
    engine = make_engine(settings.store.url, busy_timeout_ms=int(settings.store.lock_timeout_seconds * 1000))
    store = SqlIncidentStore(engine)
    metrics = IntakeMetrics()
    rates = read_rates(settings, engine)
    tracing = configure_tracing(settings.telemetry)
    confirmer = SnsSubscriptionConfirmer(aws_client_factory(settings, "sns"))

    def confirm(request: SubscriptionRequest) -> None:
        if not settings.intake.sns.confirm_subscriptions:
            log.info("sns_subscription_not_confirmed", topic=request.topic_arn, reason="disabled in settings")
            return
        confirmer.confirm_subscription(request.topic_arn, request.token)
        log.info("sns_subscription_confirmed", topic=request.topic_arn)

    # Confirmation calls AWS: never inside the request that SNS is waiting on.
    background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="intake-bg")
    secret = settings.intake.eventbridge.secret
    intake = IntakeService(
        store=store,
        verify_sns=build_sns_verifier(settings),
        allowed_topics=frozenset(settings.intake.sns.allowed_topic_arns),
        eventbridge_secret=secret.get_secret_value() if secret else None,
        now=utc_now,
        on_stored=wake_grouper,
        on_subscription=lambda request: background.submit(confirm, request).add_done_callback(_log_failure),
    )
    # Its own alarm source, not the poller's: these lookups run on every replica, the poller on one.
    old_events = OldEventGate(
        CloudWatchAlarmSource(aws_client_factory(settings, "cloudwatch", rates=rates)),
        settings.intake.sns.max_event_age,
        utc_now,
        lambda verdict: metrics.old_events.labels(verdict).inc(),
    )
    window = timedelta(seconds=settings.intake.grouping_window_seconds)
    grouper = Grouper(store, settings.services, window, old_events)

    poller = AlarmPoller(
        # Its own app id in the User-Agent: CloudTrail (and the sandbox) tell the poller's calls from the rest.
        source=CloudWatchAlarmSource(aws_client_factory(settings, "cloudwatch", POLLER_APP_ID, rates=rates)),
        store=store,
        regions=settings.aws.regions,
        alarm_filter=AlarmFilter(tuple(settings.aws.alarm_name_prefixes), frozenset(settings.aws.alarm_states)),
        on_stored=wake_grouper,
    )
    leases = settings.leases
    leader = LeaderElector(
        SqlLeaseStore(engine, SystemClock()), holder_id(), timedelta(seconds=leases.ttl_seconds), leases.renew_seconds
    )
    investigation = None
    if settings.investigation.enabled:
        investigation = build_investigation(
            settings,
            store,
            engine,
            SystemClock(),
            partial(aws_client_factory, settings, rates=rates),
            wake_workers,
            time.sleep,
            on_outbox_failed=lambda target, operation: metrics.outbox_failed.labels(target, operation).inc(),
            tracer=tracing.get_tracer(TRACER_NAME),
            on_reasoned=LlmMetrics(metrics.registry).record,
        )
    return Components(
        investigation=investigation,
        settings=settings,
        store=store,
        intake=intake,
        grouper=grouper,
        poller=poller,
        leader=leader,
        metrics=metrics,
        wake_grouper=wake_grouper,
        background=background,
        engine_dispose=store.close,
        tracing=tracing,
    )
