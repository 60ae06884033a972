"""Change points: steps and ramps are found where they start, noise and recovered blips are not shifts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from oncall_agent.investigation.correlate.changepoint import detect_shift, robust_level

T0 = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


def series(values: list[float]) -> list[tuple[datetime, float]]:
    return [(T0 + timedelta(minutes=index), value) for index, value in enumerate(values)]


def noisy(level: float, noise: float, count: int, seed: str) -> list[float]:
    rng = random.Random(seed)
    return [level + rng.uniform(-noise, noise) for _ in range(count)]


def test_a_step_is_found_at_its_first_point_with_levels_and_magnitude() -> None:
    values = noisy(10, 1, 120, "a") + noisy(60, 1, 20, "b")
    shift = detect_shift(series(values))
    assert shift is not None
    assert shift.onset == T0 + timedelta(minutes=120)
    assert shift.before == pytest.approx(10, abs=0.5)
    assert shift.after == pytest.approx(60, abs=1)
    assert shift.magnitude == pytest.approx(50, abs=1.5)
    assert shift.direction == "up"
    assert shift.relative == pytest.approx(5, abs=0.3)


def test_a_ramp_is_dated_where_it_starts_not_where_it_crosses_a_threshold() -> None:
    ramp = [1 + 4 * step for step in range(1, 11)]  # 5, 9, ... 41 over ten minutes
    values = noisy(1, 1, 170, "c") + [v + noise for v, noise in zip(ramp, noisy(0, 1, 10, "d"), strict=True)]
    shift = detect_shift(series(values))
    assert shift is not None
    assert T0 + timedelta(minutes=169) <= shift.onset <= T0 + timedelta(minutes=171)


def test_a_drop_is_a_shift_down() -> None:
    values = noisy(600, 40, 150, "e") + noisy(150, 40, 10, "f")
    shift = detect_shift(series(values))
    assert shift is not None and shift.direction == "down"
    assert shift.onset == T0 + timedelta(minutes=150)
    assert shift.magnitude < -400


@pytest.mark.parametrize("seed", ["g", "h", "i", "j"])
def test_uniform_noise_alone_is_not_a_shift(seed: str) -> None:
    assert detect_shift(series(noisy(5, 5, 180, seed))) is None


def test_a_single_spike_is_not_a_shift() -> None:
    values = noisy(20, 2, 180, "k")
    values[90] = 500
    assert detect_shift(series(values)) is None


def test_a_shift_that_already_recovered_is_not_reported_as_current() -> None:
    values = noisy(37, 4, 170, "l") + noisy(44, 0.5, 4, "m") + noisy(37, 4, 6, "n")
    assert detect_shift(series(values)) is None


def test_too_few_points_give_nothing() -> None:
    assert detect_shift(series([1, 1, 1, 50, 50])) is None
    assert detect_shift([]) is None


def test_a_flat_zero_baseline_still_has_a_finite_scale() -> None:
    centre, sigma = robust_level([0.0] * 50)
    assert centre == 0 and sigma > 0
    shift = detect_shift(series([0.0] * 60 + [12.0] * 5))
    assert shift is not None and shift.onset == T0 + timedelta(minutes=60)
    assert shift.relative is None  # a zero baseline has no relative change


def test_points_out_of_order_are_sorted_first() -> None:
    points = series(noisy(10, 1, 100, "o") + noisy(80, 1, 8, "p"))
    shift = detect_shift(list(reversed(points)))
    assert shift is not None and shift.onset == T0 + timedelta(minutes=100)


def test_long_series_stay_bounded_and_still_find_the_shift() -> None:
    values = noisy(100, 10, 9000, "q") + noisy(300, 10, 30, "r")
    shift = detect_shift(series(values))
    assert shift is not None
    assert abs((shift.onset - (T0 + timedelta(minutes=9000))).total_seconds()) <= 120


def test_two_valued_counts_do_not_drag_the_onset_back() -> None:
    shift = detect_shift(series([1.0, 2.0] * 60 + [40.0] * 8))
    assert shift is not None and shift.onset == T0 + timedelta(minutes=120)


def test_sparse_counts_mostly_zero_still_date_the_shift() -> None:
    values = [1.0 if index % 7 == 0 else 0.0 for index in range(150)] + [30.0] * 6
    shift = detect_shift(series(values))
    assert shift is not None and shift.onset == T0 + timedelta(minutes=150)
    assert shift.before == 0
