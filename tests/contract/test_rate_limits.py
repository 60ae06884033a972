"""Shared read rates (store.rate_limits.SqlRateLimiter) on SQLite and PostgreSQL, and the boto3 hook that draws
on them (adapters.aws.clients `throttle`) against moto.

What must hold with several replicas on one database: every call gets its own slot (no two replicas share one),
a bucket allows its burst at once and then one call per interval, and an idle bucket fills up again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from oncall_agent.adapters.aws.clients import make_client
from oncall_agent.coordination.read_rates import RateLimited
from oncall_agent.store.engine import make_engine
from oncall_agent.store.migrate import upgrade
from oncall_agent.store.rate_limits import SqlRateLimiter

NOW = 1_800_000_000.0


class Seconds:
    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> float:
        return self.at


@pytest.fixture()
def engines(store_url: str) -> Iterator[tuple[sa.Engine, sa.Engine]]:
    upgrade(store_url)
    pair = (make_engine(store_url), make_engine(store_url))  # two replicas, each with its own pool
    yield pair
    for engine in pair:
        engine.dispose()


def test_a_burst_goes_at_once_then_one_call_per_interval(engines: tuple[sa.Engine, sa.Engine]) -> None:
    limiter = SqlRateLimiter(engines[0], Seconds())
    waits = [limiter.reserve("us-east-1:cloudtrail.LookupEvents", 10, burst=3) for _ in range(6)]
    assert waits == pytest.approx([0, 0, 0, 0.1, 0.2, 0.3], abs=1e-5)  # epoch seconds in a double: ~1 µs


def test_an_idle_bucket_fills_up_again(engines: tuple[sa.Engine, sa.Engine]) -> None:
    clock = Seconds()
    limiter = SqlRateLimiter(engines[0], clock)
    for _ in range(5):
        limiter.reserve("b", 2, burst=2)
    clock.at = NOW + 60
    assert [limiter.reserve("b", 2, burst=2) for _ in range(3)] == pytest.approx([0, 0, 0.5], abs=1e-5)


def test_replicas_racing_for_one_bucket_each_get_their_own_slot(engines: tuple[sa.Engine, sa.Engine]) -> None:
    clock = Seconds()  # frozen: each reservation's wait is exactly its slot's distance from now
    replicas = [SqlRateLimiter(engine, clock) for engine in engines]
    waits: list[float] = []
    lock = threading.Lock()

    def caller(limiter: SqlRateLimiter) -> None:
        for _ in range(10):
            wait = limiter.reserve("us-east-1:cloudwatch.DescribeAlarms", 5, burst=2)
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=caller, args=(replicas[n % 2],)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = [0.0, 0.0] + [0.2 * k for k in range(1, 39)]
    assert sorted(waits) == pytest.approx(expected, abs=1e-5)


def test_other_buckets_do_not_share_a_rate(engines: tuple[sa.Engine, sa.Engine]) -> None:
    limiter = SqlRateLimiter(engines[0], Seconds())
    assert limiter.reserve("us-east-1:x", 1) == 0
    assert limiter.reserve("eu-west-1:x", 1) == 0
    assert limiter.reserve("us-east-1:x", 1) == pytest.approx(1.0, abs=1e-5)


def test_every_http_attempt_asks_the_throttle_and_a_refusal_stops_the_call(moto_endpoint: str, aws_env: None) -> None:
    asked: list[tuple[str, str]] = []

    def throttle(region: str, api: str) -> None:
        asked.append((region, api))
        if len(asked) > 2:
            raise RateLimited(f"{api}: taken")

    cloudwatch = make_client("cloudwatch", "eu-west-1", moto_endpoint, max_attempts=1, throttle=throttle)
    cloudwatch.describe_alarms()
    cloudwatch.describe_alarms()
    with pytest.raises(RateLimited):
        cloudwatch.describe_alarms()
    assert asked == [("eu-west-1", "cloudwatch.DescribeAlarms")] * 3
