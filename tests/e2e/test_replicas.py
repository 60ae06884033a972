"""Three `oncall-agent serve` replicas on one PostgreSQL database against the sandbox; the poller's leader is
killed with `kill -9` mid-way.

32 alarms of 32 services fire in two waves. The first wave is set in moto and delivered signed over SNS to the
replicas in turn; then the replica holding the `poller` lease is killed (while it investigates), and the second
wave is only set in moto, so only a poller that took over can see it. Asserted: one GitHub issue and one
ServiceNow incident per incident, no comment or work note twice for one key, DescribeAlarms from the poller of
one replica at a time (moto's request log tells replicas apart by access key and the poller by its User-Agent
app id), and both takeovers (the poller lease, the dead replica's investigations) in under 30 s: measured and
printed. The stand-ins and moto answer with injected latency.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from oncall_agent.sandbox import moto_latency
from oncall_agent.sandbox.scenario import load_scenario
from oncall_agent.sandbox.sns_delivery import deliver_alarm
from oncall_agent.sandbox.world import SandboxWorld
from tests.e2e.harness import Agent, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox, pytest.mark.postgres, pytest.mark.slow]
SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "ecs-bad-deploy.yaml"
REPO = "acme/fleet"
SERVICES = [f"fleet-{n:02d}" for n in range(32)]
FIRST_WAVE = 16
POLLER_AGENT = "app/oncall-agent-poller"
TAKEOVER_LIMIT = 30.0
BUSY = ("open", "investigating", "mitigating", "monitoring")


@pytest.fixture()
def world() -> Iterator[SandboxWorld]:
    # The scenario only provides the region and the world's plumbing: it is not seeded, the fleet below is.
    sandbox = SandboxWorld(load_scenario(SCENARIO), latency_ms=40)
    sandbox.start()
    sandbox.github.add_repo(REPO)
    moto_latency.set_latency(10)
    yield sandbox
    sandbox.stop()


@pytest.fixture()
def db(pg_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(pg_url)
    yield engine
    engine.dispose()


def create_alarms(world: SandboxWorld) -> None:
    cloudwatch = world.client("cloudwatch")
    for service in SERVICES:
        cloudwatch.put_metric_alarm(
            AlarmName=f"{service}-errors",
            Namespace="Fleet",
            MetricName="Errors",
            Dimensions=[{"Name": "Service", "Value": service}],
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
        cloudwatch.set_alarm_state(AlarmName=f"{service}-errors", StateValue="OK", StateReason="healthy")


def fire(world: SandboxWorld, service: str, deliver_to: str | None) -> None:
    cloudwatch = world.client("cloudwatch")
    name = f"{service}-errors"
    cloudwatch.set_alarm_state(
        AlarmName=name, StateValue="ALARM", StateReason="Threshold Crossed: 1 datapoint [7.0] > threshold (1.0)."
    )
    if deliver_to:
        item = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        assert deliver_alarm(world.signer, world.topic_arn, item, deliver_to).status_code == 200


@pytest.fixture()
def replicas(world: SandboxWorld, tmp_path: Path, pg_url: str) -> Iterator[list[Agent]]:
    """Three replicas, created but not started; killed before their database is dropped, whatever happens."""
    agents = make_replicas(world, tmp_path, pg_url)
    yield agents
    for agent in agents:
        if agent.process is not None and agent.process.poll() is None:
            agent.process.kill()
            agent.process.wait(timeout=30)


def make_replicas(world: SandboxWorld, tmp_path: Path, pg_url: str) -> list[Agent]:
    agents = []
    for index in range(3):
        folder = tmp_path / f"replica-{index}"
        folder.mkdir()
        agent = Agent(world, folder, poll_interval=0.5)
        settings = yaml.safe_load(agent.config.read_text())
        settings["store"]["url"] = pg_url
        settings["aws"]["credentials"]["access_key_id"] = f"replica{index}"  # moto's log says who called
        settings["services"] = [{"name": name, "repo": REPO} for name in SERVICES]
        agent.config.write_text(yaml.safe_dump(settings))
        agents.append(agent)
    return agents


def access_key(agent: Agent) -> str:
    settings = yaml.safe_load(agent.config.read_text())
    return str(settings["aws"]["credentials"]["access_key_id"])


def pid_of(agent: Agent) -> int:
    assert agent.process is not None
    return agent.process.pid


def poller_leader(db: sa.Engine, agents: list[Agent]) -> Agent | None:
    with db.connect() as connection:
        holder = connection.execute(
            sa.text("SELECT holder FROM leases WHERE name = 'poller' AND expires_at > now()")
        ).scalar()
    return next((a for a in agents if holder and f"-{pid_of(a)}-" in holder), None)


def claims_of(db: sa.Engine, agent: Agent) -> set[str]:
    """Incidents the replica's workers hold that still need work (a claim on a finished incident is left over
    when a worker dies between recording the end and releasing the claim: nobody needs to take that over)."""
    with db.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT id FROM incidents WHERE claimed_by LIKE :prefix AND status IN :busy").bindparams(
                sa.bindparam("busy", expanding=True)
            ),
            {"prefix": f"%-{pid_of(agent)}-worker-%", "busy": list(BUSY)},
        )
        return {row.id for row in rows}


def poller_calls(since: float) -> list[moto_latency.MotoCall]:
    """The pollers' DescribeAlarms calls since `since` (the request log is per process: earlier tests' daemons
    on the same test worker are in it too)."""
    calls = moto_latency.calls(since=since)
    return [c for c in calls if c.operation == "DescribeAlarms" and POLLER_AGENT in c.user_agent]


def measure_takeovers(db: sa.Engine, dead: Agent, killed_at: float, orphans: set[str]) -> tuple[float, float]:
    """Seconds from the kill to the first poll by another replica, and until the dead replica's last claimed
    incident was claimed (or finished) by another worker."""
    dead_key = access_key(dead)
    poll_takeover = investigation_takeover = None
    remaining = set(orphans)
    deadline = time.monotonic() + 60
    while (poll_takeover is None or remaining) and time.monotonic() < deadline:
        if poll_takeover is None:
            later = [c for c in poller_calls(killed_at) if c.access_key != dead_key]
            if later:
                poll_takeover = min(c.started for c in later) - killed_at
        if remaining:
            remaining -= {i for i in remaining if i not in claims_of(db, dead)}
            if not remaining:
                investigation_takeover = time.time() - killed_at
        time.sleep(0.1)
    assert poll_takeover is not None, "no other replica polled within 60 s of the leader's death"
    assert investigation_takeover is not None, f"incidents {sorted(remaining)} still held by the dead replica"
    return poll_takeover, investigation_takeover


def settled(db: sa.Engine) -> list[dict[str, Any]] | None:
    """Every fleet incident, once all exist, none needs work any more and the outbox has nothing left to send."""
    with db.connect() as connection:
        rows = [dict(r) for r in connection.execute(sa.text("SELECT * FROM incidents")).mappings()]
        pending = connection.execute(sa.text("SELECT count(*) FROM outbox WHERE status = 'pending'")).scalar()
    if len(rows) < len(SERVICES) or pending:
        return None
    if any(r["status"] in BUSY or not {"servicenow_number", "github_issue"} <= set(r["links"]) for r in rows):
        return None
    return rows


def assert_one_ticket_and_issue_each(world: SandboxWorld, incidents: list[dict[str, Any]]) -> None:
    ids = {i["id"] for i in incidents}
    records = world.servicenow.records("incident")
    by_correlation = Counter(r.get("correlation_id") for r in records)
    issues = world.github.issues(REPO)
    marked = Counter(m for issue in issues for m in re.findall(r"<!-- oncall-agent:incident=(\S+) -->", issue.body))
    assert {k: n for k, n in by_correlation.items() if n != 1} == {}, "ServiceNow incidents created twice"
    assert {k: n for k, n in marked.items() if n != 1} == {}, "GitHub issues created twice"
    assert set(by_correlation) == ids and len(records) == len(ids)
    assert set(marked) == ids and len(issues) == len(ids)
    comment_keys = Counter(
        (issue.number, key)
        for issue in issues
        for comment in world.github.comments(REPO, issue.number)
        for key in re.findall(r"<!-- oncall-agent:comment=(.+?) -->", comment.body)
    )
    note_keys = Counter(
        (record["sys_id"], key)
        for record in records
        for note in world.servicenow.work_notes_history("incident", record["sys_id"])
        for key in re.findall(r"\[code\]<!-- oncall-agent:(.+?) -->\[/code\]", note)
    )
    print(
        f"{len(ids)} incidents: {len(records)} ServiceNow incidents, {len(issues)} GitHub issues, "
        f"{sum(comment_keys.values())} comments ({len(comment_keys)} keys), "
        f"{sum(note_keys.values())} work notes ({len(note_keys)} keys)"
    )
    assert comment_keys and note_keys, "the incidents' updates never reached GitHub or ServiceNow"
    assert [k for k, n in comment_keys.items() if n > 1] == [], "a GitHub comment was posted twice"
    assert [k for k, n in note_keys.items() if n > 1] == [], "a ServiceNow work note was added twice"


def assert_one_poller_at_a_time(agents: list[Agent], dead: Agent, killed_at: float, since: float) -> None:
    calls = sorted(poller_calls(since), key=lambda c: c.started)
    runs = [c.access_key for i, c in enumerate(calls) if i == 0 or c.access_key != calls[i - 1].access_key]
    per_replica = Counter(c.access_key for c in calls)
    print(f"poller DescribeAlarms calls per replica: {dict(per_replica)}; leaders in turn: {runs}")
    assert set(per_replica) <= {access_key(a) for a in agents}
    # One leader before the kill, one after it: never two polling side by side, never back and forth.
    assert runs[0] == access_key(dead) and len(runs) == 2, runs
    assert all(c.started < killed_at for c in calls if c.access_key == access_key(dead))


def test_three_replicas_one_killed_write_and_poll_once(
    world: SandboxWorld, db: sa.Engine, replicas: list[Agent]
) -> None:
    started = time.time()
    create_alarms(world)
    agents = [agent.start() for agent in replicas]
    for index, service in enumerate(SERVICES[:FIRST_WAVE]):
        fire(world, service, f"{agents[index % 3].url}/webhooks/sns")
    leader = wait_for(lambda: poller_leader(db, agents), "a poller leader")
    wait_for(lambda: claims_of(db, leader), "the poller's leader to be investigating", timeout=90)

    assert leader.process is not None
    killed_at = time.time()  # taken before the signal: the takeover times below are not flattered
    leader.kill()
    orphans = claims_of(db, leader)  # what the dead replica was investigating: nobody will release these
    assert orphans, "the leader released its claims just before the kill: nothing to take over"
    for service in SERVICES[FIRST_WAVE:]:
        fire(world, service, None)  # only a live poller can see these
    poll_takeover, investigation_takeover = measure_takeovers(db, leader, killed_at, orphans)
    print(
        f"takeover after kill -9: poller {poll_takeover:.1f} s, "
        f"investigations ({len(orphans)} orphaned) {investigation_takeover:.1f} s"
    )

    incidents = wait_for(lambda: settled(db), "every incident investigated and its tickets written", timeout=150)
    assert sorted(i["service"] for i in incidents) == SERVICES
    assert poll_takeover < TAKEOVER_LIMIT
    assert investigation_takeover < TAKEOVER_LIMIT
    assert_one_poller_at_a_time(agents, leader, killed_at, started)
    assert_one_ticket_and_issue_each(world, incidents)
    survivors = [a for a in agents if a is not leader]
    for agent in survivors:
        assert agent.stop() == 0
    with db.connect() as connection:  # a clean stop hands the lease back at once
        released = connection.execute(sa.text("SELECT expires_at <= now() FROM leases WHERE name = 'poller'")).scalar()
    assert released is True
