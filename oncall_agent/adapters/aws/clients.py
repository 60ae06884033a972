"""boto3 client factory: the one place AWS clients are built, with bounded retries and timeouts.

`endpoint_url` points every client at the local sandbox (moto server); static keys are only for that sandbox,
in AWS the default credential chain (task role) is used.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

from oncall_agent.domain.budget import charge

DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_READ_TIMEOUT = 10.0
_LOADER = botocore.loaders.create_loader()


def client_config(
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    app_id: str | None = None,
) -> Config:
    """Retries in botocore's `standard` mode (throttling and transient errors, with backoff) and timeouts.

    `max_attempts` counts the first call: 1 means no retry (what tests against moto use). It is passed as
    botocore's `total_max_attempts`: botocore's own `retries={"max_attempts": n}` counts retries only (n + 1
    calls in all). `app_id` goes into the User-Agent (`app/<id>`), which CloudTrail records: it tells which part
    of the agent made a call (the poller's share of the DescribeAlarms quota, for example).
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
    return Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        user_agent_appid=app_id,
    )


def make_client(
    service: str,
    region: str,
    endpoint_url: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    *,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    session_token: str | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    app_id: str | None = None,
    throttle: Callable[[str, str], None] | None = None,
) -> Any:
    """A boto3 client for `service` in `region`; `throttle(region, api)`, when given, runs before every HTTP
    attempt (the replicas' shared read rates) and may wait or refuse.

    Each call uses its own boto3 Session: the default session is not thread-safe to create clients from, and
    clients are built from several threads (poller, workers). Clients themselves are thread-safe: callers
    should build one per (service, region) and keep it. The sessions share one loader, so the service models
    are read from disk once per process, not once per client (a fresh loader scans botocore's data folder).
    """
    core = botocore.session.Session()
    core.register_component("data_loader", _LOADER)
    session = boto3.session.Session(
        botocore_session=core,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        aws_session_token=session_token,
        region_name=region,
    )
    client = session.client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        config=client_config(
            max_attempts=max_attempts, connect_timeout=connect_timeout, read_timeout=read_timeout, app_id=app_id
        ),
    )
    # `before-send` fires once per HTTP attempt (retries included), before anything goes on the wire.
    client.meta.events.register("before-send", charge_attempt)
    if throttle is not None:
        client.meta.events.register("before-send", partial(_throttle_attempt, throttle, region))
    return client


def _throttle_attempt(throttle: Callable[[str, str], None], region: str, event_name: str, **_: Any) -> None:
    throttle(region, event_name.removeprefix("before-send."))


def charge_attempt(event_name: str, **_: Any) -> None:
    """botocore `before-send` handler: charge the attempt to the current source's API-call budget (raising
    CallBudgetExceeded stops the request before it is sent)."""
    charge(event_name.removeprefix("before-send."))
