"""Runbook loading (strict), matching, and parameter rendering in the Jinja2 sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from oncall_agent.domain.catalog import Service
from oncall_agent.domain.errors import ConfigError
from oncall_agent.domain.evidence import Category, Hypothesis
from oncall_agent.response.runbooks import (
    RenderError,
    RunbookAction,
    load_runbooks,
    match,
    parse_runbook,
    render_parameters,
    shipped_runbooks_dir,
)

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
ECS = Service.model_validate(
    {"name": "checkout", "ecs": {"cluster": "prod-web", "service": "checkout"}, "tags": {"team": "storefront"}}
)
LAMBDA = Service.model_validate({"name": "indexer", "lambda": {"function": "indexer", "alias": "live"}})
ECS_DEPLOY = {"kind": "ecs", "identifier": "checkout:118", "previous": "checkout:117"}

GOOD = """---
id: sample
title: Sample
match: {categories: [deploy], alarm_names: ["*-5xx*"], namespaces: [AWS/ApplicationELB]}
actions:
  - {kind: ecs.restart, risk: low, parameters: {cluster: "{{ service.ecs.cluster }}"}}
---
Body for *people*.
"""


def hypothesis(category: Category = Category.DEPLOY) -> Hypothesis:
    return Hypothesis(category=category, culprit="checkout:118", confidence=0.8)


def write(tmp_path: Path, text: str, name: str = "rb.md") -> Path:
    (tmp_path / name).write_text(text)
    return tmp_path


def test_shipped_runbooks_load() -> None:
    runbooks = {rb.id: rb for rb in load_runbooks(RUNBOOKS)}
    assert {"ecs-bad-deploy", "lambda-bad-deploy", "codedeploy-bad-deploy", "escalate"} <= set(runbooks)
    assert [a.kind for a in runbooks["lambda-bad-deploy"].actions] == ["lambda.rollback"]
    assert [a.kind for a in runbooks["codedeploy-bad-deploy"].actions] == ["codedeploy.rollback"]
    assert [a.kind for a in runbooks["ecs-bad-deploy"].actions] == ["ecs.rollback"]
    assert runbooks["ecs-bad-deploy"].body.startswith("# Roll back")
    assert runbooks["escalate"].actions[0].risk == "low"


def test_a_high_risk_action_may_require_a_change(tmp_path: Path) -> None:
    text = GOOD.replace("risk: low", "risk: high, change: required")
    assert text != GOOD
    (book,) = load_runbooks(write(tmp_path, text, "change.md"))
    assert book.actions[0].change == "required"
    (tmp_path / "plain").mkdir()
    (plain,) = load_runbooks(write(tmp_path / "plain", GOOD, "plain.md"))
    assert plain.actions[0].change == "none"


def test_shipped_folder_is_found() -> None:
    assert shipped_runbooks_dir() == RUNBOOKS


def test_ecs_bad_deploy_matches_a_deploy_on_an_ecs_service_only() -> None:
    runbooks = load_runbooks(RUNBOOKS)
    ids = [rb.id for rb in match(runbooks, hypothesis(), ECS, "checkout-alb-5xx", "AWS/ApplicationELB", ECS_DEPLOY)]
    assert ids == ["ecs-bad-deploy", "escalate"]
    lambda_deploy = {"kind": "lambda", "identifier": "pricing-fn:17", "previous": "16"}
    assert [rb.id for rb in match(runbooks, hypothesis(), LAMBDA, "x", None, lambda_deploy)] == [
        "escalate",
        "lambda-bad-deploy",
    ]
    commit = {"kind": "github_commit", "identifier": "4c9e2b7", "previous": "9e0a1b2"}
    assert [rb.id for rb in match(runbooks, hypothesis(), ECS, "x", None, commit)] == ["escalate"]
    assert [rb.id for rb in match(runbooks, hypothesis(), ECS, "x", None, None)] == ["escalate"]


@pytest.mark.parametrize("category", list(Category))
def test_escalate_matches_every_category(category: Category) -> None:
    runbooks = load_runbooks(RUNBOOKS)
    assert "escalate" in [rb.id for rb in match(runbooks, hypothesis(category), Service(name="x"), None, None)]


def test_alarm_name_and_namespace_globs(tmp_path: Path) -> None:
    runbooks = load_runbooks(write(tmp_path, GOOD))
    assert match(runbooks, hypothesis(), ECS, "checkout-5xx-high", "AWS/ApplicationELB")
    assert not match(runbooks, hypothesis(), ECS, "checkout-latency", "AWS/ApplicationELB")
    assert not match(runbooks, hypothesis(), ECS, "checkout-5xx-high", "AWS/Lambda")
    assert not match(runbooks, hypothesis(), ECS, None, None)  # a condition on the alarm needs an alarm
    assert not match(runbooks, hypothesis(Category.DEPENDENCY), ECS, "checkout-5xx-high", "AWS/ApplicationELB")


def test_services_glob(tmp_path: Path) -> None:
    runbooks = load_runbooks(
        write(tmp_path, GOOD.replace("categories: [deploy]", "categories: ['*'], services: [check*]"))
    )
    assert match(runbooks, hypothesis(), ECS, "a-5xx", "AWS/ApplicationELB")
    assert not match(runbooks, hypothesis(), LAMBDA, "a-5xx", "AWS/ApplicationELB")


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (("title: Sample", "title: Sample\nowner: me"), "owner"),
        (("alarm_names", "alarm_glob"), "match.alarm_glob"),
        (("kind: ecs.restart", "kind: rm -rf"), "actions.0.kind"),
        (("kind: ecs.restart", "kind: ecs.delete_service"), "actions.0.kind"),
        (("risk: low", "risk: extreme"), "actions.0.risk"),
        (("risk: low", "risk: low, change: required"), "actions.0"),  # a change only for risk: high
        (("risk: low", "risk: high, change: maybe"), "actions.0.change"),
        (("{{ service.ecs.cluster }}", "{{ service.ecs.cluster "), "actions.0.parameters"),
        (("categories: [deploy]", "categories: [deploys]"), "match.categories"),
        (("id: sample", "id: Sample Book"), "id"),
        (
            (
                'actions:\n  - {kind: ecs.restart, risk: low, parameters: {cluster: "{{ service.ecs.cluster }}"}}',
                "actions: []",
            ),
            "actions",
        ),
        (("title: Sample", "title: Sample\nbody: injected"), "body"),
    ],
)
def test_invalid_runbooks_name_file_and_field(tmp_path: Path, edit: tuple[str, str], field: str) -> None:
    old, new = edit
    assert old in GOOD
    folder = write(tmp_path, GOOD.replace(old, new), "broken.md")
    with pytest.raises(ConfigError) as caught:
        load_runbooks(folder)
    assert "broken.md" in str(caught.value)
    assert f": {field}" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("no front matter\n", "must start with"),
        ("---\nid: x\n", "not closed"),
        ("---\n[unclosed\n---\n", "not valid YAML"),
        ("---\n- a list\n---\n", "must be a mapping"),
    ],
)
def test_malformed_files(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_runbook(text, "bad.md")


def test_duplicate_ids_and_missing_folder(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.md")
    write(tmp_path, GOOD, "b.md")
    with pytest.raises(ConfigError, match="already used"):
        load_runbooks(tmp_path)
    with pytest.raises(ConfigError, match="not found"):
        load_runbooks(tmp_path / "nope")


def test_render_fills_every_parameter() -> None:
    action = RunbookAction(
        kind="ecs.rollback", parameters={"c": "{{ service.ecs.cluster }}", "t": "{{ culprit_deploy.previous }}"}
    )
    context = {"service": ECS.model_dump(by_alias=True), "culprit_deploy": ECS_DEPLOY}
    assert render_parameters(action, context) == {"c": "prod-web", "t": "checkout:117"}


@pytest.mark.parametrize(
    "deploy",
    [
        None,
        {"kind": "ecs", "identifier": "checkout:118"},
        {"kind": "ecs", "identifier": "checkout:118", "previous": None},
    ],
)
def test_missing_fact_means_no_action_not_a_half_filled_one(deploy: dict[str, object] | None) -> None:
    action = RunbookAction(kind="ecs.rollback", parameters={"t": "{{ culprit_deploy.previous }}"})
    with pytest.raises(RenderError, match="'t'"):
        render_parameters(action, {"culprit_deploy": deploy})


def test_empty_render_is_refused() -> None:
    action = RunbookAction(kind="escalate", parameters={"team": "{{ service.tags.team | default('') }}"})
    with pytest.raises(RenderError, match="empty"):
        render_parameters(action, {"service": {"tags": {}}})


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.system('id') }}",
        "{{ service.__class__ }}",
    ],
)
def test_templates_run_in_a_sandbox(template: str) -> None:
    action = RunbookAction(kind="escalate", parameters={"team": template})
    with pytest.raises(RenderError):
        render_parameters(action, {"service": {"name": "x"}})


def test_escalate_team_defaults_to_oncall() -> None:
    escalate = next(rb for rb in load_runbooks(RUNBOOKS) if rb.id == "escalate").actions[0]
    assert render_parameters(escalate, {"service": {"tags": {}}}) == {"team": "oncall"}
    assert render_parameters(escalate, {"service": {"tags": {"team": "payments"}}}) == {"team": "payments"}
