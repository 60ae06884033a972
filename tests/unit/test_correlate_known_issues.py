"""Known issues: GitHub issues whose title names a new error signature are cited by the hypotheses that cite the
signature, with the `known_issue` feature, and change no confidence."""

from __future__ import annotations

from oncall_agent.domain.evidence import Category, EvidenceKind
from oncall_agent.domain.records import TicketRecord
from oncall_agent.investigation.correlate import evidence as build
from oncall_agent.investigation.correlate.candidates import read_facts
from oncall_agent.investigation.correlate.known_issues import match_known_issues, names_the_signature
from tests.unit.test_correlate_causes import CTX, STEADY, at, deploy, find, five_xx_from, logs, ranked

ROUNDING = "ERROR CartTotals.applyPromotion failed: java.lang.ArithmeticException: Rounding necessary order=<*>"


def issue(number: int, title: str, labels: tuple[str, ...] = ()) -> TicketRecord:
    return TicketRecord(
        system="github",
        kind="issue",
        number=f"acme/checkout#{number}",
        title=title,
        ci="acme/checkout",
        opened=at(-600),
        labels=list(labels),
    )


def test_an_issue_naming_the_same_exception_class_names_the_signature() -> None:
    assert names_the_signature("ArithmeticException in cart totals with percentage promos", ROUNDING)


def test_two_distinctive_shared_words_name_the_signature_and_common_words_do_not() -> None:
    assert names_the_signature("Promotion rounding breaks CartTotals", ROUNDING.replace("ArithmeticException", "X"))
    assert not names_the_signature("Error: request failed with timeout", "ERROR request failed: timeout after 5000ms")
    assert not names_the_signature("Flaky CheckoutIT: timeout waiting for payments stub", ROUNDING)


def test_the_deploy_hypothesis_cites_the_known_issue_of_its_new_error_and_keeps_its_confidence() -> None:
    line = "ERROR CartTotals.applyPromotion failed: java.lang.ArithmeticException: Rounding necessary order=17"
    evidence = [*five_xx_from(-8), *logs(STEADY, (-8, line)), *build.deploy_evidence([deploy(-10)], CTX)]
    tickets = build.ticket_evidence(
        [
            issue(77, "ArithmeticException: Rounding necessary on promo carts"),
            issue(78, "Flaky CheckoutIT"),
            issue(79, "[oncall-agent] checkout 5xx: ArithmeticException after checkout:117", ("oncall-agent",)),
        ],
        CTX,
    )
    without, with_issues = ranked(evidence), ranked(evidence, tickets)

    cause, same = find(with_issues, Category.DEPLOY), find(without, Category.DEPLOY)
    cited = {t.id for t in tickets if t.id in cause.evidence_for}
    assert cited == {tickets[0].id}
    assert cause.features["known_issue"] == 1.0 and "known_issue" not in same.features
    assert cause.confidence == same.confidence
    assert all(t.kind is EvidenceKind.TICKET for t in tickets)


def test_an_issue_names_a_new_warning_but_not_the_same_words_in_a_chronic_one() -> None:
    tickets = build.ticket_evidence([issue(90, "Hikari pool slow warnings under load")], CTX)
    chronic = read_facts([*logs(STEADY), *tickets], CTX)  # `logs` writes "WARN pool slow" every 15 minutes
    fresh = read_facts([*logs(STEADY, (-8, "WARN connection pool slow to lend a connection")), *tickets], CTX)

    assert [s.details["template"] for s in chronic.chronic] == ["WARN pool slow"]
    assert match_known_issues(chronic) == {}
    assert list(match_known_issues(fresh).values()) == [[tickets[0].id]]
