"""One period's value of a statistic over the recorded values in it (`moto_series.aggregate`)."""

from __future__ import annotations

import pytest

from oncall_agent.sandbox.moto_series import aggregate

VALUES = [4.0, 1.0, 3.0, 2.0]


@pytest.mark.parametrize(
    ("stat", "expected"),
    [
        ("Maximum", 4.0),
        ("Minimum", 1.0),
        ("Sum", 10.0),
        ("Average", 2.5),
        ("SampleCount", 4.0),
        ("p50", 2.0),
        ("p99", 4.0),
    ],
)
def test_each_statistic_of_one_periods_values(stat: str, expected: float) -> None:
    assert aggregate(stat, VALUES) == expected


def test_one_recorded_value_is_every_statistic_of_its_period() -> None:
    assert {aggregate(stat, [7.5]) for stat in ("Maximum", "Average", "p90", "Sum")} == {7.5}
