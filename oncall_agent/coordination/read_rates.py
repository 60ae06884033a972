"""How fast the agent's replicas together call each AWS API: the documented quotas (DESIGN.md §9) times the share
the agent may take, drawn from buckets every replica shares through the store (store.rate_limits).

A call waits for its slot; a wait longer than `max_wait` seconds is refused at once (`RateLimited`): an
investigation source reports it as a gap rather than stall past its own time budget. APIs not listed are not
limited here (botocore's retries still back off on throttling).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from oncall_agent.domain.errors import SourceError
from oncall_agent.ports import RateLimiter

# Calls per second per account and region, as AWS documents them; keys are botocore's event names
# (`<service id hyphenized>.<operation>`).
DOCUMENTED_QUOTAS: dict[str, float] = {
    "cloudwatch.DescribeAlarms": 9,
    "cloudwatch.DescribeAlarmHistory": 3,
    "cloudwatch.GetMetricData": 50,
    "cloudwatch.ListMetrics": 25,
    "cloudwatch-logs.FilterLogEvents": 5,
    "cloudwatch-logs.StartQuery": 6,
    "cloudtrail.LookupEvents": 2,
    "ecs.DescribeServices": 20,
    "ecs.DescribeTaskDefinition": 20,
    "ecs.ListServices": 20,
}


class RateLimited(SourceError):
    """The shared rate of an AWS API is taken for longer than a caller may wait; the call was not made."""


class ReadRates:
    def __init__(
        self,
        limiter: RateLimiter,
        quotas: Mapping[str, float],
        share: float,
        max_wait: float,
        sleep: Callable[[float], None],
    ) -> None:
        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1], got {share}")
        self._limiter = limiter
        self._rates = {api: quota * share for api, quota in quotas.items() if quota > 0}
        self._max_wait = max_wait
        self._sleep = sleep

    def rate_of(self, api: str) -> float | None:
        return self._rates.get(api)

    def throttle(self, region: str, api: str) -> None:
        """Wait for a slot of `api` in `region` (botocore event name `service.Operation`), or raise RateLimited."""
        rate = self._rates.get(api)
        if rate is None:
            return
        # A second's worth at once: quotas are per second, and a burst of one would serialise parallel sources.
        wait = self._limiter.reserve(f"{region}:{api}", rate, burst=max(1.0, rate))
        if wait > self._max_wait:
            raise RateLimited(f"{api} in {region}: the shared rate ({rate:g}/s) is taken for the next {wait:.1f} s")
        if wait > 0:
            self._sleep(wait)
