"""Seeding the GitHub, ServiceNow and CloudTrail stand-ins' states from scenarios (in memory, no HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from oncall_agent.sandbox.scenario import load_scenario
from oncall_agent.sandbox.seed_standins import seed_standins, servicenow_state
from oncall_agent.sandbox.standins.cloudtrail import CloudTrailState
from oncall_agent.sandbox.standins.github import GitHubState
from oncall_agent.sandbox.standins.servicenow import ServiceNowState
from oncall_agent.sandbox.trail_events import resource_type, trail_events

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "tests/fixtures/scenario_spec_example.yaml"
SCENARIOS = REPO / "tests/scenarios"
NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)


def test_deploys_and_changes_become_cloudtrail_events() -> None:
    trail = CloudTrailState(clock=lambda: NOW)
    summary = seed_standins(load_scenario(SPEC), NOW, cloudtrail=trail)
    events = {event.event_name: event for event in trail.events()}
    assert set(events) == {
        "RegisterTaskDefinition", "UpdateService", "UpdateAlias20150331", "CreateDeployment",
        "AuthorizeSecurityGroupIngress",
    }  # fmt: skip
    assert len(summary.cloudtrail_event_ids) == 5
    update = events["UpdateService"]
    assert update.event_source == "ecs.amazonaws.com" and update.username == "deploy-bot"
    assert update.at == NOW - timedelta(minutes=13)
    assert update.request_parameters == {"cluster": "prod", "service": "checkout", "taskDefinition": "checkout:42"}
    arn = "arn:aws:ecs:us-east-1:123456789012"
    assert update.resources == [
        {"ResourceType": "AWS::ECS::Service", "ResourceName": f"{arn}:service/prod/checkout"},
        {"ResourceType": "AWS::ECS::TaskDefinition", "ResourceName": f"{arn}:task-definition/checkout:42"},
    ]
    assert events["RegisterTaskDefinition"].at < update.at
    alias = events["UpdateAlias20150331"]
    assert alias.event_source == "lambda.amazonaws.com"
    assert alias.request_parameters == {"functionName": "pricing-fn", "name": "live", "functionVersion": "17"}
    deployment = events["CreateDeployment"]
    assert deployment.response_elements == {"deploymentId": "d-ABC123"}
    assert deployment.request_parameters["revision"]["gitHubLocation"]["commitId"] == "e4f5a6b"
    change = events["AuthorizeSecurityGroupIngress"]
    assert change.event_id == "3f2e1d00-aaaa-bbbb-cccc-000000000001" and change.username == "alice"
    assert change.resources == [{"ResourceType": "AWS::EC2::SecurityGroup", "ResourceName": "sg-0abc12"}]
    assert change.request_parameters == {"groupId": "sg-0abc12"}


def test_generated_event_ids_are_stable_and_events_sorted() -> None:
    scenario = load_scenario(SCENARIOS / "ecs-bad-deploy.yaml")
    first, second = trail_events(scenario, NOW), trail_events(scenario, NOW + timedelta(hours=1))
    assert [e.event_id for e in first] == [e.event_id for e in second]
    assert len({e.event_id for e in first}) == len(first)
    assert [e.at for e in first] == sorted(e.at for e in first)


def test_config_change_culprit_is_findable_by_resource() -> None:
    scenario = load_scenario(SCENARIOS / "config-change-sg.yaml")
    trail = CloudTrailState(clock=lambda: NOW)
    seed_standins(scenario, NOW, cloudtrail=trail)
    found = trail.lookup("ResourceName", "sg-0d4e6f8a1b2c3d4e5", NOW - timedelta(hours=1), NOW)
    assert scenario.truth.culprit in {event.event_id for event in found}
    assert {event.event_name for event in found} == {"RevokeSecurityGroupIngress"}


@pytest.mark.parametrize(
    ("source", "resource", "kind"),
    [
        ("ec2.amazonaws.com", "sg-0abc12", "AWS::EC2::SecurityGroup"),
        ("ssm.amazonaws.com", "/checkout/prod/flag", "AWS::SSM::Parameter"),
        ("sqs.amazonaws.com", "orders-queue", "AWS::SQS::Resource"),
        ("lambda.amazonaws.com", "order-events-consumer", "AWS::Lambda::Function"),
        ("rds.amazonaws.com", "ledger-db", "AWS::RDS::DBInstance"),
        (
            "elasticloadbalancing.amazonaws.com",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/0a1b2c3d4e5f6a7b",
            "AWS::ElasticLoadBalancingV2::TargetGroup",
        ),
        (
            "elasticloadbalancing.amazonaws.com",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/prod-web/0a1b2c3d4e5f6a7b",
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
        ),
    ],
)
def test_resource_types(source: str, resource: str, kind: str) -> None:
    assert resource_type(source, resource) == kind


def test_a_parameter_group_change_names_a_parameter_group_not_an_instance() -> None:
    assert resource_type("rds.amazonaws.com", "ledger-db-pg15", "ModifyDBParameterGroup") == (
        "AWS::RDS::DBParameterGroup"
    )


def test_commits_pulls_deployments_and_issues_reach_github() -> None:
    github = GitHubState(clock=lambda: NOW)
    summary = seed_standins(load_scenario(SCENARIOS / "ecs-bad-deploy.yaml"), NOW, github=github)
    repo = github.repo("acme/checkout")
    assert repo is not None
    assert [c.sha for c in repo.commits] == ["b7d3f19", "9e0a1b2", "4c9e2b7"]  # oldest first
    pull = repo.pulls[2291]
    assert pull.head_sha == "4c9e2b7" and pull.merged_at == NOW - timedelta(minutes=47)
    assert [(d.sha, d.environment) for d in repo.deployments] == [("b7d3f19", "prod"), ("4c9e2b7", "prod")]
    (issue,) = github.issues("acme/checkout")
    assert issue.number == 2302 and issue.labels == ["flaky-test", "ci"]
    assert summary.commits == 4 and summary.pulls == 3 and summary.github_deployments == 3


def test_tickets_reach_servicenow_with_state_codes_and_dates() -> None:
    servicenow = ServiceNowState(clock=lambda: NOW)
    summary = seed_standins(load_scenario(SPEC), NOW, servicenow=servicenow)
    (change,) = servicenow.records("change_request")
    assert change["number"] == "CHG0031042" and change["cmdb_ci"] == "checkout-service"
    assert change["state"] == "-1"  # implement
    assert change["start_date"] == "2026-03-14 14:39:26" and change["end_date"] == "2026-03-14 15:39:26"
    (incident,) = servicenow.records("incident")
    assert incident["state"] == "6" and incident["opened_at"] == "2026-03-12 15:09:26"
    assert summary.servicenow_records == 2


@pytest.mark.parametrize(
    ("table", "label", "code"),
    [("incident", "Resolved", "6"), ("change_request", "scheduled", "-2"), ("problem", "fix_in_progress", "104"),
     ("incident", "6", "6"), ("sc_task", "open", "open")],
)  # fmt: skip
def test_servicenow_state_labels(table: str, label: str, code: str) -> None:
    assert servicenow_state(table, label) == code


def test_only_the_given_standins_are_seeded() -> None:
    summary = seed_standins(load_scenario(SPEC), NOW)
    assert summary.commits == summary.servicenow_records == 0 and not summary.cloudtrail_event_ids
