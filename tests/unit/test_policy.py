"""The shipped Cedar policy and PolicyEngine: deny / auto / needs approval, reasons from @id annotations."""

from __future__ import annotations

from pathlib import Path

import pytest

from oncall_agent.domain.action import PolicyDecision
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.errors import ConfigError
from oncall_agent.response.policy import PolicyEngine, approvers_for, environment_of

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
D = PolicyDecision
CHANGES = ["ecs.rollback", "ecs.scale", "ecs.restart", "lambda.rollback", "codedeploy.rollback", "ssm.automation"]


@pytest.fixture(scope="module")
def policy() -> PolicyEngine:
    return PolicyEngine.from_folder(RUNBOOKS)


def service(**tags: str) -> Service:
    return Service(name="checkout", tags=tags)


@pytest.mark.parametrize("kind", CHANGES)
def test_prod_changes_need_approval(policy: PolicyEngine, kind: str) -> None:
    assert policy.decide(kind, service(env="prod", team="storefront")) == (D.APPROVAL, ["changes-need-approval"])


@pytest.mark.parametrize("kind", CHANGES)
@pytest.mark.parametrize("env", ["staging", "dev", "Test"])
def test_non_prod_changes_are_automatic(policy: PolicyEngine, kind: str, env: str) -> None:
    assert policy.decide(kind, service(environment=env)) == (D.AUTO, ["non-prod-auto"])


@pytest.mark.parametrize("tags", [{"env": "prod"}, {"env": "staging"}, {}, {"env": "prod", "change_freeze": "true"}])
def test_escalate_is_automatic_everywhere(policy: PolicyEngine, tags: dict[str, str]) -> None:
    assert policy.decide("escalate", service(**tags)) == (D.AUTO, ["escalate-auto"])


def test_unknown_environment_is_treated_like_prod(policy: PolicyEngine) -> None:
    assert policy.decide("ecs.rollback", service())[0] is D.APPROVAL
    assert policy.decide("ecs.rollback", service(env="perf-lab"))[0] is D.APPROVAL


@pytest.mark.parametrize("kind", ["ecs.delete_service", "ECS.ROLLBACK", 'ecs.rollback" || true', ""])
def test_unknown_kinds_are_denied_with_a_reason(policy: PolicyEngine, kind: str) -> None:
    decision, reasons = policy.decide(kind, service(env="staging"))
    assert decision is D.DENY
    assert reasons and "no policy permits" in reasons[0]


def test_change_freeze_forbids_changes_and_cites_the_policy(policy: PolicyEngine) -> None:
    assert policy.decide("ecs.rollback", service(env="staging", change_freeze="true")) == (D.DENY, ["change-freeze"])


def test_evaluate_names_the_approver_group(policy: PolicyEngine) -> None:
    assert policy.evaluate("ecs.rollback", service(env="prod", team="storefront")).approvers == "storefront"
    assert policy.evaluate("ecs.rollback", service(env="prod")).approvers == "oncall"
    assert policy.evaluate("escalate", service(env="prod")).approvers is None
    assert approvers_for(service()) == "oncall"
    assert environment_of(service(env=" PROD ")) == "prod"


def test_evaluation_errors_count_as_deny(tmp_path: Path) -> None:
    (tmp_path / "p.cedar").write_text(
        '@id("needs-missing-attr")\npermit (principal, action, resource) when { resource.owner == "x" };\n'
    )
    decision, reasons = PolicyEngine.from_folder(tmp_path).decide("escalate", service())
    assert decision is D.DENY
    assert any("policy error" in reason for reason in reasons)


def test_several_files_form_one_policy_set(tmp_path: Path) -> None:
    (tmp_path / "a.cedar").write_text(
        '@id("a")\npermit (principal, action == OncallAgent::Action::"escalate", resource);'
    )
    (tmp_path / "b.cedar").write_text(
        '@id("b")\npermit (principal, action == OncallAgent::Action::"ecs.scale", resource) when { context.approved };'
    )
    engine = PolicyEngine.from_folder(tmp_path)
    assert engine.decide("escalate", service()) == (D.AUTO, ["a"])
    assert engine.decide("ecs.scale", service()) == (D.APPROVAL, ["b"])


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("permit (principal, action, resource);", "no @id"),
        (
            '@id("x")\npermit (principal, action, resource);\n@id("x")\nforbid (principal, action, resource);',
            "more than one",
        ),
        ('@id("x")\npermit (principal, action, resource', "does not parse"),
        ("// nothing but a comment\n", "no policies"),
        ('@id("t")\npermit (principal == ?principal, action, resource);', "templates"),
    ],
)
def test_invalid_policies(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "p.cedar").write_text(text)
    with pytest.raises(ConfigError, match=problem):
        PolicyEngine.from_folder(tmp_path)


def test_folder_without_policies(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no \*\.cedar"):
        PolicyEngine.from_folder(tmp_path)
