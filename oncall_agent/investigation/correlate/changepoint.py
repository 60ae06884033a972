"""Change points in a metric series: where did the level shift (or a ramp start), from what to what.

Two passes, both robust to the uniform or spiky noise real series carry:

1. Split search: for each candidate split, compare the median after it with the median and MAD-based scale
   before it; the split with the largest standardised difference says whether there is a shift at all and in
   which direction (a few outliers never move a median, so a single spike is not a shift).
2. CUSUM for the start: a one-sided CUSUM against the baseline level (slack half a robust sigma) climbs from
   the first point that departs from the baseline; the onset is the point after its last zero before its peak,
   moved past points the baseline itself reaches. This finds the start of a ramp, not the moment the ramp
   crossed some threshold.

No scipy: the series are at most a few thousand points and the split search is strided to stay bounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from statistics import median, pstdev, quantiles

MAD_TO_SIGMA = 1.4826
"""MAD times this estimates the standard deviation of normal noise."""
IQR_TO_SIGMA = 0.7413
"""The interquartile range times this estimates the standard deviation of normal noise."""
MAX_SPLITS = 240
"""At most this many split positions are tried (strided over long series) to bound the cost."""


@dataclass(frozen=True)
class Shift:
    onset: datetime
    before: float
    after: float
    magnitude: float  # after - before
    score: float  # |after - before| in robust sigmas of the baseline

    @property
    def direction(self) -> str:
        return "up" if self.magnitude >= 0 else "down"

    @property
    def relative(self) -> float | None:
        """The change as a fraction of the baseline level (None for a zero baseline)."""
        return None if self.before == 0 else self.magnitude / abs(self.before)


def robust_level(values: list[float]) -> tuple[float, float]:
    """(median, robust sigma). Counts are often discrete (1, 2, 1, 2 or mostly 0): their MAD can be 0, so the
    interquartile range and, failing that, the standard deviation stand in; a floor keeps a flat baseline
    from making every blip infinitely significant."""
    centre = median(values)
    sigma = MAD_TO_SIGMA * median(abs(value - centre) for value in values)
    if len(values) >= 2:
        first, _, third = quantiles(values, n=4)
        sigma = max(sigma, IQR_TO_SIGMA * (third - first))
        sigma = sigma or pstdev(values)
    return centre, max(sigma, 1e-3 * abs(centre), 1e-6)


def trimmed_mean(values: list[float], share: float = 0.1) -> float:
    """The mean without the lowest and highest `share` of values: the CUSUM reference. A median would drift
    on skewed or two-valued counts (1, 2, 1, 2 has median 1 or 2 depending on the split, mean 1.5)."""
    ordered = sorted(values)
    cut = int(len(ordered) * share)
    kept = ordered[cut : len(ordered) - cut] or ordered
    return sum(kept) / len(kept)


def _best_split(values: list[float], min_before: int, min_after: int) -> tuple[int, float]:
    """(split index, score) maximising |median(after) - median(before)| / sigma(before); earliest on ties."""
    last = len(values) - min_after
    stride = max(1, math.ceil((last - min_before + 1) / MAX_SPLITS))
    best, best_score = min_before, -1.0
    for split in range(min_before, last + 1, stride):
        centre, sigma = robust_level(values[:split])
        score = abs(median(values[split:]) - centre) / sigma
        if score > best_score:
            best, best_score = split, score
    return best, best_score


def _cusum_start(values: list[float], centre: float, sigma: float, sign: int, search_from: int) -> int:
    """Index where the excursion that peaks at or after `search_from` started."""
    slack = 0.5 * sigma
    total, last_zero, sums = 0.0, -1, []
    zeros: list[int] = []
    for index, value in enumerate(values):
        total = max(0.0, total + sign * (value - centre) - slack)
        sums.append(total)
        if total == 0.0:
            last_zero = index
        zeros.append(last_zero)
    peak = max(range(search_from, len(values)), key=lambda index: (sums[index], -index))
    return zeros[peak] + 1


def _first_out(values: list[float], baseline: list[float], start: int, sign: int) -> int:
    """Noise that happened to lean the shifted way just before the shift lets the CUSUM start early: the shift
    starts at the first point beyond what the baseline itself reaches (its 2.5th/97.5th percentile), which
    the first minutes of a ramp already are."""
    cuts = quantiles(baseline, n=40)
    bound = cuts[-1] if sign > 0 else cuts[0]
    while start < len(values) - 1 and sign * (values[start] - bound) <= 0:
        start += 1
    return start


def detect_shift(
    points: list[tuple[datetime, float]],
    *,
    min_before: int = 10,
    min_after: int = 3,
    threshold: float = 5.0,
) -> Shift | None:
    """The most significant level shift in `points` (time order is restored), or None when the series is too
    short or only noise. `threshold` is in robust sigmas; the latest `min_after` points must all sit beyond
    three sigmas on the shifted side, so a shift that already recovered is not reported as current."""
    ordered = sorted(points, key=lambda point: point[0])
    values = [float(value) for _, value in ordered]
    min_before, min_after = max(min_before, 2), max(min_after, 1)
    if len(values) < min_before + min_after:
        return None
    split, score = _best_split(values, min_before, min_after)
    centre, sigma = robust_level(values[:split])
    sign = 1 if median(values[split:]) >= centre else -1
    tail = values[-min_after:]
    if score < threshold or not all(sign * (value - centre) > 3 * sigma for value in tail):
        return None
    start = _cusum_start(values, trimmed_mean(values[:split]), sigma, sign, split)
    start = _first_out(values, values[:start] if start >= min_before else values[:split], start, sign)
    # A ramp that began before the chosen split drags the baseline sigma a little; re-estimate on clean data.
    before_centre, _ = robust_level(values[:start]) if start >= min_before else (centre, sigma)
    after = median(tail)
    return Shift(
        onset=ordered[min(start, len(ordered) - 1)][0],
        before=round(before_centre, 6),
        after=round(after, 6),
        magnitude=round(after - before_centre, 6),
        score=round(min(score, 1e6), 2),
    )


def rise_minutes(points: list[tuple[datetime, float]], shift: Shift, share: float = 0.9) -> float:
    """How long the shift took to reach `share` of its size, in minutes from its onset: about 0 for a step (an
    expiry, a cut-off), tens of minutes or hours for a ramp (a leak, a filling disk, growing load). Two points
    in a row must reach the level, so one noisy point does not end a ramp early."""
    target = shift.before + share * shift.magnitude
    sign = 1 if shift.magnitude >= 0 else -1
    after = [(at, value) for at, value in sorted(points, key=lambda point: point[0]) if at >= shift.onset]
    for index, (at, value) in enumerate(after):
        following = after[index + 1][1] if index + 1 < len(after) else value
        if sign * (value - target) >= 0 and sign * (following - target) >= 0:
            return round((at - shift.onset).total_seconds() / 60, 2)
    return round((after[-1][0] - shift.onset).total_seconds() / 60, 2) if after else 0.0
