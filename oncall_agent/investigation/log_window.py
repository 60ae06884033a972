"""Read a service's log groups around the incident as two bounded samples: the incident window (from
`INCIDENT_WINDOW` before the onset to now) and the baseline before it, half the line budget each. The newest lines
alone would leave a busy service without a baseline, and then nothing could be called new. The incident window
is read first: when the scan budget runs out, the baseline is what is lost. What was cut is said, for `cut` items.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from oncall_agent.domain.budget import ScanBudgetExceeded
from oncall_agent.domain.records import LogSample
from oncall_agent.investigation.correlate.context import CorrelationContext
from oncall_agent.investigation.correlate.signals import INCIDENT_WINDOW
from oncall_agent.ports import LogSearch


@dataclass(frozen=True)
class Window:
    sample: LogSample
    split: datetime  # where the baseline ends and the incident window begins
    cuts: list[str]  # what the budgets left unread, in words


def iso_minute(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def read_window(
    logs: LogSearch, region: str, groups: list[str], ctx: CorrelationContext, lines: int, scan_budget: float | None
) -> Window:
    """The two samples of `groups` (module docstring), at most `lines` lines and `scan_budget` bytes in all."""
    split, half = ctx.onset - INCIDENT_WINDOW, max(1, lines // 2)
    after = logs.sample(region, groups, split, ctx.now, half, scan_budget)
    left = None if scan_budget is None else scan_budget - after.bytes_scanned
    cuts = [f"only the newest {half} lines since {iso_minute(split)} were mined"] if after.truncated else []
    before = LogSample(records=[], truncated=True)  # no baseline read: nothing can be called new
    if left is not None and left <= 0:
        cuts.append(f"baseline not read: the incident window alone scanned {after.bytes_scanned:,.0f} bytes")
    else:
        try:
            before = logs.sample(region, groups, ctx.window_start, split, half, left)
        except ScanBudgetExceeded as exc:
            cuts.append(f"baseline not read: {exc}")
        if before.truncated and before.records:
            cuts.append(f"only the newest {half} baseline lines before {iso_minute(split)} were mined")
    sample = LogSample(
        records=[*before.records, *after.records],
        truncated=before.truncated or after.truncated,
        bytes_scanned=before.bytes_scanned + after.bytes_scanned,
    )
    return Window(sample, split, cuts)
