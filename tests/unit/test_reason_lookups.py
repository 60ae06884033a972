"""The model's read-only lookups: run in rounds within the tool-call, round and time budgets, their results kept
as evidence the answer may cite, what a budget cuts recorded as a gap; targets limited to the neighbourhood."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from oncall_agent.domain.catalog import Service
from oncall_agent.domain.evidence import Category, Evidence, EvidenceKind, Hypothesis
from oncall_agent.domain.reasoning import Lookup, RankedCandidate, Reasoning, ReasoningReply, Usage
from oncall_agent.domain.records import ChangeRecord, DeployRecord
from oncall_agent.investigation.deps import Deps, LlmLimits
from oncall_agent.investigation.reasoning.lookups import make_lookup, neighbours
from oncall_agent.investigation.reasoning.step import reason_over

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
DEPLOY = Evidence(kind=EvidenceKind.DEPLOY, source="ecs", entity="checkout", summary="deploy checkout:118")
HYPOTHESES = [
    Hypothesis(category=Category.DEPLOY, culprit="checkout:118", confidence=0.55, evidence_for=[DEPLOY.id]),
    Hypothesis(category=Category.DEPENDENCY, culprit="payments", confidence=0.5, evidence_for=[DEPLOY.id]),
]
SCOPE = {
    "incident_id": "inc-1",
    "service": "checkout",
    "alarm_name": "checkout-5xx",
    "region": "us-east-1",
    "onset": NOW.isoformat(),
    "window_start": (NOW - timedelta(hours=3)).isoformat(),
    "now": (NOW + timedelta(minutes=5)).isoformat(),
}


def found(request: Lookup) -> Evidence:
    return Evidence(
        kind=EvidenceKind.LOG_SIGNATURE, source="logs", entity=request.target, summary=f"{request.tool} says so"
    )


class Looker:
    """A fake model: asks for `asks` lookups in each of its first `rounds_asking` rounds, then answers citing
    whatever the lookups found (their ids are in the prompt it gets)."""

    def __init__(self, asks: list[Lookup], rounds_asking: int = 1) -> None:
        self.asks, self.rounds_asking, self.prompts = asks, rounds_asking, []  # type: list[str]

    def reason(self, system: str, prompt: str) -> ReasoningReply:
        self.prompts.append(prompt)
        usage = Usage(input_tokens=1000, output_tokens=100)
        if len(self.prompts) <= self.rounds_asking:
            return ReasoningReply(reasoning=Reasoning(lookups=self.asks), usage=usage, model_id="m")
        cited = [e.id for a in self.asks if (e := found(a)).id in prompt]
        answer = Reasoning(ranking=[RankedCandidate(key="h2", cites=cited)], narrative="payments, per its logs")
        return ReasoningReply(reasoning=answer, usage=usage, model_id="m")


class Runner:
    def __init__(self) -> None:
        self.ran: list[Lookup] = []

    def __call__(self, request: Lookup, seconds: float) -> list[Evidence]:
        assert seconds > 0
        self.ran.append(request)
        return [found(request)]


ASK_PAYMENTS = Lookup(tool="logs", target="payments", why="the dependency's own errors")


def test_a_lookup_round_adds_evidence_the_answer_cites() -> None:
    model, runner = Looker([ASK_PAYMENTS]), Runner()
    limits = LlmLimits(model_id="m", max_rounds=2, max_tool_calls=3, price_per_million=(1.0, 1.0))
    out = reason_over(SCOPE, [DEPLOY], HYPOTHESES, model, limits, 0.5, lookup=runner, services=["checkout", "payments"])
    assert runner.ran == [ASK_PAYMENTS]
    assert "up to 3 read-only lookups" in model.prompts[0] and "No lookups are left" in model.prompts[1]
    assert found(ASK_PAYMENTS).id in model.prompts[1]
    assert found(ASK_PAYMENTS) in out.added
    assert out.hypotheses[0].culprit == "payments"  # within the evidence's margin, and cited what it found
    assert out.totals["dropped_claims"] == 0
    assert (out.totals["calls"], out.totals["tool_calls"], out.totals["input_tokens"]) == (2, 1, 2000)


def test_lookups_past_the_tool_call_budget_are_cut_and_recorded() -> None:
    asks = [Lookup(tool="past_incidents", target=f"s{n}") for n in range(5)]
    model, runner = Looker(asks), Runner()
    limits = LlmLimits(model_id="m", max_rounds=3, max_tool_calls=2)
    out = reason_over(SCOPE, [DEPLOY], HYPOTHESES, model, limits, 0.5, lookup=runner)
    assert [r.target for r in runner.ran] == ["s0", "s1"]
    cuts = [e for e in out.added if e.details.get("gap") == "tool_budget"]
    assert len(cuts) == 1 and "3 lookup(s)" in cuts[0].summary


def test_a_model_that_keeps_asking_is_stopped_by_the_rounds() -> None:
    model, runner = Looker([ASK_PAYMENTS], rounds_asking=99), Runner()
    limits = LlmLimits(model_id="m", max_rounds=3, max_tool_calls=10)
    out = reason_over(SCOPE, [DEPLOY], HYPOTHESES, model, limits, 0.5, lookup=runner)
    assert len(model.prompts) == 3 and len(runner.ran) == 2  # the last round offers none
    assert out.hypotheses == HYPOTHESES and out.totals["failure"] is None
    assert any(e.details.get("gap") == "tool_budget" for e in out.added)


def test_without_lookups_none_are_offered() -> None:
    model = Looker([ASK_PAYMENTS])
    out = reason_over(SCOPE, [DEPLOY], HYPOTHESES, model, LlmLimits(model_id="m", max_rounds=2), 0.5)
    assert "No lookups are left" in model.prompts[0] and len(model.prompts) == 1
    assert any(e.details.get("gap") == "tool_budget" for e in out.added)


# -- the lookups themselves ------------------------------------------------------------------------------------


class Trail:
    """CloudTrail as the ChangeHistory port returns it (the adapter is tested against moto elsewhere)."""

    def changes(self, region: str, start: datetime, end: datetime) -> list[ChangeRecord]:
        self.window = (start, end)
        return [
            ChangeRecord(
                event_id="e1",
                at=NOW - timedelta(hours=20),
                name="ModifyDBParameterGroup",
                source="rds",
                resources=["arn:aws:rds:us-east-1:1:pg:orders-pg"],
            ),
            ChangeRecord(
                event_id="e2",
                at=NOW - timedelta(minutes=5),
                name="PutRule",
                source="events",
                resources=["arn:aws:events:us-east-1:1:rule/other"],
            ),
        ]


def _deps(**ports: Any) -> Deps:
    catalog = [
        Service(name="checkout", depends_on=["payments"]),
        Service(name="payments", repo="acme/payments"),
        Service(name="web", depends_on=["checkout"]),
        Service(name="billing"),
    ]
    return Deps(
        store=None,
        results=None,
        actions=None,
        catalog=catalog,
        default_region="us-east-1",
        runbooks=[],  # type: ignore[arg-type]
        policy=None,
        messenger=None,
        now=lambda: NOW,
        sleep=lambda _s: None,
        **ports,  # type: ignore[arg-type]
    )


def test_targets_are_the_service_and_its_neighbours() -> None:
    deps = _deps()
    assert neighbours(deps, "checkout") == ["checkout", "payments", "web"]
    [refused] = make_lookup(deps, SCOPE)(Lookup(tool="logs", target="billing"), 5.0)
    assert refused.kind is EvidenceKind.GAP and "not the incident's service or a neighbour" in refused.summary


def test_cloudtrail_reads_a_day_before_the_window_and_keeps_the_resources_writes() -> None:
    trail = Trail()
    items = make_lookup(_deps(changes=trail), SCOPE)(Lookup(tool="cloudtrail", target="orders-pg"), 5.0)
    assert [i.details["event_id"] for i in items] == ["e1"]
    assert trail.window[0] == datetime.fromisoformat(SCOPE["window_start"]) - timedelta(hours=24)


def test_a_lookup_without_its_source_is_a_gap() -> None:
    [item] = make_lookup(_deps(), SCOPE)(Lookup(tool="cloudtrail", target="orders-pg"), 5.0)
    assert item.kind is EvidenceKind.GAP


class Repo:
    """GitHub as the IssueTracker port reads it (the adapter is tested against the sandbox's stand-in)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def commits(self, repo: str, start: datetime, end: datetime) -> list[DeployRecord]:
        self.asked.append(repo)
        at = NOW - timedelta(minutes=12)
        return [
            DeployRecord(kind="github_commit", target=repo, identifier="9f1c2ab", at=at, details={"message": "pool 5"})
        ]

    def deployments(self, repo: str, start: datetime, end: datetime) -> list[DeployRecord]:
        return []


class NoAwsDeploys:
    def deploys(self, region: str, service: Service, start: datetime, end: datetime) -> list[DeployRecord]:
        return []


def test_deploys_of_a_neighbour_include_its_repository_commits() -> None:
    repo = Repo()
    items = make_lookup(_deps(issues=repo, deploys=NoAwsDeploys()), SCOPE)(
        Lookup(tool="deploys", target="payments"), 5.0
    )
    assert repo.asked == ["acme/payments"]
    assert [(i.kind, i.details["identifier"]) for i in items] == [(EvidenceKind.DEPLOY, "9f1c2ab")]
