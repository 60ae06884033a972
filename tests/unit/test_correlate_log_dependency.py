"""A dependency that only our logs say is failing (no alarm of it), on small hand-made worlds: found when the
first new errors are failed calls to a declared dependency, and not blamed when the calls failed after our
metric moved, when the lines say something else ran out or a credential failed, when an alarm of the
dependency already makes it a candidate, or when another cause (a deploy, a zone) explains the failing calls."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from oncall_agent.domain.alarm import AlarmState
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.evidence import Category, Evidence, Hypothesis
from oncall_agent.domain.records import AlarmSnapshot, DeployKind, DeployRecord, LogRecord, LogSample
from oncall_agent.investigation.correlate import evidence as build
from oncall_agent.investigation.correlate.context import CorrelationContext
from oncall_agent.investigation.correlate.rank import rank
from tests.unit.test_correlate_rank import METRIC, ONSET, at, shift_at  # a 5xx series that steps (same alarm)

QUOTES = Service(
    name="shipping-quotes",
    ecs={"cluster": "prod-fulfil", "service": "shipping-quotes"},
    depends_on=["fedex", "ups", "address-validation"],
)
CATALOG = [QUOTES, Service(name="address-validation", ecs={"cluster": "prod-fulfil", "service": "addr-val"})]
CTX = CorrelationContext(QUOTES, CATALOG, "quotes-5xx", METRIC, ONSET, ONSET - timedelta(hours=3), ONSET)
FEDEX_503 = 'level=WARN msg="carrier request failed" url=https://apis.fedex.com/rate/v1/rates/quotes status=503'
OUR_502 = 'level=ERROR msg="quote failed" path=/v1/quotes status=502'


def logs(*errors: tuple[float, str], chronic: str = 'level=WARN msg="carrier slow" carrier=ups') -> list[Evidence]:
    """Routine lines for three hours, a chronic warning, and `errors` (start minute, message) each minute on."""
    group = "/ecs/prod-fulfil/shipping-quotes"
    records = [
        LogRecord(at=at(m), group=group, message=f"level=INFO msg=served status=200 d={m % 90}ms")
        for m in range(-180, 0)
    ]
    records += [LogRecord(at=at(m), group=group, message=chronic) for m in range(-180, 0, 15)]
    for start, message in errors:
        records += [LogRecord(at=at(m), group=group, message=message) for m in range(math.ceil(start), 0)]
    return build.log_evidence(LogSample(records=records), CTX)


def quotes_deploy(revision: int, minutes: float) -> list[Evidence]:
    record = DeployRecord(
        kind=DeployKind.ECS,
        service="shipping-quotes",
        target="arn:aws:ecs:us-east-1:1:service/prod-fulfil/shipping-quotes",
        identifier=f"shipping-quotes:{revision}",
        at=at(minutes),
        source_event_id=f"upd-{revision}",
    )
    return build.deploy_evidence([record], CTX)


def ranked(*evidence: list[Evidence]) -> list[Hypothesis]:
    return rank([item for group in evidence for item in group], CTX, 0.5)


def find(hypotheses: list[Hypothesis], culprit: str, category: Category | None = None) -> Hypothesis | None:
    return next((h for h in hypotheses if h.culprit == culprit and category in (None, h.category)), None)


def test_new_errors_that_are_failed_calls_to_a_dependency_from_the_start_name_it() -> None:
    top = ranked(shift_at(10), logs((-11, FEDEX_503), (-10, OUR_502)))[0]
    assert (top.category, top.culprit) == (Category.DEPENDENCY, "fedex")
    assert top.features["dependency_errors_first"] == 1.0 and top.features["logs_mention_dependency"] == 1.0
    assert 0.65 < top.confidence < 0.85  # about as sure as an upstream alarm that came first, with nothing else
    assert top.summary.startswith("Upstream dependency fedex is failing our calls")
    assert top.evidence_for


def test_failed_calls_that_began_after_our_metric_moved_are_not_enough() -> None:
    hypotheses = ranked(shift_at(12), logs((-12, OUR_502), (-4, FEDEX_503)))
    fedex = find(hypotheses, "fedex")
    assert fedex is not None and fedex.features["dependency_errors_first"] == 0.0
    assert fedex.confidence < 0.5 and hypotheses[0].category is Category.UNKNOWN


def test_a_dependency_is_named_at_identifier_boundaries_only() -> None:
    lines = logs((-11, 'level=WARN msg="request failed" url=https://fedexcup.example.com/api status=503'))
    assert find(ranked(shift_at(10), lines), "fedex") is None


def test_chronic_failures_and_lines_that_say_what_ran_out_do_not_make_a_candidate() -> None:
    chronic = logs(chronic=FEDEX_503)
    assert find(ranked(shift_at(10), chronic), "fedex") is None
    for line in (
        'level=ERROR msg="call failed" url=https://apis.fedex.com/rate err="401: authentication failed"',
        'level=ERROR msg="call failed" url=https://apis.fedex.com/rate err="too many connections"',
    ):
        assert find(ranked(shift_at(10), logs((-11, line))), "fedex", Category.DEPENDENCY) is None, line


def test_a_dependency_in_alarm_is_the_alarm_candidate_only() -> None:
    item = AlarmSnapshot(
        name="address-validation-5xx",
        arn="arn:av",
        state=AlarmState.ALARM,
        since=at(-14),
        tags={"service": "address-validation"},
    )
    line = 'level=ERROR msg="validate failed" url=http://address-validation.prod-fulfil.internal/v1 status=500'
    hypotheses = ranked(shift_at(10), logs((-11, line)), build.related_alarm_evidence([item], CTX))
    named = [h for h in hypotheses if h.culprit == "address-validation"]
    assert len(named) == 1 and named[0].features["upstream_first"] == 1.0
    assert "dependency_errors_first" not in named[0].features


def test_a_deploy_that_explains_the_failing_calls_keeps_the_dependency_below_the_line() -> None:
    hypotheses = ranked(shift_at(10), logs((-11, FEDEX_503), (-10, OUR_502)), quotes_deploy(18, -12))
    assert hypotheses[0].culprit == "shipping-quotes:18" and hypotheses[0].confidence >= 0.5
    deploy, fedex = hypotheses[0], find(hypotheses, "fedex")
    assert deploy.features["upstream_errors_first"] == 1.0  # the failed calls still count against it...
    assert fedex is not None and fedex.features["other_cause_explains"] == pytest.approx(deploy.confidence, abs=1e-3)
    assert fedex.confidence < 0.5  # ...but a deploy two minutes before them explains them better


def test_an_old_deploy_is_weighed_down_by_failed_calls_to_a_dependency() -> None:
    with_calls = ranked(shift_at(10), logs((-11, FEDEX_503), (-10, OUR_502)), quotes_deploy(17, -40))
    without = ranked(shift_at(10), logs((-10, OUR_502)), quotes_deploy(17, -40))
    old = find(with_calls, "shipping-quotes:17")
    assert old is not None and old.features["upstream_errors_first"] == 1.0
    assert old.confidence < find(without, "shipping-quotes:17").confidence  # type: ignore[union-attr]
    assert with_calls[0].culprit == "fedex"
