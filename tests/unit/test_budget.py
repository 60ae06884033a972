"""The API-call meter: counts by API, refuses past its limit, and is local to the context that opened it."""

from __future__ import annotations

import threading

import pytest

from oncall_agent.domain.budget import CallBudgetExceeded, CallMeter, charge, metered


def test_calls_are_counted_by_api_and_refused_past_the_limit() -> None:
    meter = CallMeter("alarms", limit=2)
    meter.charge("cloudwatch.DescribeAlarms")
    meter.charge("cloudwatch.ListTagsForResource")
    with pytest.raises(CallBudgetExceeded) as refused:
        meter.charge("cloudwatch.ListTagsForResource")
    assert refused.value.source == "alarms" and refused.value.api == "cloudwatch.ListTagsForResource"
    assert meter.total == 2 and meter.refused == 1


def test_no_limit_never_refuses() -> None:
    meter = CallMeter("metrics")
    for _ in range(500):
        meter.charge("cloudwatch.GetMetricData")
    assert meter.total == 500 and meter.refused == 0


def test_charge_outside_a_meter_counts_nothing_and_never_refuses() -> None:
    charge("github")  # the poller and the outbox relay run outside any meter


def test_each_thread_charges_its_own_meter() -> None:
    meters = [CallMeter(f"source-{i}", limit=10) for i in range(4)]
    barrier = threading.Barrier(len(meters))

    def run(meter: CallMeter, calls: int) -> None:
        with metered(meter):
            barrier.wait()
            for _ in range(calls):
                charge("api")

    threads = [threading.Thread(target=run, args=(meter, i + 1)) for i, meter in enumerate(meters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [meter.total for meter in meters] == [1, 2, 3, 4]


def test_the_meter_ends_with_its_context() -> None:
    meter = CallMeter("logs", limit=0)
    with metered(meter), pytest.raises(CallBudgetExceeded):
        charge("logs.StartQuery")
    charge("logs.StartQuery")  # no longer metered
    assert meter.refused == 1
