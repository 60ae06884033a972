"""ReadRates (coordination.read_rates): the agent's share of each documented quota, waits and refusals."""

from __future__ import annotations

import pytest

from oncall_agent.coordination.read_rates import DOCUMENTED_QUOTAS, RateLimited, ReadRates


class Limiter:
    def __init__(self, wait: float) -> None:
        self.wait = wait
        self.asked: list[tuple[str, float, float]] = []

    def reserve(self, name: str, per_second: float, burst: float = 1.0) -> float:
        self.asked.append((name, per_second, burst))
        return self.wait


def rates(limiter: Limiter, slept: list[float], max_wait: float = 10) -> ReadRates:
    return ReadRates(limiter, DOCUMENTED_QUOTAS, 0.5, max_wait, slept.append)


def test_a_listed_api_waits_for_its_slot_at_the_agents_share_of_the_quota() -> None:
    limiter, slept = Limiter(0.25), []
    rates(limiter, slept).throttle("us-east-1", "cloudtrail.LookupEvents")
    assert limiter.asked == [("us-east-1:cloudtrail.LookupEvents", 1.0, 1.0)]  # half of 2 TPS
    assert slept == [0.25]
    rates(limiter, slept).throttle("us-east-1", "cloudwatch.GetMetricData")
    assert limiter.asked[-1] == ("us-east-1:cloudwatch.GetMetricData", 25.0, 25.0)  # a second's worth at once


def test_an_unlisted_api_is_not_limited() -> None:
    limiter, slept = Limiter(5), []
    rates(limiter, slept).throttle("us-east-1", "sns.ConfirmSubscription")
    assert limiter.asked == [] and slept == []


def test_a_wait_past_the_limit_is_refused_without_sleeping() -> None:
    limiter, slept = Limiter(30), []
    with pytest.raises(RateLimited, match=r"cloudtrail.LookupEvents in us-east-1: .* next 30.0 s"):
        rates(limiter, slept, max_wait=10).throttle("us-east-1", "cloudtrail.LookupEvents")
    assert slept == []


def test_the_share_must_be_a_fraction() -> None:
    with pytest.raises(ValueError, match="share"):
        ReadRates(Limiter(0), DOCUMENTED_QUOTAS, 1.5, 10, lambda s: None)
