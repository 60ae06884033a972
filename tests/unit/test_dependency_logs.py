"""A dependency's own logs: read for each declared dependency the catalog gives log groups (within the logs
budget, kept apart from our own lines), and what they say failed there names the cause located at the
dependency - an expired certificate in the service discovery cluster's log makes "consul is failing" a credential
expiry at consul; an authorization denial, lines that began after our metric moved, or another dependency's lines
do not."""

from __future__ import annotations

from datetime import datetime, timedelta

from oncall_agent.domain.alarm import AlarmState
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.evidence import Category, Evidence, EvidenceKind, Hypothesis
from oncall_agent.domain.records import AlarmSnapshot, LogRecord, LogSample
from oncall_agent.investigation.correlate import evidence as build
from oncall_agent.investigation.correlate.context import CorrelationContext
from oncall_agent.investigation.correlate.rank import rank
from oncall_agent.investigation.dependency_logs import SOURCE, dependency_log_evidence
from tests.unit.test_correlate_rank import METRIC, ONSET, at, shift_at

QUOTES = Service(
    name="quote-api",
    ecs={"cluster": "prod", "service": "quote-api"},
    log_groups=["/ecs/prod/quote-api"],
    depends_on=["consul", "rates"],
)
CONSUL = Service(name="consul", ecs={"cluster": "platform", "service": "consul-server"}, log_groups=["/ecs/consul"])
RATES = Service(name="rates", ecs={"cluster": "prod", "service": "rates"}, log_groups=["/ecs/prod/rates"])
CTX = CorrelationContext(QUOTES, [QUOTES, CONSUL, RATES], "quote-5xx", METRIC, ONSET, ONSET - timedelta(hours=3), ONSET)
EXPIRED = '[ERROR] agent.server.raft: failed to heartbeat: error="x509: certificate has expired or is not yet valid"'
DENIED = "[ERROR] agent: rpc error: code = PERMISSION_DENIED desc = ACL not found"
ROUTINE = "[INFO] agent: Synced check: check=serfHealth"
OUR_TIMEOUT = 'level=ERROR msg="service discovery lookup failed" err="context deadline exceeded"'


class Logs:
    """A LogSearch answering from a list of records, recording the budgets it was given."""

    def __init__(self, records: list[LogRecord]) -> None:
        self.records, self.calls = records, []  # type: ignore[var-annotated]

    def sample(
        self,
        region: str,
        log_groups: list[str],
        start: datetime,
        end: datetime,
        limit: int,
        max_bytes: float | None = None,
    ) -> LogSample:
        self.calls.append((tuple(log_groups), limit, max_bytes))
        found = [r for r in self.records if r.group in log_groups and start <= r.at < end]
        return LogSample(records=found[-limit:], truncated=len(found) > limit, bytes_scanned=1000.0)


def lines(group: str, message: str, start: float, end: float = 0) -> list[LogRecord]:
    return [LogRecord(at=at(m), group=group, message=message) for m in range(int(start), int(end))]


def consul_logs(message: str, start: float) -> list[LogRecord]:
    return [*lines("/ecs/consul", ROUTINE, -180), *lines("/ecs/consul", message, start)]


def test_each_logged_dependency_is_read_within_a_share_of_the_logs_budget() -> None:
    logs = Logs([*consul_logs(EXPIRED, -12), *lines("/ecs/prod/quote-api", OUR_TIMEOUT, -3)])
    found = dependency_log_evidence(logs, CTX, "us-east-1", 1000, 2e6)
    assert {call[0] for call in logs.calls} == {("/ecs/consul",), ("/ecs/prod/rates",)}  # never our own group
    assert all(limit == 250 and budget is not None and budget <= 1e6 for _, limit, budget in logs.calls)
    signatures = [e for e in found if e.kind is EvidenceKind.LOG_SIGNATURE]
    assert [e.details["dependency"] for e in signatures] == ["consul"]
    assert signatures[0].source == SOURCE and "x509" in signatures[0].details["template"]
    assert signatures[0].details["new"] is True and signatures[0].summary.startswith("consul's own logs")


def test_no_dependency_with_log_groups_reads_nothing() -> None:
    lonely = CorrelationContext(
        Service(name="solo", depends_on=["consul"]), [], "a", METRIC, ONSET, ONSET - timedelta(hours=3), ONSET
    )
    logs = Logs([])
    assert dependency_log_evidence(logs, lonely, "us-east-1", 1000, None) == [] and logs.calls == []
    assert dependency_log_evidence(None, CTX, "us-east-1", 1000, None)[0].kind is EvidenceKind.GAP


def consul_alarm(minutes: float) -> list[Evidence]:
    snapshot = AlarmSnapshot(
        name="consul-cpu-high", arn="arn:consul", state=AlarmState.ALARM, since=at(minutes), tags={"service": "consul"}
    )
    return build.related_alarm_evidence([snapshot], CTX)


def ranked(dependency_lines: list[LogRecord], shift: int = 3) -> list[Hypothesis]:
    """Our 5xx step `shift` minutes before the alarm with our lookups timing out from then, consul alarmed first."""
    group = "/ecs/prod/quote-api"
    ours = build.log_evidence(
        LogSample(records=[*lines(group, "level=INFO msg=ok", -180), *lines(group, OUR_TIMEOUT, -shift)]), CTX
    )
    theirs = dependency_log_evidence(Logs(dependency_lines), CTX, "us-east-1", 1000, None)
    return rank([*shift_at(shift), *ours, *consul_alarm(-shift - 6), *theirs], CTX, 0.5)


def test_an_expired_certificate_in_the_dependencys_own_logs_is_a_credential_expiry_there() -> None:
    top = ranked(consul_logs(EXPIRED, -12))[0]
    assert (top.category, top.culprit) == (Category.CREDENTIAL_EXPIRY, "consul")
    assert top.features["dependency_diagnosed"] == 1.0 and top.features["upstream_first"] == 1.0
    assert "consul's own logs say certificate expired" in top.summary
    assert top.confidence > ranked(consul_logs(ROUTINE, -12))[0].confidence  # it adds to what located it


def test_without_a_stated_cause_the_dependency_stays_a_dependency() -> None:
    # Nothing said, a denial (its own configuration), an expiry that began 5 minutes after our metric moved.
    for message, start, shift in ((ROUTINE, -12, 3), (DENIED, -12, 3), (EXPIRED, -5, 10)):
        top = ranked(consul_logs(message, start), shift)[0]
        assert (top.category, top.culprit) == (Category.DEPENDENCY, "consul"), message
        assert "dependency_diagnosed" not in top.features


def test_another_dependencys_expired_certificate_does_not_rename_this_one() -> None:
    top = ranked([*consul_logs(ROUTINE, -12), *lines("/ecs/prod/rates", EXPIRED, -12)])[0]
    assert (top.category, top.culprit) == (Category.DEPENDENCY, "consul")
