"""SnsPager against moto's SNS (server mode, over HTTP), read back through an SQS queue subscribed to the topic;
and the relay delivering an escalation's `sns.publish` row to it."""

from __future__ import annotations

import json
import uuid
from functools import partial
from typing import Any

import pytest

from oncall_agent.adapters.aws.clients import make_client
from oncall_agent.adapters.aws.sns_pager import SnsPager
from oncall_agent.coordination.messages import OutboxMessenger
from oncall_agent.coordination.operations import Operations
from oncall_agent.store.outbox import OutboxItem

REGION = "eu-west-1"


def topic_with_queue(endpoint: str, fifo: bool = False) -> tuple[str, Any, str]:
    sns, sqs = make_client("sns", REGION, endpoint), make_client("sqs", REGION, endpoint)
    suffix = ".fifo" if fifo else ""
    name = f"pages-{uuid.uuid4().hex[:8]}"
    attributes = {"FifoTopic": "true", "ContentBasedDeduplication": "false"} if fifo else {}
    topic = sns.create_topic(Name=name + suffix, Attributes=attributes)["TopicArn"]
    queue_attributes = {"FifoQueue": "true"} if fifo else {}
    queue = sqs.create_queue(QueueName=name + suffix, Attributes=queue_attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, sqs, queue


def received(sqs: Any, queue: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


@pytest.mark.usefixtures("aws_env")
def test_a_page_reaches_a_subscriber_with_its_subject_and_dedup_key(moto_endpoint: str) -> None:
    topic, sqs, queue = topic_with_queue(moto_endpoint)
    pager = SnsPager(partial(make_client, "sns", endpoint_url=moto_endpoint), topic)

    message_id = pager.page("[sev2] checkout\n5xx", {"incident_id": "inc-1", "team": "storefront"}, "inc-1:esc")

    (envelope,) = received(sqs, queue)
    assert envelope["MessageId"] == message_id and envelope["Subject"] == "[sev2] checkout 5xx"
    assert json.loads(envelope["Message"]) == {"incident_id": "inc-1", "team": "storefront", "dedup_key": "inc-1:esc"}


@pytest.mark.usefixtures("aws_env")
def test_the_relay_pages_an_escalation_with_its_reason(moto_endpoint: str) -> None:
    topic, sqs, queue = topic_with_queue(moto_endpoint)
    pager = SnsPager(partial(make_client, "sns", endpoint_url=moto_endpoint), topic)
    items = OutboxMessenger([], None, servicenow=False, github=False, paging=True).escalated(
        "inc-7", "payments", {"level": "sev1", "impact": 1, "urgency": 1}, "rollback act-1 failed"
    )
    (item,) = items
    operations = Operations(None, None, lambda _incident: {}, lambda _incident: None, pager)

    delivered = operations.call(_Row(item))

    (envelope,) = received(sqs, queue)
    page = json.loads(envelope["Message"])
    assert delivered.result["message_id"] == envelope["MessageId"]
    assert envelope["Subject"] == "[sev1] oncall-agent escalated inc-7 to payments"
    assert (page["reason"], page["severity"], page["team"], page["dedup_key"]) == (
        "rollback act-1 failed",
        "sev1",
        "payments",
        item.key,
    )


def test_without_a_topic_the_row_is_skipped_and_a_bad_arn_is_refused() -> None:
    item = OutboxItem("k", "inc-1", "sns", "sns.publish", {"subject": "s", "message": {}})
    skipped = Operations(None, None, lambda _incident: {}, lambda _incident: None).call(_Row(item))
    assert "no SNS topic" in skipped.result["skipped"]
    with pytest.raises(ValueError, match="not an SNS topic ARN"):
        SnsPager(lambda region: None, "arn:aws:sqs:eu-west-1:123456789012:q")


class _Row:
    """An outbox row as the relay hands it to Operations."""

    def __init__(self, item: OutboxItem) -> None:
        self.id, self.incident_id, self.target = 1, item.incident_id, item.target
        self.operation, self.payload, self.key = item.operation, item.payload, item.key
