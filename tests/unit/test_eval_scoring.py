"""SCENARIOS.md "Scoring" decisions on hand-built hypotheses and actions, and the report's totals and output."""

from __future__ import annotations

from typing import Any

import pytest

from oncall_agent.domain.evidence import Category, Hypothesis
from oncall_agent.eval.report import ScenarioResult, percentile, render, score, to_json, totals
from oncall_agent.sandbox.scenario import Truth

T = 0.5  # investigation.abstain_below
DEPLOY = Truth(
    category="deploy",
    culprit="checkout:42",
    accept=["a1b2c3d", "acme/checkout#812"],
    actions=["ecs.rollback"],
    forbid=["ecs.scale"],
)
UNKNOWN = Truth(category="unknown", forbid=["ecs.rollback"])
SURGE = Truth(category="traffic_surge", actions=["ecs.scale"])  # no single culprit


def h(category: str, culprit: str | None = None, confidence: float = 0.9) -> Hypothesis:
    return Hypothesis(category=Category(category), culprit=culprit, confidence=confidence)


# --- top-1 / top-3 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "culprit",
    [
        "checkout:42",
        "CHECKOUT:42",
        "a1b2c3d",  # accepted alias: the image / commit
        "acme/checkout#812",  # accepted alias: the PR
        "arn:aws:ecs:us-east-1:123456789012:task-definition/checkout:42",  # ARN form ends with the culprit
    ],
)
def test_deploy_culprit_named_in_any_accepted_form(culprit: str) -> None:
    result = score([h("deploy", culprit)], ["ecs.rollback"], DEPLOY, T)
    assert result.top1 and result.top3
    assert not result.confidently_wrong


@pytest.mark.parametrize("culprit", ["checkout:41", "xcheckout:42", "checkout:421", None])
def test_deploy_with_the_wrong_culprit_is_wrong(culprit: str | None) -> None:
    result = score([h("deploy", culprit)], ["ecs.rollback"], DEPLOY, T)
    assert not result.top1 and not result.top3
    assert result.confidently_wrong  # 0.9 >= 0.5


def test_right_culprit_under_the_wrong_category_is_wrong() -> None:
    result = score([h("config_change", "checkout:42")], [], DEPLOY, T)
    assert not result.top1 and result.confidently_wrong


def test_a_category_in_truth_also_is_right_for_the_same_culprit() -> None:
    shared = Truth(category="dependency", also=["resource_exhaustion"], culprit="search-cluster")
    assert score([h("resource_exhaustion", "search-cluster")], [], shared, T).top1
    assert score([h("dependency", "search-cluster")], [], shared, T).top1
    assert not score([h("infrastructure", "search-cluster")], [], shared, T).top1
    assert not score([h("resource_exhaustion", "other-cluster")], [], shared, T).top1


def test_top3_finds_the_truth_in_second_or_third_place_only() -> None:
    ranked = [h("config_change", "sg-1", 0.6), h("dependency", "payments", 0.2), h("deploy", "checkout:42", 0.1)]
    result = score(ranked, [], DEPLOY, T)
    assert not result.top1 and result.top3
    fourth = [*ranked[:2], h("unknown", None, 0.1), h("deploy", "checkout:42", 0.05)]
    assert not score(fourth, [], DEPLOY, T).top3


def test_category_alone_decides_when_the_truth_has_no_culprit() -> None:
    assert score([h("traffic_surge", None, 0.8)], ["ecs.scale"], SURGE, T).top1
    assert score([h("traffic_surge", "anything", 0.8)], ["ecs.scale"], SURGE, T).top1
    assert not score([h("deploy", "checkout:9", 0.8)], ["ecs.scale"], SURGE, T).top1


# --- unknown truth: abstention ----------------------------------------------------------------------------------


def test_unknown_truth_abstention_by_unknown_first() -> None:
    result = score([h("unknown", None, 0.7), h("deploy", "checkout:42", 0.2)], [], UNKNOWN, T)
    assert result.top1 and result.top3
    assert not result.confidently_wrong  # an abstaining `unknown` is right, whatever its confidence
    assert not result.abstained  # `abstained` counts the honest misses: only where the truth is not `unknown`


def test_unknown_truth_abstention_by_low_confidence() -> None:
    result = score([h("deploy", "checkout:42", 0.49)], [], UNKNOWN, T)
    assert result.top1 and not result.abstained and not result.confidently_wrong


def test_unknown_truth_with_a_confident_cause_is_confidently_wrong() -> None:
    result = score([h("deploy", "checkout:42", 0.5)], [], UNKNOWN, T)  # at the threshold: not abstaining
    assert not result.top1 and result.confidently_wrong and not result.abstained
    # top-3 applies the same test to each of the first three: a low-confidence second one abstains
    assert score([h("deploy", "checkout:42", 0.9), h("config_change", "sg-1", 0.1)], [], UNKNOWN, T).top3
    assert not score([h("deploy", "c:1", 0.9), h("deploy", "c:2", 0.8), h("deploy", "c:3", 0.7)], [], UNKNOWN, T).top3


def test_no_hypotheses_is_an_abstention() -> None:
    unknown = score([], [], UNKNOWN, T)
    assert unknown.top1 and unknown.top3 and not unknown.abstained and not unknown.confidently_wrong
    known = score([], [], DEPLOY, T)
    assert not known.top1 and not known.top3 and not known.confidently_wrong and known.abstained


# --- confidently wrong ------------------------------------------------------------------------------------------


def test_wrong_below_the_threshold_is_not_confidently_wrong() -> None:
    result = score([h("config_change", "sg-1", 0.49)], [], DEPLOY, T)
    assert not result.top1 and not result.confidently_wrong and result.abstained


def test_wrong_at_the_threshold_is_confidently_wrong() -> None:
    assert score([h("config_change", "sg-1", 0.5)], [], DEPLOY, T).confidently_wrong


def test_unknown_first_on_a_known_truth_is_an_abstention_never_confidently_wrong() -> None:
    low = score([h("unknown", None, 0.3), h("deploy", "checkout:42", 0.2)], ["ecs.rollback"], DEPLOY, T)
    assert not low.top1 and low.top3 and not low.confidently_wrong and low.abstained
    # however sure the agent is that it does not know, abstaining is a miss, not a confident wrong answer
    high = score([h("unknown", None, 0.9)], [], DEPLOY, T)
    assert not high.top1 and not high.confidently_wrong and high.abstained


def test_a_candidate_exactly_at_the_threshold_is_an_answer_not_an_abstention() -> None:
    wrong = score([h("config_change", "sg-1", T), h("unknown", None, 1 - T)], [], DEPLOY, T)
    assert not wrong.abstained and wrong.confidently_wrong and not wrong.top1
    right = score([h("deploy", "checkout:42", T)], ["ecs.rollback"], DEPLOY, T)
    assert right.top1 and not right.abstained and not right.confidently_wrong
    assert not score([h("deploy", "checkout:42", T)], [], UNKNOWN, T).top1  # an unknown truth: not abstaining


def test_just_below_the_threshold_is_an_abstention() -> None:
    below = score([h("config_change", "sg-1", T - 0.0001)], [], DEPLOY, T)
    assert below.abstained and not below.confidently_wrong


# --- Brier --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hypotheses", "truth", "expected"),
    [
        ([h("deploy", "checkout:42", 0.8)], DEPLOY, 0.04),  # right at 0.8: (0.8 - 1)²
        ([h("deploy", "checkout:41", 0.7)], DEPLOY, 0.49),  # wrong culprit at 0.7: (0.7 - 0)²
        ([h("deploy", "checkout:42", 0.5), h("unknown", None, 0.5)], DEPLOY, 0.25),  # at the threshold: (0.5 - 1)²
        # abstaining by `unknown` first: the best non-unknown hypothesis counts, here right at 0.3: (0.3 - 1)²
        ([h("unknown", None, 0.7), h("deploy", "checkout:42", 0.3)], DEPLOY, 0.49),
        # abstaining by low confidence: the best non-unknown is a wrong one at 0.2: 0.2²
        ([h("config_change", "sg-1", 0.2), h("deploy", "checkout:42", 0.1)], DEPLOY, 0.04),
        ([h("unknown", None, 0.9)], DEPLOY, 0.0),  # no cause proposed: confidence 0, wrong: 0²
        ([], DEPLOY, 0.0),
        ([h("unknown", None, 0.6), h("deploy", "checkout:42", 0.4)], UNKNOWN, 0.16),  # no cause is right: 0.4²
        ([h("deploy", "checkout:42", 0.9)], UNKNOWN, 0.81),  # confidently wrong about an unknown: 0.9²
        ([h("traffic_surge", "anything", 0.6)], SURGE, 0.16),  # no culprit in the truth: the category decides
    ],
)
def test_brier_terms_by_hand(hypotheses: list[Hypothesis], truth: Truth, expected: float) -> None:
    assert score(hypotheses, [], truth, T).brier == pytest.approx(expected)


def test_the_brier_total_is_the_mean_of_the_scenarios_that_ran() -> None:
    rows = [
        result("a", "deploy", 1.0, top1=True, brier=0.04),
        result("b", "deploy", 2.0, brier=0.49),
        result("c", "deploy", None, brier=None),  # could not be run: no term
    ]
    assert totals(rows)["brier"] == pytest.approx(0.265)
    assert totals([])["brier"] is None


def test_right_first_hypothesis_is_never_confidently_wrong() -> None:
    assert not score([h("deploy", "checkout:42", 0.99)], [], DEPLOY, T).confidently_wrong


# --- action -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        (["ecs.rollback", "escalate"], True),
        (["escalate", "ecs.rollback"], False),  # the first one counts
        ([], False),  # nothing proposed where a mitigation was expected
        (["ecs.rollback", "ecs.scale"], False),  # a forbidden action anywhere in the list
    ],
)
def test_action_against_accepted_and_forbidden_kinds(kinds: list[str], expected: bool) -> None:
    assert score([h("deploy", "checkout:42")], kinds, DEPLOY, T).action is expected


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        ([], True),  # empty truth.actions: proposing nothing is right
        (["escalate"], True),  # ... and so is escalating
        (["escalate", "ssm.automation"], False),  # anything other than escalate is not
        (["ecs.rollback"], False),  # (also forbidden here)
    ],
)
def test_action_with_empty_truth_actions(kinds: list[str], expected: bool) -> None:
    assert score([h("unknown", None, 0.8)], kinds, UNKNOWN, T).action is expected


def test_forbidden_action_fails_even_when_first_is_accepted() -> None:
    truth = Truth(category="dependency", culprit="payments", actions=["escalate"], forbid=["ecs.rollback"])
    assert score([h("dependency", "payments")], ["escalate"], truth, T).action
    assert not score([h("dependency", "payments")], ["escalate", "ecs.rollback"], truth, T).action


# --- totals, JSON, text -----------------------------------------------------------------------------------------


def result(id_: str, category: str, seconds: float | None, **marks: Any) -> ScenarioResult:
    flags: dict[str, Any] = {"top1": False, "top3": False, "action": False, "confidently_wrong": False, **marks}
    return ScenarioResult(id=id_, category=category, seconds=seconds, api_calls=7, **flags)


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0], 95) == 3.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 21)], 95) == 19.0


def test_totals_rates_and_json_shape() -> None:
    rows = [
        result("a", "deploy", 1.0, top1=True, top3=True, action=True, brier=0.01),
        result("b", "deploy", 3.0, top3=True, confidently_wrong=True, brier=0.81),
        result("c", "unknown", None),  # a failed run: counted in n, not in the latency percentiles nor the Brier
        result("d", "dependency", 2.0, top1=True, top3=True, brier=0.04),
        result("e", "dependency", 2.0, abstained=True, brier=0.09),
    ]
    summary = totals(rows)
    assert summary == {
        "n": 5,
        "top1": 0.4,
        "top3": 0.6,
        "action": 0.2,
        "abstained": 0.2,
        "confidently_wrong": 0.2,
        "brier": 0.2375,
        "p50_seconds": 2.0,
        "p95_seconds": 3.0,
    }
    doc = to_json(rows, {"latency_ms": 0})
    assert list(doc["totals"]) == [
        "n",
        "top1",
        "top3",
        "action",
        "abstained",
        "confidently_wrong",
        "brier",
        "p50_seconds",
        "p95_seconds",
    ]
    contract = ["id", "category", "top1", "top3", "action", "abstained", "confidently_wrong", "seconds", "api_calls"]
    assert all(list(row) == [*contract, "extra"] for row in doc["scenarios"])
    assert doc["scenarios"][1]["extra"]["brier"] == 0.81  # the per-scenario term, outside the row contract
    assert doc["by_category"]["deploy"] == {
        "n": 2,
        "top1": 0.5,
        "top3": 1.0,
        "action": 0.5,
        "abstained": 0.0,
        "confidently_wrong": 0.5,
        "brier": 0.41,
    }
    text = render(rows)
    assert "confidently_wrong" in text and "p95_seconds=3.00" in text and "dependency" in text
    assert "abstained=0.20" in text and "brier=0.237" in text
    assert totals([])["n"] == 0 and totals([])["p50_seconds"] is None


def test_a_category_in_truth_also_is_right_and_others_are_not() -> None:
    shared = Truth(category="dependency", also=["resource_exhaustion"], culprit="orders-db", actions=["escalate"])
    assert score([h("resource_exhaustion", "orders-db")], ["escalate"], shared, T).top1
    assert score([h("dependency", "orders-db")], ["escalate"], shared, T).top1
    assert not score([h("infrastructure", "orders-db")], ["escalate"], shared, T).top1
