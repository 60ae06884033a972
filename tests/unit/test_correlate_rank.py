"""rank(): one feature at a time on small hand-made worlds, then the ordering and abstention rules."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from oncall_agent.domain.alarm import AlarmState, MetricSpec
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.evidence import Category, Evidence, Hypothesis
from oncall_agent.domain.incident import Incident, IncidentStatus, Resolution
from oncall_agent.domain.records import (
    AlarmSnapshot,
    ChangeRecord,
    DeployKind,
    DeployRecord,
    LogRecord,
    LogSample,
    MetricSeries,
    TicketRecord,
)
from oncall_agent.investigation.correlate import evidence as build
from oncall_agent.investigation.correlate.context import CorrelationContext
from oncall_agent.investigation.correlate.rank import rank
from oncall_agent.investigation.correlate.weights import BIAS, CHANGE_WEIGHTS, DEPENDENCY_WEIGHTS, confidence

ONSET = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
METRIC = MetricSpec(
    namespace="AWS/ApplicationELB", name="HTTPCode_Target_5XX_Count", dimensions={"TargetGroup": "tg/checkout"}
)
CHECKOUT = Service(
    name="checkout",
    ecs={"cluster": "prod-web", "service": "checkout"},
    depends_on=["payments"],
    servicenow_ci="checkout-service",
    repo="acme/checkout",
)
CATALOG = [CHECKOUT, Service(name="payments", servicenow_ci="payments-service"), Service(name="search")]
CTX = CorrelationContext(CHECKOUT, CATALOG, "checkout-5xx", METRIC, ONSET, ONSET - timedelta(hours=3), ONSET)


def at(minutes: float) -> datetime:
    return ONSET + timedelta(minutes=minutes)


def shift_at(minutes: int) -> list[Evidence]:
    """A 5xx series flat at ~1, stepping to 40 `minutes` before the onset."""
    rng = random.Random(minutes)
    points = [(at(m), (1 + rng.uniform(-1, 1)) if m < -minutes else 40.0) for m in range(-180, 1)]
    return build.metric_evidence(MetricSeries(metric=METRIC, stat="Sum", period=60, points=points), CTX)


def logs(*errors: tuple[float, str]) -> list[Evidence]:
    """Routine lines for three hours, a chronic warning, and `errors` (start minute, message) each minute on."""
    records = [
        LogRecord(at=at(m), group="/ecs/checkout", message=f"INFO GET /cart 200 {m % 90 + 5}ms") for m in range(-180, 0)
    ]
    records += [LogRecord(at=at(m), group="/ecs/checkout", message="WARN pool slow") for m in range(-180, 0, 15)]
    for start, message in errors:
        records += [LogRecord(at=at(m), group="/ecs/checkout", message=message) for m in range(math.ceil(start), 0)]
    return build.log_evidence(LogSample(records=records), CTX)


def deploy(
    identifier: str = "checkout:118", minutes: float = -9, service: str = "checkout", **details: str
) -> DeployRecord:
    return DeployRecord(
        kind=DeployKind.ECS,
        service=service,
        target=f"arn:aws:ecs:us-east-1:1:service/prod-web/{service}",
        identifier=identifier,
        previous=None,
        at=at(minutes),
        source_event_id=f"upd-{identifier}",
        details=details,
    )


def change(
    event_id: str, minutes: float, name: str = "PutParameter", resource: str = "/x/prod/flag", **params: object
) -> ChangeRecord:
    return ChangeRecord(
        event_id=event_id,
        at=at(minutes),
        name=name,
        source="ssm.amazonaws.com",
        resources=[resource],
        parameters=params,
    )


def alarm(name: str, service: str, minutes: float) -> AlarmSnapshot:
    return AlarmSnapshot(
        name=name, arn=f"arn:{name}", state=AlarmState.ALARM, since=at(minutes), tags={"service": service}
    )


def ranked(*evidence: list[Evidence], abstain_below: float = 0.5) -> list[Hypothesis]:
    return rank([item for group in evidence for item in group], CTX, abstain_below)


def find(hypotheses: list[Hypothesis], culprit: str) -> Hypothesis:
    return next(h for h in hypotheses if h.culprit == culprit)


TASK_DEF_ARN = "arn:aws:ecs:us-east-1:1:task-definition/checkout:118"
BAD = (-7, "ERROR java.lang.ArithmeticException: Rounding necessary at CartTotals.roundLine(CartTotals.java:142)")


# --- the formula -----------------------------------------------------------------------------------------------


def test_confidence_is_the_documented_logistic() -> None:
    assert confidence({}, CHANGE_WEIGHTS) == pytest.approx(1 / (1 + math.exp(-BIAS)), abs=1e-4)
    features = {"proximity": 1.0, "on_service": 1.0, "errors_predate_change": 1.0}
    z = BIAS + CHANGE_WEIGHTS["proximity"] + CHANGE_WEIGHTS["on_service"] + CHANGE_WEIGHTS["errors_predate_change"]
    assert confidence(features, CHANGE_WEIGHTS) == pytest.approx(1 / (1 + math.exp(-z)), abs=1e-4)


# --- change features -------------------------------------------------------------------------------------------


def test_a_deploy_followed_by_the_shift_and_new_errors_ranks_first_and_cites_its_record() -> None:
    deploys = build.deploy_evidence([deploy()], CTX)
    hypotheses = ranked(deploys, shift_at(6), logs(BAD))
    top = hypotheses[0]
    assert (top.category, top.culprit) == (Category.DEPLOY, "checkout:118")
    assert top.confidence >= 0.8
    assert top.evidence_for[0] == deploys[0].id
    assert top.features["proximity"] == pytest.approx(math.exp(-9 / 30), abs=1e-3)
    assert top.features["shift_alignment"] == pytest.approx(math.exp(-3 / 10), abs=1e-3)
    assert top.features["new_signatures_after"] == pytest.approx(math.exp(-2 / 10), abs=1e-3)
    assert top.features["on_service"] == 1.0
    assert "9 min before the alarm" in top.summary
    assert hypotheses[1].category is Category.UNKNOWN


def test_proximity_fades_with_time_and_a_change_after_the_alarm_is_not_a_cause() -> None:
    hypotheses = ranked(build.change_evidence([change("near", -5), change("far", -150), change("late", 3)], CTX))
    near, far, late = (find(hypotheses, name) for name in ("near", "far", "late"))
    assert near.features["proximity"] > far.features["proximity"] > 0
    assert late.features["proximity"] == 0 and late.features["after_onset"] == 1
    assert near.confidence > far.confidence > late.confidence


def test_a_change_made_after_the_metric_shifted_counts_against_it() -> None:
    shift = shift_at(20)
    hypotheses = ranked(build.deploy_evidence([deploy(minutes=-5)], CTX), shift)
    top = find(hypotheses, "checkout:118")
    assert top.features["shift_alignment"] == -1
    assert shift[0].id in top.evidence_against
    assert top.confidence < 0.5 and hypotheses[0].category is Category.UNKNOWN


def test_new_errors_that_predate_the_change_count_against_it() -> None:
    hypotheses = ranked(build.deploy_evidence([deploy(minutes=-5)], CTX), logs((-15, "ERROR upstream refused")))
    top = find(hypotheses, "checkout:118")
    assert top.features["errors_predate_change"] == 1.0
    assert top.features.get("new_signatures_after", 0.0) == 0.0
    assert top.evidence_against


def test_new_log_lines_naming_the_changed_thing_support_it() -> None:
    deploys = build.deploy_evidence([deploy(image="acme/checkout:4c9e2b7")], CTX)
    startup = (-8, "INFO Starting CheckoutApplication v4c9e2b7 using Java 21")
    named = find(ranked(deploys, logs(startup)), "checkout:118")
    unnamed = find(ranked(deploys, logs((-8, "INFO Starting CheckoutApplication using Java 21"))), "checkout:118")
    assert named.features["logs_mention_change"] == 0.5 and "4c9e2b7" in named.summary  # a banner: it runs
    assert unnamed.features["logs_mention_change"] == 0.0
    assert named.confidence > unnamed.confidence
    failing = find(ranked(deploys, logs(startup, (-7, "ERROR v4c9e2b7 price rounding failed"))), "checkout:118")
    assert failing.features["logs_mention_change"] == 1.0  # an error naming the version: it broke something


def test_a_config_change_naming_the_service_or_a_dependency_is_closer_to_it() -> None:
    changes = build.change_evidence(
        [
            change("ours", -10, resource="sg-1", description="checkout tasks"),
            change("dep", -10, resource="/payments/prod/timeout"),
            change("other", -10, resource="/search/prod/size"),
        ],
        CTX,
    )
    hypotheses = ranked(changes)
    assert [find(hypotheses, c).features["on_service"] for c in ("ours", "dep", "other")] == [1.0, 0.5, 0.0]
    assert all(h.category is Category.CONFIG_CHANGE for h in hypotheses if h.culprit)


def test_the_last_change_before_the_shift_supersedes_earlier_ones() -> None:
    changes = build.change_evidence(
        [change("first", -14, resource="sg-1"), change("second", -11, resource="sg-1")], CTX
    )
    hypotheses = ranked(changes, shift_at(7), logs(BAD))
    first, second = find(hypotheses, "first"), find(hypotheses, "second")
    assert first.features["superseded"] == 1.0 and second.features["superseded"] == 0.0
    assert hypotheses[0].culprit == "second"
    assert changes[1].id in first.evidence_against


def test_a_deploy_that_ran_clean_until_a_later_change_of_the_service_is_overtaken_by_it() -> None:
    deploys = build.deploy_evidence([deploy(minutes=-25)], CTX)
    target_group = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/checkout-tg/0a1b"
    changes = build.change_evidence([change("tg", -10, name="ModifyTargetGroup", resource=target_group)], CTX)
    hypotheses = ranked(deploys, changes, shift_at(7), logs(BAD))
    earlier, later = find(hypotheses, "checkout:118"), find(hypotheses, "tg")
    assert earlier.features["overtaken"] == 1.0 and later.features["overtaken"] == 0.0
    assert "right after ModifyTargetGroup" in earlier.summary
    alone = find(ranked(deploys, shift_at(7), logs(BAD)), "checkout:118")
    assert alone.features["overtaken"] == 0.0 and alone.confidence > earlier.confidence
    assert hypotheses[0].culprit == "tg"


def test_two_changes_both_just_before_the_shift_are_not_overtaken() -> None:
    deploys = build.deploy_evidence([deploy(minutes=-9)], CTX)
    changes = build.change_evidence([change("flag", -8, resource="/checkout/prod/flag")], CTX)
    hypotheses = ranked(deploys, changes, shift_at(6), logs(BAD))
    assert find(hypotheses, "checkout:118").features["overtaken"] == 0.0  # 3 minutes before the shift
    unrelated = build.change_evidence([change("other", -8, resource="/search/prod/size")], CTX)
    early = find(ranked(build.deploy_evidence([deploy(minutes=-25)], CTX), unrelated, shift_at(7)), "checkout:118")
    assert early.features["overtaken"] == 0.0  # a later change of something else does not overtake it


def test_a_past_incident_of_the_same_family_and_an_open_change_request_add_a_little() -> None:
    past = Incident(
        id="inc-1",
        fingerprint="f",
        service="checkout",
        status=IncidentStatus.RESOLVED,
        first_event_at=at(-30000),
        last_event_at=at(-29000),
        title="5xx",
        resolution=Resolution(category=Category.DEPLOY, culprit="checkout:101"),
    )
    ticket = TicketRecord(
        system="servicenow",
        kind="change_request",
        number="CHG9",
        title="Release 118",
        ci="checkout-service",
        start=at(-20),
        end=at(20),
    )
    deploys = build.deploy_evidence([deploy()], CTX)
    plain = find(ranked(deploys), "checkout:118")
    richer = find(
        ranked(deploys, build.past_incident_evidence([past], CTX), build.ticket_evidence([ticket], CTX)), "checkout:118"
    )
    assert richer.features["past_incident_match"] == 1.0 and richer.features["change_ticket"] == 1.0
    assert richer.confidence > plain.confidence


# --- counter-evidence, asserted by what it does to the confidence ------------------------------------------------


def test_errors_that_predate_a_deploy_lower_its_confidence() -> None:
    deploys = build.deploy_evidence([deploy(minutes=-5)], CTX)
    alone = find(ranked(deploys), "checkout:118")
    countered = find(ranked(deploys, logs((-15, "ERROR upstream refused"))), "checkout:118")
    assert countered.features["errors_predate_change"] == 1.0 and alone.features.get("errors_predate_change", 0) == 0
    assert countered.confidence < alone.confidence
    assert countered.confidence == pytest.approx(confidence(countered.features, CHANGE_WEIGHTS), abs=1e-3)


def test_a_shift_before_the_change_lowers_its_confidence() -> None:
    deploys = build.deploy_evidence([deploy(minutes=-5)], CTX)
    alone = find(ranked(deploys), "checkout:118")
    countered = find(ranked(deploys, shift_at(20)), "checkout:118")
    assert countered.features["shift_alignment"] == -1 and alone.features.get("shift_alignment", 0) == 0
    assert countered.confidence < alone.confidence


def test_a_later_change_of_the_same_resource_lowers_the_earlier_ones_confidence() -> None:
    first = build.change_evidence([change("first", -14, resource="sg-1")], CTX)
    second = build.change_evidence([change("second", -11, resource="sg-1")], CTX)
    alone = find(ranked(first, shift_at(7), logs(BAD)), "first")
    superseded = find(ranked(first, second, shift_at(7), logs(BAD)), "first")
    assert superseded.features["superseded"] == 1.0 and alone.features["superseded"] == 0.0
    assert superseded.confidence < alone.confidence


def test_a_change_after_the_alarm_scores_below_an_equally_distant_change_before_it() -> None:
    hypotheses = ranked(build.change_evidence([change("late", 3), change("ancient", -600)], CTX))
    late, ancient = find(hypotheses, "late"), find(hypotheses, "ancient")
    assert late.features["after_onset"] == 1 and ancient.features.get("after_onset", 0) == 0
    assert late.features["proximity"] == 0 and ancient.features["proximity"] == pytest.approx(0, abs=1e-6)
    assert late.confidence < ancient.confidence


def test_a_chronic_dependency_alarm_weighs_against_blaming_it() -> None:
    alarms = build.related_alarm_evidence([alarm("payments-kafka", "payments", -3000)], CTX)
    chronic = find(ranked(alarms, shift_at(9)), "payments")
    assert chronic.features["chronic_alarm"] == 1.0
    # the same facts without the chronic flag: only that feature differs
    assert chronic.confidence == pytest.approx(confidence(chronic.features, DEPENDENCY_WEIGHTS), abs=1e-3)
    assert chronic.confidence < confidence({**chronic.features, "chronic_alarm": 0.0}, DEPENDENCY_WEIGHTS) / 2


# --- which records are candidates ---------------------------------------------------------------------------


def test_cloudtrail_events_of_a_recorded_deploy_are_that_deploy() -> None:
    record = deploy()
    trail = [
        change("reg", -9.7, name="RegisterTaskDefinition", resource=TASK_DEF_ARN),
        change(
            "upd-checkout:118",
            -9,
            name="UpdateService",
            resource="checkout",
            service="checkout",
            taskDefinition="checkout:118",
        ),
    ]
    hypotheses = ranked(build.deploy_evidence([record], CTX), build.change_evidence(trail, CTX))
    assert [(h.category, h.culprit) for h in hypotheses if h.culprit] == [(Category.DEPLOY, "checkout:118")]


def test_a_deploy_seen_only_in_cloudtrail_is_still_a_deploy_candidate() -> None:
    trail = [
        change("reg", -9.7, name="RegisterTaskDefinition", resource=TASK_DEF_ARN),
        change(
            "upd",
            -9,
            name="UpdateService",
            resource="checkout",
            cluster="prod-web",
            service="checkout",
            taskDefinition="checkout:118",
        ),
    ]
    hypotheses = ranked(build.change_evidence(trail, CTX), shift_at(6), logs(BAD))
    assert (hypotheses[0].category, hypotheses[0].culprit) == (Category.DEPLOY, "checkout:118")
    assert len([h for h in hypotheses if h.culprit]) == 1


def test_other_services_deploys_are_not_blamed() -> None:
    trail = [change("upd", -9, name="UpdateService", resource="search", service="search", taskDefinition="search:7")]
    records = [deploy("search:7", -9, service="search")]
    hypotheses = ranked(build.deploy_evidence(records, CTX), build.change_evidence(trail, CTX), shift_at(6))
    assert [h.category for h in hypotheses] == [Category.UNKNOWN]


def test_a_commit_the_deploy_image_names_is_cited_with_it() -> None:
    commit = DeployRecord(
        kind=DeployKind.GITHUB_COMMIT, service="checkout", target="acme/checkout", identifier="4c9e2b7aa01", at=at(-47)
    )
    items = build.deploy_evidence([deploy(image="acme/checkout:4c9e2b7"), commit], CTX)
    top = ranked(items, shift_at(6))[0]
    commit_id = next(e.id for e in items if e.entity == "4c9e2b7aa01")
    assert top.culprit == "checkout:118" and commit_id in top.evidence_for
    assert not any(h.culprit == "4c9e2b7aa01" for h in ranked(items))


# --- dependencies ------------------------------------------------------------------------------------------------


def test_an_upstream_dependency_that_alarmed_first_is_the_cause() -> None:
    alarms = build.related_alarm_evidence([alarm("payments-latency", "payments", -14)], CTX)
    errors = logs((-10, "ERROR PaymentsClient POST /authorize failed: Read timed out"))
    hypotheses = ranked(alarms, shift_at(9), errors)
    top = hypotheses[0]
    assert (top.category, top.culprit) == (Category.DEPENDENCY, "payments")
    assert top.features["upstream_first"] == 1.0 and top.features["logs_mention_dependency"] == 1.0
    assert top.evidence_for[0] == alarms[0].id
    assert top.confidence >= 0.8


def test_the_order_of_alarms_matters() -> None:
    def upstream(minutes: float) -> float:
        items = build.related_alarm_evidence([alarm("payments-latency", "payments", minutes)], CTX)
        return find(ranked(items, shift_at(9)), "payments").features["upstream_first"]

    assert upstream(-14) == 1.0  # before our metric moved
    # The shift is read at -13 (a minute either way cannot be told); after it the score slides to 0.6 over two
    # minutes rather than jumping at a boundary.
    assert upstream(-12) == 1.0
    assert 1.0 > upstream(-11.5) > upstream(-10.5) > upstream(-10) == 0.6
    assert upstream(-5) == 0.6  # after our metric moved, before our alarm
    assert upstream(3) == 0.3  # after our alarm
    assert 0 < upstream(-200) < 0.5  # hours before
    assert upstream(-2000) == 0.0  # chronic


def test_a_chronically_alarming_dependency_is_not_blamed() -> None:
    alarms = build.related_alarm_evidence([alarm("payments-kafka", "payments", -3000)], CTX)
    hypotheses = ranked(alarms, shift_at(9))
    payments = find(hypotheses, "payments")
    assert payments.features["chronic_alarm"] == 1.0 and payments.confidence < 0.1
    assert hypotheses[0].category is Category.UNKNOWN


def test_an_upstream_alarm_first_weighs_against_local_changes() -> None:
    alarms = build.related_alarm_evidence([alarm("payments-latency", "payments", -14)], CTX)
    deploys = build.deploy_evidence([deploy(minutes=-30)], CTX)
    local = find(ranked(deploys, alarms, shift_at(9)), "checkout:118")
    alone = find(ranked(deploys, shift_at(9)), "checkout:118")
    assert local.features["upstream_alarm_first"] == 1.0
    assert local.confidence < alone.confidence


# --- ordering and abstention -------------------------------------------------------------------------------


def test_nothing_to_blame_is_an_abstention() -> None:
    [only] = ranked(shift_at(6), logs(BAD), build.related_alarm_evidence([alarm("search-x", "search", -5)], CTX))
    assert only.category is Category.UNKNOWN and only.culprit is None and only.confidence == 1.0


def test_a_weak_candidate_leaves_unknown_first_and_gaps_are_cited() -> None:
    gap = build.gap("changes", "AccessDenied")
    hypotheses = ranked(build.change_evidence([change("old", -170)], CTX), [gap])
    assert hypotheses[0].category is Category.UNKNOWN and hypotheses[0].evidence_for == [gap.id]
    assert hypotheses[1].culprit == "old" and hypotheses[1].confidence < 0.5


def test_the_abstention_threshold_is_a_parameter() -> None:
    evidence = (build.deploy_evidence([deploy()], CTX), shift_at(6), logs(BAD))
    assert ranked(*evidence)[0].category is Category.DEPLOY
    assert ranked(*evidence, abstain_below=0.99)[0].category is Category.UNKNOWN


def test_a_candidate_exactly_at_the_threshold_is_not_an_abstention() -> None:
    evidence = (build.deploy_evidence([deploy()], CTX), shift_at(6), logs(BAD))
    best = ranked(*evidence)[0]
    assert best.category is Category.DEPLOY and best.confidence > 0.5  # so `unknown` (1 - best) ranks below it

    assert ranked(*evidence, abstain_below=best.confidence)[0] == best
    assert ranked(*evidence, abstain_below=math.nextafter(best.confidence, 1.0))[0].category is Category.UNKNOWN


def test_the_unknown_summary_agrees_with_the_ranking() -> None:
    evidence = (build.deploy_evidence([deploy()], CTX), shift_at(6), logs(BAD))
    hypotheses = ranked(*evidence)
    lead, unknown = hypotheses[0], next(h for h in hypotheses if h.category is Category.UNKNOWN)
    assert lead.category is Category.DEPLOY and lead.confidence >= 0.5
    assert "decisive" not in unknown.summary  # it never says "none decisive" under a confident first answer
    assert f"leading cause is deploy {lead.culprit} ({lead.confidence:.2f}" in unknown.summary
    assert unknown.confidence == round(1 - lead.confidence, 4)
    [abstained, *_] = ranked(*evidence, abstain_below=0.99)
    assert abstained.category is Category.UNKNOWN
    assert f"None of the {len(hypotheses) - 1} candidate causes is decisive (best {lead.confidence:.2f}" in (
        abstained.summary
    )


def test_a_candidate_at_or_above_a_low_threshold_leads_even_when_unknown_scores_higher() -> None:
    evidence = (build.change_evidence([change("old", -170)], CTX),)
    weak = ranked(*evidence)[1]  # below 0.5: unknown (1 - weak) leads at the default threshold
    hypotheses = ranked(*evidence, abstain_below=weak.confidence)  # exactly at the threshold: an answer
    assert hypotheses[0].culprit == "old" and hypotheses[1].category is Category.UNKNOWN
    assert hypotheses[1].confidence > hypotheses[0].confidence and "leading cause" in hypotheses[1].summary


def test_ranking_is_deterministic_whatever_the_evidence_order() -> None:
    evidence = [
        *build.deploy_evidence([deploy(), deploy("checkout:117", -3000)], CTX),
        *build.change_evidence([change("a", -20), change("b", -40)], CTX),
        *build.related_alarm_evidence([alarm("payments-latency", "payments", -30)], CTX),
        *shift_at(6),
        *logs(BAD),
    ]
    first = rank(evidence, CTX)
    shuffled = list(evidence)
    random.Random(7).shuffle(shuffled)
    assert rank(shuffled, CTX) == first
    assert [h.confidence for h in first] == sorted((h.confidence for h in first), reverse=True)
    known = {e.id for e in evidence}
    assert all(set(h.evidence_for) | set(h.evidence_against) <= known for h in first)
    assert all(h.summary and 0 <= h.confidence <= 1 for h in first)
