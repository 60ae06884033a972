"""Escalation end to end, as people see it: `serve` against the sandbox with a paging topic; the rollback is
rejected, so the agent escalates to the service's team. The ServiceNow incident is assigned to the team's group,
In Progress, with a priority from the severity (not 5); the team's on-call login is assigned on the GitHub issue;
and a page with the incident, team, severity and reason arrives on the SNS topic (read through an SQS queue
subscribed to it, in moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from oncall_agent.sandbox.scenario import load_scenario
from oncall_agent.sandbox.world import SandboxWorld
from tests.e2e.harness import Agent, wait_for
from tests.e2e.test_walking_skeleton import SCENARIO, awaiting, make_world, rollback_of, tickets_for

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox, pytest.mark.slow]


@pytest.fixture()
def world() -> Iterator[SandboxWorld]:
    yield from make_world(load_scenario(SCENARIO))


def paging_topic(world: SandboxWorld) -> tuple[str, Any, str]:
    """A topic in the scenario's account with an SQS queue subscribed: what a paging service would receive."""
    sns, sqs = world.client("sns"), world.client("sqs")
    topic = sns.create_topic(Name="oncall-pages")["TopicArn"]
    queue = sqs.create_queue(QueueName="pager")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, sqs, queue


def pages(sqs: Any, queue: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_an_escalation_is_assigned_prioritised_and_paged(world: SandboxWorld, tmp_path: Path) -> None:
    topic, sqs, queue = paging_topic(world)
    agent = Agent(world, tmp_path)
    config = yaml.safe_load(agent.config.read_text())
    config["escalation"]["sns_topic_arn"] = topic
    agent.config.write_text(yaml.safe_dump(config))
    agent.start()
    incident_id = agent.fire()
    rollback = rollback_of(awaiting(agent, incident_id))
    done = agent.cli_run("reject", rollback["id"], "--as", "bob")
    assert done.returncode == 0 and json.loads(done.stdout)["status"] == "rejected", done.stdout + done.stderr
    assert '"event": "action_decided"' in done.stderr  # the log line, out of the JSON answer
    view = agent.wait_status(incident_id, "escalated")

    def escalated_records() -> tuple[dict[str, str], Any] | None:
        (ticket,), (issue,) = tickets_for(world, incident_id)
        return (ticket, issue) if ticket.get("assignment_group") and issue.assignees else None

    ticket, issue = wait_for(escalated_records, "the escalation to reach both trackers", 30)
    assert ticket["assignment_group"] == "storefront on-call" and ticket["state"] == "2"  # In Progress
    assert ticket["priority"] == str(int(ticket["impact"]) + int(ticket["urgency"]) - 1) != "5"
    assert list(issue.assignees) == ["storefront-oncall"]

    received: list[dict[str, Any]] = []  # the scenario's other alarm (catalog latency) escalates and pages too

    def page_for_incident() -> list[dict[str, Any]]:
        received.extend(pages(sqs, queue))
        return [p for p in received if json.loads(p["Message"])["incident_id"] == incident_id]

    (envelope,) = wait_for(page_for_incident, "the page on the SNS topic", 30)
    page = json.loads(envelope["Message"])
    assert envelope["Subject"] == f"[{view['severity']}] oncall-agent escalated {incident_id} to storefront"
    assert (page["incident_id"], page["team"], page["severity"]) == (incident_id, "storefront", view["severity"])
    assert "reject" in page["reason"] and page["dedup_key"] == f"{incident_id}:escalated:sns"
    assert agent.stop() == 0
