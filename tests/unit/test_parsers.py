"""Alarm payload parsers: every shared CloudWatch fixture, malformed inputs, and cross-channel dedup keys."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from oncall_agent.domain.alarm import AlarmEvent, AlarmState, EventChannel, MetricSpec
from oncall_agent.domain.errors import IgnoredEvent, PayloadError
from oncall_agent.intake.parse_common import normalise_stat
from oncall_agent.intake.parsers import (
    parse_describe_alarms_item,
    parse_eventbridge,
    parse_lambda_alarm_action,
    parse_sns_alarm,
    parse_webhook_payload,
)

CW = "cloudwatch"
EC2_INSTANCE = {"InstanceId": "i-12345678901234567"}


def ms(year: int, month: int, day: int, hour: int, minute: int, second: int, millis: int) -> datetime:
    return datetime(year, month, day, hour, minute, second, millis * 1000, tzinfo=UTC)


@dataclass(frozen=True)
class Expect:
    """What a fixture must parse into (fields left None are checked to be None)."""

    channel: EventChannel
    message_id: str | None
    account: str
    region: str
    arn: str
    name: str
    state: AlarmState
    old_state: AlarmState | None
    timestamp: datetime
    metric: MetricSpec | None = None
    metrics: list[MetricSpec] = field(default_factory=list)
    expression: str | None = None
    threshold: float | None = None
    comparison: str | None = None
    evaluation_periods: int | None = None
    composite_rule: str | None = None
    description: str | None = None


def ec2(name: str, stat: str, period: int, dims: dict[str, str] | None = None) -> MetricSpec:
    return MetricSpec(namespace="AWS/EC2", name=name, dimensions=dims or {}, stat=stat, period=period)


_EB = EventChannel.EVENTBRIDGE
_ALARM, _OK, _INSUFFICIENT = AlarmState.ALARM, AlarmState.OK, AlarmState.INSUFFICIENT_DATA
_AGGREGATED = Expect(
    _EB, "d3dfc86d-384d-24c8-0345-9f7986db0b80", "123456789012", "us-east-1",
    "arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServiceAggregatedAlarm", "ServiceAggregatedAlarm",
    _ALARM, _OK, ms(2022, 7, 22, 15, 57, 45, 394),
    composite_rule="ALARM(ServerCpuTooHigh) OR ALARM(TotalNetworkTrafficTooHigh)",
)  # fmt: skip
_NETWORK_OUT = ec2("NetworkOut", "Average", 60, {"InstanceId": "TestInstance"})
# Placeholder ARN ("REGION", "ACCOUNT_NUMBER") is taken as given: the ARN is well-formed.
_RUST_SNS = Expect(
    EventChannel.SNS, "95df01b4-ee98-5cb9-9903-4c221d41eb5e", "123456789012", "REGION",
    "arn:aws:cloudwatch:REGION:ACCOUNT_NUMBER:alarm:EXAMPLE", "EXAMPLE", _ALARM, _INSUFFICIENT,
    ms(2015, 6, 3, 17, 43, 27, 123), metric=_NETWORK_OUT, metrics=[_NETWORK_OUT], threshold=0.0,
    comparison="GreaterThanThreshold", evaluation_periods=1, description="EXAMPLE",
)  # fmt: skip
_RUST = "rust-runtime-example-cloudwatch-alarm"
_SIM_ARN = "arn:aws:cloudwatch:us-east-1:427809481713:alarm:if-sim-app_427809481713_us-east-1-"
_SIM_METRIC = MetricSpec(
    namespace="sim-app_427809481713_us-east-1", name="IExecutionFailureHook", stat="Sum", period=300,
    dimensions={"MetricGroupId": "routing_table.receive.hook", "RouteID": "metric_emitting_node"},
)  # fmt: skip

# Every JSON file under fixtures/payloads/cloudwatch/ (sns_message files: one entry per Records[i].Sns).
# IgnoredEvent: configuration changes. PayloadError (with the text it must contain): unusable fixtures.
EXPECTED: dict[tuple[str, int], Expect | type[IgnoredEvent] | str] = {
    ("eventbridge/creation_of_a_composite_alarm.json", 0): IgnoredEvent,
    ("eventbridge/creation_of_a_composite_alarm_with_a_suppressor_alarm.json", 0): IgnoredEvent,
    ("eventbridge/deletion_of_a_composite_alarm_with_a_suppressor_alarm.json", 0): IgnoredEvent,
    ("eventbridge/deletion_of_a_metric_math_alarm.json", 0): IgnoredEvent,
    ("eventbridge/update_of_a_composite_alarm_with_a_suppressor_alarm.json", 0): IgnoredEvent,
    ("eventbridge/update_of_a_metric_alarm.json", 0): IgnoredEvent,
    ("eventbridge/state_change_for_a_composite_alarm_with_a_suppressor_alarm.json", 0): _AGGREGATED,
    ("eventbridge/state_change_for_a_metric_math_alarm.json", 0): Expect(
        _EB, "2dde0eb1-528b-d2d5-9ca6-6d590caf2329", "123456789012", "us-east-1",
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:TotalNetworkTrafficTooHigh",
        "TotalNetworkTrafficTooHigh", _ALARM, _INSUFFICIENT, ms(2019, 10, 2, 17, 20, 48, 554),
        metric=ec2("NetworkIn", "Maximum", 300, EC2_INSTANCE),
        metrics=[
            ec2("NetworkIn", "Maximum", 300, EC2_INSTANCE), ec2("NetworkOut", "Maximum", 300, EC2_INSTANCE)
        ],
        expression="SUM(METRICS())", threshold=10000.0,
        description="Goes into alarm if total network traffic exceeds 10Kb",
    ),
    ("eventbridge/state_change_for_a_single_metric_alarm.json", 0): Expect(
        _EB, "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92", "123456789012", "us-east-1",
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh", "ServerCpuTooHigh",
        _ALARM, _OK, ms(2019, 10, 2, 17, 4, 40, 989),
        metric=ec2("CPUUtilization", "Average", 300, EC2_INSTANCE),
        metrics=[ec2("CPUUtilization", "Average", 300, EC2_INSTANCE)], threshold=50.0,
        description="Goes into alarm when server CPU utilization is too high!",
    ),
    ("eventbridge/state_change_for_an_anomaly_detection_alarm.json", 0): Expect(
        _EB, "daafc9f1-bddd-c6c9-83af-74971fcfc4ef", "123456789012", "us-east-1",
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:EC2 CPU Utilization Anomaly",
        "EC2 CPU Utilization Anomaly", _ALARM, _OK, ms(2019, 10, 3, 16, 0, 4, 653),
        metric=ec2("CPUUtilization", "Average", 60, EC2_INSTANCE),
        metrics=[ec2("CPUUtilization", "Average", 60, EC2_INSTANCE)],
        expression="ANOMALY_DETECTION_BAND(m1, 0.8)",
        description="Goes into alarm if CPU Utilization is out of band",
    ),
    ("lambda_alarm_action/powertools-cloudWatchAlarmEventCompositeMetric.json", 0): Expect(
        _EB, None, "111122223333", "us-east-1",
        "arn:aws:cloudwatch:us-east-1:111122223333:alarm:SuppressionDemo.Main", "CompositeDemo.Main",
        _ALARM, _ALARM, ms(2023, 8, 4, 12, 56, 46, 138),
        composite_rule="ALARM(CompositeDemo.FirstChild) OR ALARM(CompositeDemo.SecondChild)",
    ),
    # The fixture's accountId (123456789012) disagrees with its ARN (912397435824); accountId is reported.
    ("lambda_alarm_action/powertools-cloudWatchAlarmEventSingleMetric.json", 0): Expect(
        _EB, None, "123456789012", "eu-west-1",
        "arn:aws:cloudwatch:eu-west-1:912397435824:alarm:test_alarm", "Test alert",
        _ALARM, _OK, ms(2024, 2, 17, 11, 53, 8, 431),
        metric=MetricSpec(namespace="AWS/Lambda", name="Invocations", stat="SampleCount", period=60),
        metrics=[
            MetricSpec(namespace="AWS/Lambda", name="Invocations", stat="SampleCount", period=60),
            MetricSpec(namespace="AWS/Lambda", name="Duration", stat="SampleCount", period=60),
        ],
        expression="m1/m2", threshold=10.0, description="This is description **here**",
    ),
    # An EventBridge envelope with `alarmData` in place of `detail` (fixture quirk): the event it mirrors.
    (f"lambda_alarm_action/{_RUST}-composite-with-suppressor-alarm.json", 0): _AGGREGATED,
    # These two were mangled by a formatter (": " inside ARNs and timestamps): rejected, not guessed at.
    (f"lambda_alarm_action/{_RUST}-composite.json", 0): "field 'alarmArn' is not a CloudWatch alarm ARN",
    (f"lambda_alarm_action/{_RUST}-metric.json", 0): "field 'alarmArn' is not a CloudWatch alarm ARN",
    ("sns_message/notify-slack-cloudwatch_alarm_lambda_sns_event.json", 0): Expect(
        EventChannel.SNS, "f86e3c5b-cd17-1ab8-80e9-c0776d4f1e7a", "735598076380", "eu-west-2",
        "arn:aws:cloudwatch:eu-west-2:735598076380:alarm:DBMigrationRequired", "DBMigrationRequired",
        _OK, _ALARM, ms(2019, 2, 12, 15, 45, 24, 6),
        metric=MetricSpec(namespace="LogMetrics", name="DBMigrationRequired", stat="Sum", period=60),
        metrics=[MetricSpec(namespace="LogMetrics", name="DBMigrationRequired", stat="Sum", period=60)],
        threshold=1.0, comparison="LessThanThreshold", evaluation_periods=1,
        description='App is reporting "A JPA error occurred(Unable to build EntityManagerFactory)"',
    ),
    **{
        (f"sns_message/{_RUST}-sns-payload-multiple-metrics.json", index): replace(
            _RUST_SNS, account="EXAMPLE", expression="m1*1"
        )
        for index in (0, 1)
    },
    (f"sns_message/{_RUST}-sns-payload-single-metric.json", 0): _RUST_SNS,
    ("sns_signed/composite_alarm_sns_record_sv1.json", 0): Expect(
        EventChannel.SNS, "12c36222-e1fe-56f5-9540-3827d55d7732", "427809481713", "us-east-1",
        _SIM_ARN + "test_node_monitor", "if-sim-app_427809481713_us-east-1-test_node_monitor",
        _ALARM, _OK, ms(2021, 11, 10, 2, 45, 55, 640),
        composite_rule=f"ALARM({_SIM_ARN}metric_emitting_node_failure) OR "
        f"ALARM({_SIM_ARN}metric_emitting_long_execution)",
    ),
    ("sns_signed/metric_alarm_sns_record_sv1.json", 0): Expect(
        EventChannel.SNS, "57c992bc-21f6-5a74-bda5-c8b9155571ca", "427809481713", "us-east-1",
        _SIM_ARN + "metric_emitting_node_failure",
        "if-sim-app_427809481713_us-east-1-metric_emitting_node_failure",
        _ALARM, _INSUFFICIENT, ms(2021, 11, 10, 2, 45, 55, 640),
        metric=_SIM_METRIC, metrics=[_SIM_METRIC], threshold=1.0,
        comparison="GreaterThanOrEqualToThreshold", evaluation_periods=1,
    ),
}  # fmt: skip


def load(payloads_dir: Path, relpath: str, index: int = 0) -> dict[str, Any]:
    """A fixture payload; for Lambda SNS events the `Sns` object of record `index`."""
    data: dict[str, Any] = json.loads((payloads_dir / CW / relpath).read_text())
    if relpath.startswith("sns_message/"):
        sns: dict[str, Any] = data["Records"][index]["Sns"]
        return sns
    return data


def parser_for(relpath: str) -> Any:
    return {
        "eventbridge": parse_eventbridge,
        "lambda_alarm_action": parse_lambda_alarm_action,
        "sns_message": parse_sns_alarm,
        "sns_signed": parse_sns_alarm,
    }[relpath.split("/", maxsplit=1)[0]]


def test_every_cloudwatch_fixture_has_an_expectation(payloads_dir: Path) -> None:
    found = set()
    for path in (payloads_dir / CW).rglob("*.json"):
        relpath = path.relative_to(payloads_dir / CW).as_posix()
        data = json.loads(path.read_text())
        for index in range(len(data["Records"]) if "Records" in data else 1):
            found.add((relpath, index))
    assert found == set(EXPECTED)


def assert_event(event: AlarmEvent, expect: Expect, payload: dict[str, Any]) -> None:
    assert event.channel is expect.channel
    assert event.channel_message_id == expect.message_id
    assert (event.account, event.region) == (expect.account, expect.region)
    assert (event.alarm_arn, event.alarm_name) == (expect.arn, expect.name)
    assert (event.new_state, event.old_state) == (expect.state, expect.old_state)
    assert event.state_timestamp == expect.timestamp
    assert event.state_timestamp.tzinfo is not None
    assert event.metric == expect.metric
    assert event.metrics == expect.metrics
    assert event.expression == expect.expression
    assert event.threshold == expect.threshold
    assert event.comparison == expect.comparison
    assert event.evaluation_periods == expect.evaluation_periods
    assert event.composite_rule == expect.composite_rule
    assert event.is_composite is (expect.composite_rule is not None)
    assert event.description == expect.description
    assert event.reason  # every fixture has a state reason
    assert event.tags == {}
    assert event.raw == payload


@pytest.mark.parametrize(("relpath", "index"), sorted(EXPECTED))
def test_fixture_parses_to_expected_event(payloads_dir: Path, relpath: str, index: int) -> None:
    payload = load(payloads_dir, relpath, index)
    expected = EXPECTED[(relpath, index)]
    parse = parser_for(relpath)
    if expected is IgnoredEvent:
        with pytest.raises(IgnoredEvent, match="Configuration Change"):
            parse(payload)
    elif isinstance(expected, str):
        with pytest.raises(PayloadError, match=expected) as info:
            parse(payload)
        assert not isinstance(info.value, IgnoredEvent)
    else:
        assert isinstance(expected, Expect)
        assert_event(parse(payload), expected, payload)


@pytest.mark.parametrize(
    "relpath", sorted(r for r, _ in EXPECTED if r.split("/")[0] in ("eventbridge", "lambda_alarm_action"))
)
def test_webhook_dispatch_matches_the_direct_parser(payloads_dir: Path, relpath: str) -> None:
    payload = load(payloads_dir, relpath)
    try:
        direct: AlarmEvent | type[Exception] = parser_for(relpath)(payload)
    except PayloadError as exc:
        direct = type(exc)
    if isinstance(direct, AlarmEvent):
        assert parse_webhook_payload(payload) == direct
    else:
        with pytest.raises(direct):
            parse_webhook_payload(payload)


def test_mangled_rust_fixture_also_has_a_bad_timestamp(payloads_dir: Path) -> None:
    payload = load(payloads_dir, "lambda_alarm_action/rust-runtime-example-cloudwatch-alarm-metric.json")
    payload["alarmArn"] = payload["alarmArn"].replace(" ", "")
    with pytest.raises(PayloadError, match=r"alarmData.state field 'timestamp' is not a timestamp"):
        parse_lambda_alarm_action(payload)


# --- cross-channel dedup ------------------------------------------------------------------------------------


def describe_item(arn: str, name: str, state: str, transitioned: datetime, **extra: Any) -> dict[str, Any]:
    """A MetricAlarms item shaped as boto3 returns it (datetimes, PascalCase, Name/Value dimensions)."""
    return {
        "AlarmName": name,
        "AlarmArn": arn,
        "StateValue": state,
        "StateReason": "Threshold Crossed",
        "StateUpdatedTimestamp": transitioned + timedelta(minutes=7),  # a later reason-only update
        "StateTransitionedTimestamp": transitioned,
        "AlarmConfigurationUpdatedTimestamp": transitioned - timedelta(days=3),
        **extra,
    }


def test_sns_and_describe_alarms_share_the_state_key(payloads_dir: Path) -> None:
    sns = parse_sns_alarm(load(payloads_dir, "sns_signed/metric_alarm_sns_record_sv1.json"))
    # boto3 parses AWS's timestamps into tz-aware datetimes (tzlocal or tzutc): use a non-UTC offset here.
    local = timezone(timedelta(hours=-5))
    item = describe_item(
        sns.alarm_arn, sns.alarm_name, "ALARM", datetime(2021, 11, 9, 21, 45, 55, 640000, tzinfo=local),
        MetricName="IExecutionFailureHook", Namespace="sim-app_427809481713_us-east-1", Statistic="Sum",
        Dimensions=[
            {"Name": "MetricGroupId", "Value": "routing_table.receive.hook"},
            {"Name": "RouteID", "Value": "metric_emitting_node"},
        ],
        Period=300, EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanOrEqualToThreshold",
    )  # fmt: skip
    polled = parse_describe_alarms_item(item, region="us-east-1")
    assert polled.state_key() == sns.state_key()
    assert polled.dedup_keys() == [sns.state_key()]  # no message id on the poll channel
    assert (polled.metric, polled.threshold, polled.comparison) == (sns.metric, sns.threshold, sns.comparison)


def test_eventbridge_and_describe_alarms_share_the_state_key(payloads_dir: Path) -> None:
    bridge = parse_eventbridge(load(payloads_dir, "eventbridge/state_change_for_a_single_metric_alarm.json"))
    item = describe_item(bridge.alarm_arn, bridge.alarm_name, "ALARM", ms(2019, 10, 2, 17, 4, 40, 989))
    assert parse_describe_alarms_item(item, region="us-east-1").state_key() == bridge.state_key()


def test_state_updated_timestamp_alone_is_used_when_there_is_no_transition_timestamp() -> None:
    moment = ms(2024, 1, 2, 3, 4, 5, 678)
    item = describe_item("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:a", "a", "OK", moment)
    del item["StateTransitionedTimestamp"]
    assert parse_describe_alarms_item(item, region="eu-west-1").state_timestamp == moment + timedelta(minutes=7)


def test_rust_quirk_envelope_dedups_with_the_eventbridge_event(payloads_dir: Path) -> None:
    bridge = parse_eventbridge(
        load(payloads_dir, "eventbridge/state_change_for_a_composite_alarm_with_a_suppressor_alarm.json")
    )
    quirk = parse_webhook_payload(
        load(payloads_dir, f"lambda_alarm_action/{_RUST}-composite-with-suppressor-alarm.json")
    )
    assert quirk.dedup_keys() == bridge.dedup_keys()


# --- DescribeAlarms items -----------------------------------------------------------------------------------

ARN = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:checkout-p99"
T0 = ms(2024, 5, 1, 10, 0, 0, 250)


def test_describe_metric_math_item_with_tags_and_extended_stat() -> None:
    item = describe_item(
        ARN, "checkout-p99", "ALARM", T0,
        AlarmDescription="p99 latency", Threshold=1.5, ComparisonOperator="GreaterThanThreshold",
        EvaluationPeriods=3, Dimensions=[],
        Metrics=[
            {"Id": "e1", "Expression": "m1 / 1000", "ReturnData": True},
            {"Id": "m1", "ReturnData": False, "MetricStat": {
                "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "TargetResponseTime",
                           "Dimensions": [{"Name": "LoadBalancer", "Value": "app/checkout/1"}]},
                "Period": 60, "Stat": "p99"}},
        ],
        Tags=[{"Key": "service", "Value": "checkout"}, {"Key": "team", "Value": "payments"}],
    )  # fmt: skip
    event = parse_describe_alarms_item(item, region="eu-west-1")
    latency = MetricSpec(
        namespace="AWS/ApplicationELB",
        name="TargetResponseTime",
        dimensions={"LoadBalancer": "app/checkout/1"},
        stat="p99",
        period=60,
    )
    assert event.channel is EventChannel.POLL
    assert (event.channel_message_id, event.old_state) == (None, None)
    assert (event.account, event.region, event.alarm_arn) == ("123456789012", "eu-west-1", ARN)
    assert (event.new_state, event.state_timestamp, event.reason) == (
        AlarmState.ALARM,
        T0,
        "Threshold Crossed",
    )
    assert (event.metric, event.metrics, event.expression) == (latency, [latency], "m1 / 1000")
    assert (event.threshold, event.comparison, event.evaluation_periods) == (1.5, "GreaterThanThreshold", 3)
    assert event.tags == {"service": "checkout", "team": "payments"}
    assert event.description == "p99 latency"
    assert event.raw == item


def test_describe_single_metric_item_uses_extended_statistic() -> None:
    item = describe_item(
        ARN,
        "checkout-p99",
        "OK",
        T0,
        MetricName="Latency",
        Namespace="App",
        ExtendedStatistic="p99",
        Period=60,
        Metrics=[],
    )
    event = parse_describe_alarms_item(item, region="eu-west-1")
    assert event.metric == MetricSpec(namespace="App", name="Latency", stat="p99", period=60)
    assert event.expression is None


def test_describe_composite_item() -> None:
    arn = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:checkout-down"
    item = describe_item(arn, "checkout-down", "INSUFFICIENT_DATA", T0, AlarmRule="ALARM(a) AND ALARM(b)")
    event = parse_describe_alarms_item(item, region="eu-west-1")
    assert (event.composite_rule, event.metric, event.metrics) == ("ALARM(a) AND ALARM(b)", None, [])
    assert event.new_state is AlarmState.INSUFFICIENT_DATA


def test_describe_item_accepts_naive_and_string_timestamps() -> None:
    naive = describe_item(ARN, "a", "OK", T0.replace(tzinfo=None))
    text = describe_item(ARN, "a", "OK", T0)
    text["StateTransitionedTimestamp"] = "2024-05-01T10:00:00.250+0000"
    for item in (naive, text):
        assert parse_describe_alarms_item(item, region="eu-west-1").state_timestamp == T0


# --- statistics ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [("SUM", "Sum"), ("AVERAGE", "Average"), ("samplecount", "SampleCount"), ("Minimum", "Minimum"),
     ("MAXIMUM", "Maximum"), ("p99", "p99"), ("tm90", "tm90"), ("p99.9", "p99.9"), (None, None)],
)  # fmt: skip
def test_statistic_casing_is_normalised(given: str | None, expected: str | None) -> None:
    assert normalise_stat(given) == expected


# --- malformed input ----------------------------------------------------------------------------------------

PARSERS = [
    parse_sns_alarm,
    parse_eventbridge,
    parse_lambda_alarm_action,
    parse_webhook_payload,
    lambda item: parse_describe_alarms_item(item, region="us-east-1"),
]


@pytest.mark.parametrize("parse", PARSERS)
@pytest.mark.parametrize("payload", ["{}", ["a"], None, 3])
def test_non_objects_are_rejected(parse: Any, payload: Any) -> None:
    with pytest.raises(PayloadError, match="is not a JSON object"):
        parse(payload)


@pytest.fixture()
def sns(payloads_dir: Path) -> dict[str, Any]:
    return load(payloads_dir, "sns_signed/metric_alarm_sns_record_sv1.json")


def with_alarm(sns: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The SNS fixture with fields of its alarm JSON changed (None removes a field)."""
    body = json.loads(sns["Message"])
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return {**sns, "Message": json.dumps(body)}


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("not json {", "SNS Message is not JSON"),
        ("[" * 100_000, "SNS Message is not JSON"),  # nesting bomb: RecursionError must not escape
        ("[1, 2]", "SNS Message is not a JSON object"),
        ('{"hello": "world"}', "SNS Message is not a CloudWatch alarm notification"),
    ],
)
def test_sns_message_that_is_not_an_alarm(sns: dict[str, Any], message: str, error: str) -> None:
    with pytest.raises(PayloadError, match=error):
        parse_sns_alarm({**sns, "Message": message})


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"NewStateValue": None}, "alarm payload missing field 'NewStateValue'"),
        ({"AlarmName": None}, "alarm payload missing field 'AlarmName'"),
        ({"StateChangeTime": None}, "alarm payload missing field 'StateChangeTime'"),
        ({"NewStateValue": "FIRING"}, "field 'NewStateValue' is not an alarm state: 'FIRING'"),
        ({"OldStateValue": 7}, "field 'OldStateValue' is not an alarm state"),
        ({"StateChangeTime": "yesterday"}, "field 'StateChangeTime' is not a timestamp: 'yesterday'"),
        ({"StateChangeTime": 1636512355}, "field 'StateChangeTime' is not a timestamp"),
        ({"StateChangeTime": "2021-13-45T02:45:55.640+0000"}, "is not a timestamp"),
        ({"AlarmArn": "arn:aws:sns:us-east-1:1:topic"}, "field 'AlarmArn' is not a CloudWatch alarm ARN"),
        ({"Trigger": None}, "alarm payload missing field 'Trigger'"),
        ({"Trigger": "SUM"}, "field 'Trigger' is not a JSON object"),
        (
            {"Trigger": {"MetricName": "x", "Namespace": "y", "Threshold": "high"}},
            "'Threshold' is not a number",
        ),
        ({"Trigger": {"MetricName": "x", "Namespace": "y", "Period": 1.5}}, "'Period' is not an integer"),
        ({"Trigger": {"MetricName": "x", "Namespace": "y", "EvaluationPeriods": True}}, "is not a number"),
        ({"Trigger": {"MetricName": "x"}}, "Trigger missing field 'Namespace'"),
        (
            {"Trigger": {"MetricName": "x", "Namespace": "y", "Dimensions": [{"name": "a"}]}},
            r"Dimensions\[0\]",
        ),
        ({"Trigger": {"MetricName": "x", "Namespace": "y", "Dimensions": {}}}, "'Dimensions' is not a list"),
        ({"Trigger": {"Metrics": [{"Id": "m1", "MetricStat": {}}]}}, r"Metrics\[0\].MetricStat missing"),
        ({"AlarmDescription": 12}, "'AlarmDescription' is not a string"),
    ],
)
def test_sns_alarm_field_problems_are_named(sns: dict[str, Any], changes: dict[str, Any], error: str) -> None:
    with pytest.raises(PayloadError, match=error):
        parse_sns_alarm(with_alarm(sns, **changes))


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"Type": "SubscriptionConfirmation"}, "SNS message Type is 'SubscriptionConfirmation'"),
        ({"Type": None}, "SNS message missing field 'Type'"),
        ({"Message": None}, "SNS message field 'Message' is missing or not a string"),
        ({"MessageId": None}, "SNS message missing field 'MessageId'"),
    ],
)
def test_sns_envelope_problems_are_named(sns: dict[str, Any], changes: dict[str, Any], error: str) -> None:
    message = {k: v for k, v in {**sns, **changes}.items() if v is not None}
    with pytest.raises(PayloadError, match=error):
        parse_sns_alarm(message)


def test_sns_without_alarm_arn_needs_a_usable_topic_arn(sns: dict[str, Any]) -> None:
    message = with_alarm(sns, AlarmArn=None)
    event = parse_sns_alarm(message)
    assert event.alarm_arn == sns_arn(sns)  # built from TopicArn region + AWSAccountId + AlarmName
    with pytest.raises(PayloadError, match="field 'TopicArn' is not an SNS topic ARN"):
        parse_sns_alarm({**message, "TopicArn": "arn:aws:sns:EXAMPLE"})
    with pytest.raises(PayloadError, match="alarm payload missing field 'AWSAccountId'"):
        parse_sns_alarm(with_alarm(message, AWSAccountId=None))


def sns_arn(sns: dict[str, Any]) -> str:
    arn: str = json.loads(sns["Message"])["AlarmArn"]
    return arn


def test_sns_gov_cloud_topic_builds_a_gov_cloud_alarm_arn(sns: dict[str, Any]) -> None:
    message = with_alarm(sns, AlarmArn=None)
    message["TopicArn"] = "arn:aws-us-gov:sns:us-gov-west-1:427809481713:alarms"
    event = parse_sns_alarm(message)
    assert event.alarm_arn.startswith("arn:aws-us-gov:cloudwatch:us-gov-west-1:427809481713:alarm:")
    assert event.region == "us-gov-west-1"


def test_error_messages_do_not_echo_huge_values(sns: dict[str, Any]) -> None:
    with pytest.raises(PayloadError) as info:
        parse_sns_alarm(with_alarm(sns, NewStateValue="X" * 100_000))
    assert len(str(info.value)) < 300


@pytest.fixture()
def bridge(payloads_dir: Path) -> dict[str, Any]:
    return load(payloads_dir, "eventbridge/state_change_for_a_single_metric_alarm.json")


def test_eventbridge_unknown_source_and_detail_type_are_errors_not_ignored(bridge: dict[str, Any]) -> None:
    with pytest.raises(PayloadError, match=r"source is 'aws\.ec2', not 'aws\.cloudwatch'") as info:
        parse_eventbridge({**bridge, "source": "aws.ec2"})
    assert not isinstance(info.value, IgnoredEvent)
    with pytest.raises(PayloadError, match="detail-type 'EC2 Instance State-change Notification'") as info:
        parse_eventbridge({**bridge, "detail-type": "EC2 Instance State-change Notification"})
    assert not isinstance(info.value, IgnoredEvent)
    with pytest.raises(IgnoredEvent):
        parse_eventbridge({**bridge, "detail-type": "CloudWatch Alarm Configuration Change"})


def mutate(payload: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy with `path` (dots; digits index lists) set to `value`, or removed when value is `...`."""
    result = copy.deepcopy(payload)
    *parents, last = path.split(".")
    node: Any = result
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return result


@pytest.mark.parametrize(
    ("path", "value", "error"),
    [
        ("detail", ..., "EventBridge event missing field 'detail'"),
        ("id", ..., "EventBridge event missing field 'id'"),
        ("region", "", "field 'region' is not a non-empty string"),
        ("resources", [], "'resources' does not start with the alarm ARN"),
        (
            "resources",
            ["arn:aws:ec2:us-east-1:1:instance/i-1"],
            r"resources\[0\]' is not a CloudWatch alarm ARN",
        ),
        ("detail.state", ..., "EventBridge detail missing field 'state'"),
        ("detail.configuration", ..., "EventBridge detail missing field 'configuration'"),
        ("detail.state.value", "PANIC", "detail.state field 'value' is not an alarm state"),
        ("detail.state.timestamp", "2019-10-02 nope", "detail.state field 'timestamp' is not a timestamp"),
        ("detail.previousState.value", "MAYBE", "detail.previousState field 'value' is not an alarm state"),
        ("detail.configuration.metrics", {}, "'metrics' is not a list"),
        ("detail.configuration.metrics.0.metricStat.metric.name", ..., "metric missing field 'name'"),
        ("detail.configuration.metrics.0.metricStat.metric.dimensions", {"a": 1}, "is not a map of strings"),
        ("detail.configuration.metrics.0.metricStat.period", "300", "'period' is not a number"),
    ],
)
def test_eventbridge_field_problems_are_named(bridge: dict[str, Any], path: str, value: Any, error: str) -> None:
    with pytest.raises(PayloadError, match=error):
        parse_eventbridge(mutate(bridge, path, value))


def test_malformed_reason_data_only_loses_the_threshold(bridge: dict[str, Any]) -> None:
    for reason_data in ("not json", "[1]", '{"threshold": "high"}', "[" * 100_000):
        event = parse_eventbridge(mutate(bridge, "detail.state.reasonData", reason_data))
        assert event.threshold is None
        assert event.new_state is AlarmState.ALARM


@pytest.mark.parametrize(
    ("path", "value", "error"),
    [
        ("source", "aws.events", "alarm action payload source is 'aws.events'"),
        (
            "alarmArn",
            "arn:aws:cloudwatch:us-east-1:1:alarm:",
            "field 'alarmArn' is not a CloudWatch alarm ARN",
        ),
        ("accountId", ..., "alarm action payload missing field 'accountId'"),
        ("alarmData", ..., "alarm action payload missing field 'alarmData'"),
        ("alarmData.alarmName", ..., "alarmData missing field 'alarmName'"),
        ("alarmData.state.timestamp", ..., "alarmData.state missing field 'timestamp'"),
        ("alarmData.configuration.alarmRule", 5, "field 'alarmRule' is not a string"),
    ],
)
def test_lambda_action_field_problems_are_named(payloads_dir: Path, path: str, value: Any, error: str) -> None:
    payload = load(payloads_dir, "lambda_alarm_action/powertools-cloudWatchAlarmEventCompositeMetric.json")
    with pytest.raises(PayloadError, match=error):
        parse_lambda_alarm_action(mutate(payload, path, value))


def test_webhook_rejects_unrecognised_payloads() -> None:
    with pytest.raises(PayloadError, match=r"unrecognised payload: .*keys: 'Records', 'hello'") as info:
        parse_webhook_payload({"hello": 1, "Records": []})
    assert not isinstance(info.value, IgnoredEvent)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"AlarmArn": None}, "DescribeAlarms item missing field 'AlarmArn'"),
        ({"StateValue": "BROKEN"}, "field 'StateValue' is not an alarm state"),
        (
            {"StateTransitionedTimestamp": None, "StateUpdatedTimestamp": None},
            "missing field 'StateUpdatedTimestamp'",
        ),
        ({"StateTransitionedTimestamp": "soon"}, "'StateTransitionedTimestamp' is not a timestamp"),
        ({"Tags": [{"Key": "a"}]}, r"Tags\[0\] is not a \{Key, Value\} tag"),
        ({"Metrics": "m1"}, "'Metrics' is not a list"),
        (
            {"Dimensions": [{"Name": "a", "Value": 3}], "MetricName": "m", "Namespace": "n"},
            r"Dimensions\[0\]",
        ),
    ],
)
def test_describe_item_problems_are_named(changes: dict[str, Any], error: str) -> None:
    item = {k: v for k, v in {**describe_item(ARN, "a", "OK", T0), **changes}.items() if v is not None}
    with pytest.raises(PayloadError, match=error):
        parse_describe_alarms_item(item, region="eu-west-1")
