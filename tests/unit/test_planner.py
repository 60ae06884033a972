"""The planner: runbooks x hypotheses x policy -> proposed actions with stable ids and digests."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from oncall_agent.domain.action import ActionStatus, PolicyDecision, action_digest
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.evidence import Category, Evidence, EvidenceKind, Hypothesis
from oncall_agent.response.planner import culprit_deploy, plan, planned_hypotheses, propose
from oncall_agent.response.policy import Decision, PolicyEngine
from oncall_agent.response.runbooks import Runbook, load_runbooks

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TTL = timedelta(hours=2)
CHECKOUT = Service.model_validate(
    {
        "name": "checkout",
        "ecs": {"cluster": "prod-web", "service": "checkout"},
        "tags": {"team": "storefront", "env": "prod"},
    }
)
D = PolicyDecision


def deploy(identifier: str, previous: str | None, kind: str = "ecs", minutes: int = 9) -> Evidence:
    details = {
        "kind": kind,
        "service": "checkout",
        "target": "checkout",
        "identifier": identifier,
        "previous": previous,
        "at": (NOW - timedelta(minutes=minutes)).isoformat(),
        "details": {"cluster": "prod-web", "ecs_service": "checkout"},
    }
    return Evidence(
        kind=EvidenceKind.DEPLOY, source="ecs", entity="checkout", summary=f"deploy {identifier}", details=details
    )


def ranked(category: Category, culprit: str | None, confidence: float, cites: list[Evidence]) -> Hypothesis:
    return Hypothesis(category=category, culprit=culprit, confidence=confidence, evidence_for=[e.id for e in cites])


@pytest.fixture(scope="module")
def runbooks() -> list[Runbook]:
    return load_runbooks(RUNBOOKS)


@pytest.fixture(scope="module")
def policy() -> PolicyEngine:
    return PolicyEngine.from_folder(RUNBOOKS)


def run(runbooks, policy, hypotheses, evidence, service=CHECKOUT, incident="inc-1"):
    by_id = {e.id: e for e in evidence}
    return propose(incident, hypotheses, by_id, service, "checkout-alb-5xx", runbooks, policy, NOW, TTL)


def test_bad_ecs_deploy_proposes_rollback_then_escalate(runbooks, policy) -> None:
    bad = deploy("checkout:118", "checkout:117")
    actions = run(runbooks, policy, [ranked(Category.DEPLOY, "checkout:118", 0.86, [bad])], [bad])
    assert [a.kind for a in actions] == ["ecs.rollback", "escalate"]
    rollback, escalate = actions
    assert rollback.parameters == {"cluster": "prod-web", "service": "checkout", "task_definition": "checkout:117"}
    assert rollback.digest == action_digest("ecs.rollback", rollback.parameters)
    assert (rollback.policy, rollback.risk, rollback.runbook_id) == (D.APPROVAL, "medium", "ecs-bad-deploy")
    assert rollback.status is ActionStatus.PROPOSED and rollback.incident_id == "inc-1"
    assert escalate.parameters == {"team": "storefront"} and escalate.policy is D.AUTO
    # The owning team (the service's `team` tag) approves; an automatic action has no approver group.
    assert (rollback.approvers, escalate.approvers) == ("storefront", None)
    assert all(re.fullmatch(r"act-[0-9a-f]{12}", a.id) for a in actions)


def test_ids_are_stable_per_incident_and_action(runbooks, policy) -> None:
    bad = deploy("checkout:118", "checkout:117")
    hypotheses = [ranked(Category.DEPLOY, "checkout:118", 0.86, [bad])]
    first = run(runbooks, policy, hypotheses, [bad])
    again = run(runbooks, policy, hypotheses, [bad])
    other = run(runbooks, policy, hypotheses, [bad], incident="inc-2")
    assert [a.id for a in first] == [a.id for a in again]
    assert not {a.id for a in first} & {a.id for a in other}


def test_no_previous_task_definition_means_no_rollback(runbooks, policy) -> None:
    bad = deploy("checkout:118", None)
    result = plan(
        "inc-1",
        [ranked(Category.DEPLOY, "checkout:118", 0.9, [bad])],
        {bad.id: bad},
        CHECKOUT,
        "checkout-alb-5xx",
        runbooks,
        policy,
        NOW,
        TTL,
    )
    assert [a.kind for a in result.actions] == ["escalate"]
    assert [(s.runbook_id, s.kind) for s in result.skipped] == [("ecs-bad-deploy", "ecs.rollback")]
    assert "task_definition" in result.skipped[0].reason
    assert result.expires_at == NOW + TTL


@pytest.mark.parametrize("category", [Category.UNKNOWN, Category.DEPENDENCY, Category.CONFIG_CHANGE])
def test_other_categories_only_escalate(runbooks, policy, category: Category) -> None:
    bad = deploy("checkout:118", "checkout:117")
    actions = run(runbooks, policy, [ranked(category, None, 0.7, [bad])], [bad])
    assert [a.kind for a in actions] == ["escalate"]


def test_lambda_service_gets_no_ecs_rollback(runbooks, policy) -> None:
    indexer = Service.model_validate({"name": "indexer", "lambda": {"function": "indexer"}, "tags": {"env": "prod"}})
    release = deploy("indexer:31", "30", kind="lambda")
    actions = run(runbooks, policy, [ranked(Category.DEPLOY, "indexer:31", 0.9, [release])], [release], service=indexer)
    assert [(a.kind, a.parameters) for a in actions] == [("escalate", {"team": "oncall"})]


def test_denied_kinds_are_never_proposed(runbooks, policy) -> None:
    frozen = CHECKOUT.model_copy(update={"tags": {"env": "prod", "change_freeze": "true"}})
    bad = deploy("checkout:118", "checkout:117")
    result = plan(
        "inc-1",
        [ranked(Category.DEPLOY, "checkout:118", 0.9, [bad])],
        {bad.id: bad},
        frozen,
        "checkout-alb-5xx",
        runbooks,
        policy,
        NOW,
        TTL,
    )
    assert [a.kind for a in result.actions] == ["escalate"]
    assert result.skipped[0].reason == "denied by policy: change-freeze"


def test_staging_rollback_is_automatic(runbooks, policy) -> None:
    staging = CHECKOUT.model_copy(update={"tags": {"env": "staging"}})
    bad = deploy("checkout:118", "checkout:117")
    actions = run(runbooks, policy, [ranked(Category.DEPLOY, "checkout:118", 0.9, [bad])], [bad], service=staging)
    assert [(a.kind, a.policy) for a in actions] == [("ecs.rollback", D.AUTO), ("escalate", D.AUTO)]


def test_a_close_second_hypothesis_is_planned_too_without_duplicates(runbooks, policy) -> None:
    bad = deploy("checkout:118", "checkout:117")
    hypotheses = [ranked(Category.CONFIG_CHANGE, "sg-1", 0.55, []), ranked(Category.DEPLOY, "checkout:118", 0.5, [bad])]
    assert [a.kind for a in run(runbooks, policy, hypotheses, [bad])] == ["ecs.rollback", "escalate"]
    distant = [ranked(Category.CONFIG_CHANGE, "sg-1", 0.8, []), ranked(Category.DEPLOY, "checkout:118", 0.5, [bad])]
    assert [a.kind for a in run(runbooks, policy, distant, [bad])] == ["escalate"]
    assert planned_hypotheses([]) == []


def test_culprit_deploy_prefers_the_named_one_then_the_services_kind() -> None:
    old = deploy("checkout:117", "checkout:116", minutes=3000)
    bad = deploy("checkout:118", "checkout:117")
    commit = deploy("4c9e2b7", "9e0a1b2", kind="github_commit", minutes=47)
    by_id = {e.id: e for e in (old, bad, commit)}
    named = ranked(Category.DEPLOY, "CHECKOUT:118", 0.9, [commit, old, bad])
    assert culprit_deploy(named, by_id, CHECKOUT)["identifier"] == "checkout:118"
    by_commit = ranked(Category.DEPLOY, "4c9e2b7", 0.9, [commit, bad])
    assert culprit_deploy(by_commit, by_id, CHECKOUT)["identifier"] == "4c9e2b7"
    unnamed = ranked(Category.DEPLOY, "acme/checkout#2291", 0.9, [commit, bad])
    assert culprit_deploy(unnamed, by_id, CHECKOUT)["identifier"] == "checkout:118"
    uncited = Hypothesis(category=Category.DEPLOY, confidence=0.9, evidence_for=["ev-unknown"])
    assert culprit_deploy(uncited, by_id, CHECKOUT) == {}


def test_a_commit_culprit_is_not_rolled_back_as_an_ecs_revision(runbooks, policy) -> None:
    commit = deploy("4c9e2b7", "9e0a1b2", kind="github_commit", minutes=47)
    bad = deploy("checkout:118", "checkout:117")
    only_commit = run(runbooks, policy, [ranked(Category.DEPLOY, "4c9e2b7", 0.9, [commit, bad])], [commit, bad])
    assert [a.kind for a in only_commit] == ["escalate"]  # the named culprit is a commit: no ECS revision to return to


def test_no_hypotheses_no_actions(runbooks, policy) -> None:
    assert run(runbooks, policy, [], []) == []


class DenyAll:
    def evaluate(self, kind: str, service: Service) -> Decision:
        return Decision(D.DENY, ["deny-all"])


def test_a_policy_that_denies_everything_leaves_nothing(runbooks) -> None:
    bad = deploy("checkout:118", "checkout:117")
    assert run(runbooks, DenyAll(), [ranked(Category.DEPLOY, "checkout:118", 0.9, [bad])], [bad]) == []


def test_exhausted_tasks_are_restarted_unless_autoscaling_pushed_them_over_a_limit(runbooks, policy) -> None:
    leak = Hypothesis(category=Category.RESOURCE_EXHAUSTION, culprit="checkout", confidence=0.9)
    assert next(a.kind for a in run(runbooks, policy, [leak], [])) == "ecs.restart"
    scaled = leak.model_copy(update={"features": {"scaled_out_first": 1.0}})
    assert [a.kind for a in run(runbooks, policy, [scaled], [])] == ["escalate"]
