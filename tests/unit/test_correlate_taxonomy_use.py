"""The correlator reads log lines through the symptom taxonomy: the three lines of unseen incidents that the
old phrase lists missed (a certificate chain that no longer verifies, an RDS Proxy borrow timeout, a search
domain refusing writes) now make their causes candidates, a refusal by a dependency is about that dependency,
and a template that states a symptom without a level counts as an error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from oncall_agent.domain.catalog import Service
from oncall_agent.domain.evidence import Category
from oncall_agent.domain.records import LogRecord
from oncall_agent.investigation.correlate import symptoms
from oncall_agent.investigation.correlate.context import CorrelationContext
from oncall_agent.investigation.correlate.signatures import Level, mine
from tests.unit.test_correlate_causes import CATALOG, METRIC, ONSET, STEADY, find, five_xx_from, logs, ranked, series

X5C = "ERROR c.a.checkout.auth.JwtVerifier - token rejected: x5c: certificate chain verification failed"
PROXY = "ERROR o.h.e.j.s.SqlExceptionHelper - ConnectionException: Timed-out waiting to acquire database connection"
BLOCKED = (
    'ERROR c.a.checkout.search.Indexer - bulk to catalog-search failed: status 429 {"type":"cluster_block_exception",'
    '"reason":"index [products] blocked by: [TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark, index '
    'has read-only-allow-delete block];"}'
)


def test_the_lines_the_phrase_lists_missed_are_recognised() -> None:
    assert symptoms.credential_class([X5C]) == ("rejected", 0.8)
    assert symptoms.exhaustion_class([PROXY]) == ("pool", 0.5)
    assert symptoms.exhaustion_class([BLOCKED]) == ("capacity", 0.5)
    assert symptoms.call_failures(["dial tcp 10.0.0.5:443: connect: connection refused", "GET /cart 200"]) == [
        "connection_refused"
    ]


def test_a_certificate_chain_that_no_longer_verifies_is_a_credential_candidate() -> None:
    expiry = find(ranked(five_xx_from(-10), logs(STEADY, (-11, X5C))), Category.CREDENTIAL_EXPIRY)
    assert expiry.evidence_for


def test_a_proxy_borrow_timeout_is_the_service_s_pool_running_out() -> None:
    strained = find(ranked(five_xx_from(-10), logs(STEADY, (-11, PROXY))), Category.RESOURCE_EXHAUSTION, "checkout")
    assert strained.features["exhaustion_logs"] > 0 and "pool" in strained.summary


def test_a_dependency_refusing_writes_is_that_dependency_running_out_not_us() -> None:
    service = Service(
        name="checkout", ecs={"cluster": "prod-web", "service": "checkout"}, depends_on=["catalog-search"]
    )
    ctx = CorrelationContext(
        service, [service, *CATALOG[1:]], "checkout-5xx", METRIC, ONSET, ONSET - timedelta(hours=3), ONSET
    )
    hypotheses = ranked(series([(-180, 1.0), (-10, 40.0)], ctx=ctx), logs(STEADY, (-11, BLOCKED), ctx=ctx), ctx=ctx)
    exhausted = [h.culprit for h in hypotheses if h.category is Category.RESOURCE_EXHAUSTION]
    assert exhausted == ["catalog-search"]


def test_a_template_stating_a_symptom_without_a_level_is_an_error() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    lines = [
        "OOM command not allowed when used memory > 'maxmemory'.",  # no level, states memory exhaustion
        "INFO retrying after OOM command not allowed when used memory > 'maxmemory'.",  # the level it states wins
        "cache warmed: 1200 keys",
    ]
    records = [LogRecord(at=t0 + timedelta(minutes=1), group="/app", message=line) for line in lines]
    levels = {sig.samples[0]: sig.level for sig in mine(records, split=t0)}
    assert [levels[line] for line in lines] == [Level.ERROR, Level.INFO, Level.INFO]


def test_only_classes_that_suggest_a_cause_keep_a_line_from_naming_a_failing_dependency() -> None:
    assert symptoms.suggested_causes([X5C]) == {"credential_expiry"}
    assert symptoms.suggested_causes([BLOCKED]) == {"resource_exhaustion"}
    assert symptoms.suggested_causes(["Buffer I/O error on dev nvme1n1, logical block 0"]) == {"infrastructure"}
    # a timeout or a refused connection is what every cause looks like from our side: it suggests none
    assert symptoms.suggested_causes(["GET https://api.fedex.com/rate: read ECONNRESET; Read timed out"]) == set()
