"""Deliver an alarm the way CloudWatch -> SNS -> HTTPS does: the CloudWatch alarm JSON, signed, with SNS headers.

The alarm JSON is built from the alarm as DescribeAlarms reports it, so its StateChangeTime equals the state
timestamp the poller sees: the same state change reaches the agent by two channels and must be stored once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import requests

from oncall_agent.sandbox.sns_signer import SnsSigner

REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-central-1": "EU (Frankfurt)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
}


def _cloudwatch_time(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def _trigger(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "MetricName": item.get("MetricName"),
        "Namespace": item.get("Namespace"),
        "StatisticType": "Statistic",
        "Statistic": str(item.get("Statistic") or item.get("ExtendedStatistic") or "").upper(),
        "Unit": item.get("Unit"),
        "Dimensions": [{"value": d["Value"], "name": d["Name"]} for d in item.get("Dimensions", [])],
        "Period": item.get("Period"),
        "EvaluationPeriods": item.get("EvaluationPeriods"),
        "ComparisonOperator": item.get("ComparisonOperator"),
        "Threshold": item.get("Threshold"),
        "TreatMissingData": "- TreatMissingData:                    missing",
        "EvaluateLowSampleCountPercentile": "",
    }


def alarm_message(item: dict[str, Any], old_state: str) -> str:
    """The CloudWatch alarm notification body for a DescribeAlarms MetricAlarms item."""
    arn = item["AlarmArn"]
    _, _, _, region, account, _ = arn.split(":", 5)
    changed = item.get("StateTransitionedTimestamp") or item["StateUpdatedTimestamp"]
    return json.dumps(
        {
            "AlarmName": item["AlarmName"],
            "AlarmDescription": item.get("AlarmDescription"),
            "AWSAccountId": account,
            "NewStateValue": item["StateValue"],
            "NewStateReason": item.get("StateReason", ""),
            "StateChangeTime": _cloudwatch_time(changed),
            "Region": REGION_NAMES.get(region, region),
            "AlarmArn": arn,
            "OldStateValue": old_state,
            "Trigger": _trigger(item),
        }
    )


def deliver_alarm(
    signer: SnsSigner,
    topic_arn: str,
    item: dict[str, Any],
    url: str,
    old_state: str = "OK",
    timeout: float = 15.0,
) -> requests.Response:
    """POST a signed alarm notification to `url` with the headers SNS sends."""
    region = item["AlarmArn"].split(":")[3]
    subject = f'{item["StateValue"]}: "{item["AlarmName"]}" in {REGION_NAMES.get(region, region)}'
    message = signer.notification(topic_arn, alarm_message(item, old_state), subject=subject[:100])
    headers = {
        "content-type": "text/plain; charset=UTF-8",
        "x-amz-sns-message-type": "Notification",
        "x-amz-sns-message-id": message["MessageId"],
        "x-amz-sns-topic-arn": topic_arn,
        "user-agent": "Amazon Simple Notification Service Agent",
    }
    return requests.post(url, data=json.dumps(message), headers=headers, timeout=timeout)
