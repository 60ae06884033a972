"""Format 2 of SCENARIOS.md: the loader takes `resources`, `events`, `points`, any account and `{at:…}` times,
and rejects a bad field with a message naming the file, the field and the problem."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from oncall_agent.domain.errors import ScenarioError
from oncall_agent.sandbox.generate import log_lines, metric_points
from oncall_agent.sandbox.scenario import (
    EcsStoppedTask,
    HealthEvent,
    PointsFrom,
    RdsEvent,
    load_scenario,
    parse_scenario,
)
from oncall_agent.sandbox.scenario_types import substitute_times

EXAMPLE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "scenario_format2_example.yaml"
NOW = datetime(2026, 12, 6, 12, 0, 30, tzinfo=UTC)


def example() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE.read_text())
    assert isinstance(data, dict)
    return data


def test_the_merged_spec_example_loads_every_format2_field() -> None:
    scenario = load_scenario(EXAMPLE)
    assert scenario.account == "210987654321"
    orders = scenario.service("orders-api")
    assert orders is not None and orders.ecs is not None
    assert orders.ecs.target_groups == ["targetgroup/orders-api/9b8a7c"]
    assert [(r.type, r.id) for r in orders.resources] == [("AWS::RDS::DBInstance", "orders-db")]
    assert [r.type for r in scenario.resources][:2] == [
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "AWS::WAFv2::WebACL",
    ]
    assert scenario.resources[3].targets == ["orders-db"]
    assert [type(e) for e in scenario.events][0:2] == [RdsEvent, HealthEvent]
    stopped = scenario.events[3]
    assert isinstance(stopped, EcsStoppedTask) and stopped.exit_code == 137
    recorded = scenario.metrics[1].points
    assert isinstance(recorded, PointsFrom) and recorded.start == timedelta(minutes=-15)


def test_points_are_seeded_one_per_period_from_start_and_nulls_are_missing() -> None:
    data = example()
    data["metrics"][1]["points"] = {"start": "-3m", "values": [1, None, 3, 4]}
    series = parse_scenario(data, "x.yaml").metrics[1]
    points = metric_points(series, NOW, "seed")
    assert [(at.strftime("%H:%M:%S"), value) for at, value in points] == [
        ("11:57:00", 1.0),
        ("11:59:00", 3.0),
        ("12:00:00", 4.0),
    ]


def test_points_as_time_value_pairs() -> None:
    data = example()
    data["metrics"][1]["points"] = [["-10m", 5], ["-2m", None], ["0m", 7]]
    series = parse_scenario(data, "x.yaml").metrics[1]
    assert [value for _, value in metric_points(series, NOW, "seed")] == [5.0, 7.0]


def test_times_inside_text_are_replaced_at_seeding() -> None:
    data = example()
    data["logs"][0]["raw"] = [{"at": "-11m", "message": "ERROR expired at {at:-11m} ({id})"}]
    scenario = parse_scenario(data, "x.yaml")
    lines = [text for _, text in log_lines(scenario.logs[0], NOW, "s") if text.startswith("ERROR expired")]
    assert len(lines) == 1 and lines[0].startswith("ERROR expired at 2026-12-06T11:49:30Z (")
    assert substitute_times("from {at:-1h} to {at:+10m}", NOW) == "from 2026-12-06T11:00:30Z to 2026-12-06T12:10:30Z"


def test_truth_also_lists_a_second_category() -> None:
    data = example()
    data["truth"]["also"] = ["config_change"]
    assert parse_scenario(data, "x.yaml").truth.also == ["config_change"]


def test_a_format1_file_stays_format1() -> None:
    scenario = load_scenario(EXAMPLE.with_name("scenario_spec_example.yaml"))
    assert scenario.resources == [] and scenario.events == [] and scenario.metrics[0].points is None


Mutation = Callable[[dict[str, Any]], object]
BAD: list[tuple[str, Mutation, str, str]] = [
    ("points-and-baseline", lambda d: d["metrics"][1].update(baseline=3), "metrics[1]", "'points' excludes baseline"),
    ("no-kind", lambda d: d["metrics"][0].pop("baseline"), "metrics[0]", "needs 'baseline'"),
    ("points-shape", lambda d: d["metrics"][1].update(points=5), "metrics[1].points", "list of [time, value]"),
    (
        "points-value",
        lambda d: d["metrics"][1]["points"].update(values=[1, "x"]),
        "metrics[1].points.values[1]",
        "number",
    ),
    ("points-future", lambda d: d["metrics"][1]["points"].update(start="-1m"), "metrics[1]", "at or before 0m"),
    ("points-order", lambda d: d["metrics"][1].update(points=[["-1m", 1], ["-2m", 2]]), "metrics[1]", "increase"),
    ("account", lambda d: d.update(account="12345"), "account", "pattern"),
    (
        "rds-category",
        lambda d: d["events"][0].update(categories=["lowstorage"]),
        "events[0].categories",
        "'lowstorage'",
    ),
    ("rds-source-type", lambda d: d["events"][0].update(source_type="instance"), "events[0].source_type", "'instance'"),
    ("event-source", lambda d: d["events"][1].update(source="cloudwatch"), "events[1].source", "'cloudwatch'"),
    ("health-status", lambda d: d["events"][1].update(status="resolved"), "events[1].status", "'resolved'"),
    ("health-kind", lambda d: (d["events"][1].pop("service"), d["events"][1].pop("type")), "events[1]", "'service'"),
    ("event-field", lambda d: d["events"][3].update(message="x"), "events[3].message", "unknown field"),
    ("event-time", lambda d: d["events"][2].update(message="at {at:11m}"), "events[2].message", "needs a sign"),
    ("template-time", lambda d: d["logs"][0]["raw"][0].update(message="{at:-1y}"), "logs[0].raw[0].message", "-1y"),
    (
        "ticket-time",
        lambda d: d["tickets"][0].update(short_description="{at:x}"),
        "tickets[0].short_description",
        "'x'",
    ),
    ("lb-id", lambda d: d["resources"][0].update(id="prod-core"), "resources[0]", "app/NAME/HASH"),
    ("link-type", lambda d: d["resources"][2].update(protects=["x"]), "resources[2]", "'protects' applies only"),
    ("engine-type", lambda d: d["resources"][4].update(engine="redis"), "resources[4]", "'engine' applies only"),
    (
        "protects-undeclared",
        lambda d: d["resources"][1].update(protects=["app/x/1"]),
        "resources[1].protects[0]",
        "not declared",
    ),
    (
        "proxy-target",
        lambda d: d["resources"][3].update(targets=["orders-events"]),
        "resources[3].targets[0]",
        "DBInstance",
    ),
    ("resource-field", lambda d: d["resources"][4].update(arn="x"), "resources[4].arn", "allowed: type, id"),
    ("resource-type", lambda d: d["resources"][4].update(type="SQS::Queue"), "resources[4].type", "pattern"),
    ("duplicate-resource", lambda d: d["resources"].append(dict(d["resources"][4])), "resources[5].id", "duplicate"),
    (
        "ecs-tg",
        lambda d: d["services"][1]["ecs"].update(target_groups=["orders"]),
        "services[1].ecs.target_groups[0]",
        "targetgroup/NAME/HASH",
    ),
    ("also-repeats", lambda d: d["truth"].update(also=["deploy"]), "truth.also", "repeats"),
    ("also-unknown", lambda d: d["truth"].update(also=["unknown"]), "truth.also", "'unknown'"),
    ("also-category", lambda d: d["truth"].update(also=["capacity"]), "truth.also[0]", "'capacity'"),
    ("series-stat", lambda d: d["metrics"].append(copy.deepcopy(d["metrics"][1])), "metrics[2].metric", "stat"),
]


@pytest.mark.parametrize(("mutate", "field", "problem"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_format2_field_names_file_field_and_problem(
    tmp_path: Path, mutate: Mutation, field: str, problem: str
) -> None:
    data = example()
    mutate(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    lines = str(caught.value).splitlines()
    assert any(line.startswith(f"{path}: {field}: ") and problem in line for line in lines), lines


def test_p50_and_p99_of_one_metric_are_two_series() -> None:
    data = example()
    second = copy.deepcopy(data["metrics"][1])
    second["metric"]["stat"] = "p99"
    data["metrics"].append(second)
    assert len(parse_scenario(data, "x.yaml").metrics) == 3


def test_health_event_defaults_follow_what_health_reports() -> None:
    data = example()
    data["events"] = [
        {"at": "-2h", "end": "-1h", "source": "health", "service": "RDS", "message": "m"},
        {"at": "+1d", "source": "health", "service": "EC2", "category": "scheduledChange", "message": "m"},
        {"at": "-5m", "source": "health", "type": "AWS_ELASTICACHE_OPERATIONAL_ISSUE", "message": "m"},
    ]
    past, upcoming, ongoing = parse_scenario(data, "x.yaml").events
    assert isinstance(past, HealthEvent) and isinstance(upcoming, HealthEvent) and isinstance(ongoing, HealthEvent)
    assert (past.type_code, past.status_code(ended_before_now=True)) == ("AWS_RDS_OPERATIONAL_ISSUE", "closed")
    assert (upcoming.type_code, upcoming.status_code(False)) == ("AWS_EC2_SCHEDULED_CHANGE", "upcoming")
    assert (ongoing.service_name, ongoing.status_code(False)) == ("ELASTICACHE", "open")


def test_health_event_must_end_after_it_starts(tmp_path: Path) -> None:
    data = example()
    data["events"][1].update(end="-50m")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ScenarioError, match=r"bad\.yaml: events\[1\]: 'end' must be after 'at'"):
        load_scenario(path)


def test_a_type_the_sandbox_cannot_create_is_listed_not_guessed() -> None:
    from oncall_agent.sandbox.seed_resources import seed_resources

    data = example()
    data["services"][1]["ecs"].pop("target_groups")
    data["resources"] = [{"type": "AWS::Route53::HostedZone", "id": "Z0123456789ABC", "tags": {"service": "x"}}]
    scenario = parse_scenario(data, "x.yaml")

    def no_client(name: str) -> object:
        raise AssertionError(f"nothing to create, yet a {name} client was asked for")

    assert seed_resources(scenario, no_client) == ({}, ["AWS::Route53::HostedZone Z0123456789ABC"], 0)
