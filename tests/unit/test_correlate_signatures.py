"""drain3 log signatures: masking, baseline vs incident counts, rates, samples, levels, the line cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oncall_agent.domain.records import LogRecord
from oncall_agent.investigation.correlate.signatures import SAMPLE_CHARS, Level, guess_level, mine

T0 = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
SPLIT = T0 + timedelta(minutes=60)
END = T0 + timedelta(minutes=90)


def line(minute: float, message: str, group: str = "/ecs/app") -> LogRecord:
    return LogRecord(at=T0 + timedelta(minutes=minute), group=group, message=message)


def by_template(signatures: list, needle: str):  # type: ignore[no-untyped-def]
    found = [s for s in signatures if needle in s.template]
    assert len(found) == 1, [s.template for s in signatures]
    return found[0]


def test_values_are_masked_so_one_message_is_one_template() -> None:
    records = [
        line(1, "INFO GET /orders/3f2a9c81be04 200 35ms from 10.1.2.3:5432 req=0b7e4c1d-9a2f-4e6b-8c3d-5a7f9e1b2c4d"),
        line(2, "INFO GET /orders/77aa01bc99de 200 1204ms from 10.9.8.7:5432 req=1c7e4c1d-9a2f-4e6b-8c3d-5a7f9e1b2c4d"),
        line(3, "INFO GET /orders/0a1b2c3d4e5f 200 2m3s from 192.168.0.1:80 req=2d7e4c1d-9a2f-4e6b-8c3d-5a7f9e1b2c4d"),
    ]
    [signature] = mine(records, SPLIT, T0, END)
    assert signature.template == "INFO GET /orders/<HEX> <NUM> <DURATION> from <IP> req=<UUID>"
    assert signature.count_before == 3


def test_counts_rates_and_novelty_come_from_the_split() -> None:
    records = [line(minute, f"WARN pool wait {minute}ms") for minute in range(0, 60, 2)]
    records += [line(minute, f"WARN pool wait {minute}ms") for minute in range(60, 90, 2)]
    records += [
        line(minute, f"ERROR NullPointerException at Pricing.apply(Pricing.java:{minute})") for minute in range(70, 90)
    ]
    signatures = mine(records, SPLIT, T0, END)
    chronic = by_template(signatures, "pool wait")
    new = by_template(signatures, "NullPointerException")
    assert (chronic.count_before, chronic.count_after, chronic.new) == (30, 15, False)
    assert chronic.rate_before == pytest.approx(0.5) and chronic.rate_after == pytest.approx(0.5)
    assert chronic.rate_change(60) == pytest.approx(1.0)
    assert (new.count_before, new.count_after, new.new) == (0, 20, True)
    assert new.first_seen == T0 + timedelta(minutes=70) == new.first_after
    assert new.rate_change(60) == pytest.approx((20 / 30) / (1 / 60), rel=1e-3)
    assert signatures[0] is new  # new templates first


def test_samples_are_at_most_three_and_truncated() -> None:
    records = [line(61 + index, f"ERROR boom {index} " + "x" * 500) for index in range(10)]
    [signature] = mine(records, SPLIT, T0, END)
    assert len(signature.samples) == 3
    assert all(len(sample) == SAMPLE_CHARS for sample in signature.samples)


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("ERROR [main] c.a.Foo - broke", Level.ERROR),
        ("2026-03-14 12:00:00 WARN pool low", Level.WARN),
        ("INFO  c.a.Foo - POST /orders failed validation", Level.INFO),
        ("Task timed out after 1.50 seconds", Level.ERROR),
        ("LOG:  checkpoint complete", Level.INFO),
        ("FATAL:  password authentication failed", Level.ERROR),
        ("GET /health 200", Level.INFO),
    ],
)
def test_the_level_is_what_the_line_says_or_a_guess_from_failure_words(text: str, level: Level) -> None:
    assert guess_level(text) is level


def test_errors_and_successes_of_the_same_call_stay_apart() -> None:
    records = [line(m, f"INFO POST /api/checkout 200 {m + 20}ms order=ab12cd34ef{m:02d}") for m in range(0, 90)]
    records += [line(m, f"ERROR POST /api/checkout 500 {m + 20}ms order=ab12cd34ef{m:02d}") for m in range(70, 90)]
    signatures = mine(records, SPLIT, T0, END)
    assert len(signatures) == 2
    assert by_template(signatures, "ERROR").new


def test_the_line_cap_keeps_both_windows_and_scales_counts_back() -> None:
    records = [line(index * 0.01, f"INFO tick {index}") for index in range(6000)]  # all in the baseline
    records += [line(60 + index * 0.01, f"INFO tick {index}") for index in range(3000)]
    records += [line(80, "ERROR disk full")]
    signatures = mine(records, SPLIT, T0, END, max_lines=1000)
    tick = by_template(signatures, "tick")
    assert tick.count_before == pytest.approx(6000, rel=0.01)
    assert tick.count_after == pytest.approx(3000 + 1, rel=0.01)
    assert by_template(signatures, "disk full").count_after > 0


def test_mining_is_deterministic_and_independent_of_input_order() -> None:
    records = [line(m, f"WARN slow {m}ms") for m in range(90)] + [line(75, "ERROR down"), line(76, "ERROR down")]
    first = mine(records, SPLIT, T0, END)
    second = mine(list(reversed(records)), SPLIT, T0, END)
    assert [(s.template, s.count_before, s.count_after, s.samples) for s in first] == [
        (s.template, s.count_before, s.count_after, s.samples) for s in second
    ]


def test_nothing_in_nothing_out() -> None:
    assert mine([], SPLIT) == []
