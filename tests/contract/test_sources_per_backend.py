"""Evidence sources that read more than one backend fail per backend: an outage of one (an injected 502 on a
stand-in) is its own gap, and what the other backend read stands. Real adapters against the sandbox: moto and the
CloudTrail stand-in for AWS deploys, the GitHub and ServiceNow stand-ins, scenario ecs-bad-deploy.

moto's state is global to the process: the world resets it (xdist: --dist loadfile keeps modules apart).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from oncall_agent.adapters.aws.clients import make_client
from oncall_agent.adapters.aws.cloudtrail import CloudTrailDeployHistory
from oncall_agent.adapters.github import GitHubTracker
from oncall_agent.adapters.servicenow import ServiceNowTracker
from oncall_agent.domain.evidence import Evidence, EvidenceKind
from oncall_agent.investigation.deps import Deps, Limits
from oncall_agent.investigation.sources import gather_one
from oncall_agent.sandbox.scenario import load_scenario
from oncall_agent.sandbox.scenario_model import ServiceNowTicket
from oncall_agent.sandbox.seed_standins import servicenow_fields
from oncall_agent.sandbox.standins import FaultRule
from oncall_agent.sandbox.world import GITHUB_TOKEN, SERVICENOW_PASSWORD, SERVICENOW_USER, SandboxWorld
from tests.conftest import SCENARIOS

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

GITHUB_DOWN = FaultRule(None, r"^/repos/", status=502)
SERVICENOW_DOWN = FaultRule(None, r"^/api/now/table/change_request", status=502)
CLOUDTRAIL_DOWN = FaultRule(None, r".*", status=502)


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[SandboxWorld, datetime]]:
    world = SandboxWorld(load_scenario(SCENARIOS / "ecs-bad-deploy.yaml"))
    try:
        world.start()
        now = datetime.now(UTC)
        world.seed(now)
        # a change request on checkout's own CI, so both ticket backends have something to lose
        change = ServiceNowTicket.model_validate(
            {"system": "servicenow", "table": "change_request", "number": "CHG0049001",
             "short_description": "Rotate checkout DB credentials", "ci": "checkout-service",
             "start": "-30m", "end": "+30m", "state": "implement"}
        )  # fmt: skip
        world.servicenow.add_record("change_request", servicenow_fields(change, now))
        yield world, now
    finally:
        world.stop()


@pytest.fixture(autouse=True)
def no_faults(world: tuple[SandboxWorld, datetime]) -> Iterator[None]:
    yield
    for injector in world[0].faults.values():
        injector.clear()


def deps_for(world: SandboxWorld, now: datetime) -> Deps:
    endpoints = world.endpoints
    assert endpoints is not None

    def client(service: str, endpoint: str) -> Any:
        return functools.partial(
            make_client, service, endpoint_url=endpoint, access_key_id="t", secret_access_key="t", max_attempts=1
        )

    deploys = CloudTrailDeployHistory(
        client("cloudtrail", endpoints.cloudtrail),
        ecs_for_region=client("ecs", endpoints.aws),
        lambda_for_region=client("lambda", endpoints.aws),
        codedeploy_for_region=client("codedeploy", endpoints.aws),
    )
    no_wait = {"sleep": lambda _s: None}
    return Deps(
        store=None,  # type: ignore[arg-type] - the deploys and tickets sources read no store
        results=None,  # type: ignore[arg-type]
        actions=None,  # type: ignore[arg-type]
        catalog=list(world.scenario.services),
        default_region=world.scenario.region,
        runbooks=[],
        policy=None,  # type: ignore[arg-type]
        messenger=None,  # type: ignore[arg-type]
        now=lambda: now,
        sleep=lambda _s: None,
        limits=Limits(source_timeout_seconds=30),
        deploys=deploys,
        issues=GitHubTracker(endpoints.github, GITHUB_TOKEN, write_interval=0, backoff_base=0, **no_wait),
        tickets=ServiceNowTracker(
            endpoints.servicenow, SERVICENOW_USER, SERVICENOW_PASSWORD, max_attempts=2, **no_wait
        ),
    )


def scope(now: datetime) -> dict[str, Any]:
    return {
        "incident_id": "inc-per-backend",
        "service": "checkout",
        "region": "us-east-1",
        "alarm_name": "checkout-alb-5xx",
        "alarm_names": ["checkout-alb-5xx"],
        "metric": None,
        "onset": (now - timedelta(minutes=3)).isoformat(),
        "window_start": (now - timedelta(hours=3)).isoformat(),
        "now": now.isoformat(),
    }


def gathered(world: tuple[SandboxWorld, datetime], source: str) -> tuple[list[Evidence], list[Evidence]]:
    """(the source's evidence that is not a gap, its gaps)."""
    found = gather_one(deps_for(*world), source, scope(world[1])).evidence
    return [e for e in found if e.kind is not EvidenceKind.GAP], [e for e in found if e.kind is EvidenceKind.GAP]


def from_github(item: Evidence) -> bool:
    return str(item.details.get("kind")).startswith("github_")


def test_deploys_from_aws_survive_a_github_outage(world: tuple[SandboxWorld, datetime]) -> None:
    healthy, no_gaps = gathered(world, "deploys")
    aws = [e for e in healthy if not from_github(e)]
    assert not no_gaps and aws and len(aws) < len(healthy)  # both backends had something to say
    assert any(e.entity == "checkout:118" for e in aws)  # the culprit comes from the CloudTrail ECS deploy

    world[0].faults["github"].add(GITHUB_DOWN)
    found, (gap,) = gathered(world, "deploys")

    assert found == aws
    assert gap.source == "deploys" and "GitHub" in gap.summary and "502" in gap.summary


def test_github_deploy_history_survives_a_cloudtrail_outage(world: tuple[SandboxWorld, datetime]) -> None:
    healthy, _ = gathered(world, "deploys")
    github = [e for e in healthy if from_github(e)]
    assert github

    world[0].faults["cloudtrail"].add(CLOUDTRAIL_DOWN)
    found, (gap,) = gathered(world, "deploys")

    assert found == github
    assert "AWS deploy history" in gap.summary


@pytest.mark.parametrize(
    ("down", "rule", "lost"), [("github", GITHUB_DOWN, "github"), ("servicenow", SERVICENOW_DOWN, "servicenow")]
)
def test_tickets_of_one_tracker_survive_the_other_trackers_outage(
    world: tuple[SandboxWorld, datetime], down: str, rule: FaultRule, lost: str
) -> None:
    healthy, no_gaps = gathered(world, "tickets")
    kept = [e for e in healthy if not e.entity.startswith(f"{lost}:")]
    assert not no_gaps and kept and len(kept) < len(healthy)

    world[0].faults[down].add(rule)
    found, (gap,) = gathered(world, "tickets")

    assert found == kept
    assert gap.source == "tickets" and {"github": "GitHub", "servicenow": "ServiceNow"}[lost] in gap.summary
