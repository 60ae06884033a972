"""Teach moto's in-process CloudWatch backend percentile statistics (`p50`, `p90`, `p99.9`, ...).

moto 5.2.5 computes only Sum, Average, Minimum, Maximum and SampleCount: GetMetricData with `Stat: "p99"`
gets `None` for every period and answers HTTP 500 (STACK-NOTES). Latency alarms are percentile alarms, so the
sandbox must serve them while the production adapter keeps asking for exactly the alarm's statistic.

`install()` wraps `moto.cloudwatch.models.Statistics.get_statistics_for_type`, which GetMetricData calls once
per period with that period's datapoints. It therefore only helps a moto server running in this process
(`ThreadedMotoServer`, as in demo, tests and eval). The sandbox seeds percentile series as plain values with
PutMetricData, one value per period, and the percentile of one value is that value.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

_PERCENTILE = re.compile(r"^p(\d{1,3}(?:\.\d+)?)$")
_MARKER = "_oncall_agent_percentiles"
_lock = threading.Lock()


def percentile_of(stat: str) -> float | None:
    """The percentile a statistic names (`p99` -> 99.0, `p99.9` -> 99.9), or None when it names none."""
    match = _PERCENTILE.match(stat)
    if match is None:
        return None
    value = float(match[1])
    return value if 0.0 <= value <= 100.0 else None


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: always one of the observed values, as CloudWatch reports for raw samples."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def _with_percentiles(original: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    def get_statistics_for_type(self: Any, stat: str) -> Any:
        q = percentile_of(stat)
        if q is None:
            return original(self, stat)
        values = list(self.metric_single_values_list)
        if not values:
            # Only StatisticValues sets were put: no distribution to rank, so report their maxima (an upper
            # bound) rather than answering 500.
            values = [datum.max for datum in self.metric_aggregated_list]
        return percentile(values, q) if values else None

    setattr(get_statistics_for_type, _MARKER, True)
    return get_statistics_for_type


def install() -> bool:
    """Extend moto's CloudWatch statistics with percentiles; idempotent. False when moto is not installed."""
    try:
        from moto.cloudwatch.models import Statistics
    except ImportError:  # the sandbox extra is not installed: nothing in-process to extend
        return False
    with _lock:
        current = Statistics.get_statistics_for_type
        if not getattr(current, _MARKER, False):
            setattr(Statistics, "get_statistics_for_type", _with_percentiles(current))  # noqa: B010 - a patch
    return True
