"""One execution per approved action across three `oncall-agent serve` replicas on one PostgreSQL database.

The checkout bad deploy fires and is delivered to one replica; once the rollback is proposed, the same approval
is sent at the same moment to two other replicas' APIs (one answers 200, the other 409). The replica whose
worker picks the approved incident up is killed with `kill -9` while its rollback's ECS UpdateService is on the
way to moto (every AWS call is slowed down for that window): moto applies it, the replica never records it.
Another replica takes the incident over, re-reads the service (DESIGN.md §6, ECS deployment check), finds it
rolled back and does not call UpdateService again: moto's request log shows exactly one UpdateService by any
replica. The sandbox reacts to the rollback, the alarm clears and the incident is resolved.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from oncall_agent.sandbox import moto_latency
from oncall_agent.sandbox.scenario import load_scenario
from oncall_agent.sandbox.world import SandboxWorld
from tests.e2e.harness import Agent, wait_for
from tests.e2e.test_replicas import access_key, pid_of
from tests.e2e.test_walking_skeleton import SCENARIO, awaiting, make_world, rollback_of, running_task_definition

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox, pytest.mark.postgres, pytest.mark.slow]
TAKEOVER_LIMIT = 30.0
KILL_WINDOW_MS = 1500


@pytest.fixture()
def world() -> Iterator[SandboxWorld]:
    yield from make_world(load_scenario(SCENARIO))


@pytest.fixture()
def db(pg_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture()
def replicas(world: SandboxWorld, tmp_path: Path, pg_url: str) -> Iterator[list[Agent]]:
    """Three replicas of the scenario's agent on one database; killed before the database is dropped."""
    agents = []
    for index in range(3):
        folder = tmp_path / f"replica-{index}"
        folder.mkdir()
        agent = Agent(world, folder, poll_interval=0.5)
        settings = yaml.safe_load(agent.config.read_text())
        settings["store"]["url"] = pg_url
        settings["aws"]["credentials"]["access_key_id"] = f"replica{index}"  # moto's log says who called
        agent.config.write_text(yaml.safe_dump(settings))
        agents.append(agent)
    yield agents
    for agent in agents:
        if agent.process is not None and agent.process.poll() is None:
            agent.process.kill()
            agent.process.wait(timeout=30)


def approve_at_once(agents: list[Agent], action: dict[str, str]) -> list[int]:
    """The same approval posted to each agent's API at the same instant; the status codes in agent order."""
    barrier = threading.Barrier(len(agents))
    codes: list[int] = [0] * len(agents)

    def post(index: int) -> None:
        barrier.wait()
        answer = agents[index].api("POST", f"/actions/{action['id']}/approve", json={"digest": action["digest"]})
        codes[index] = answer.status_code

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(agents))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return codes


def claimant(db: sa.Engine, agents: list[Agent], incident_id: str) -> Agent | None:
    with db.connect() as connection:
        holder = connection.execute(
            sa.text("SELECT claimed_by FROM incidents WHERE id = :id"),
            {"id": incident_id},
        ).scalar()
    return next((a for a in agents if holder and f"-{pid_of(a)}-worker-" in holder), None)


def update_service_calls(agents: list[Agent]) -> list[moto_latency.MotoCall]:
    keys = {access_key(a) for a in agents}
    return [c for c in moto_latency.calls() if c.operation == "UpdateService" and c.access_key in keys]


def writing(agent: Agent) -> bool:
    return any(c.operation == "UpdateService" and c.access_key == access_key(agent) for c in moto_latency.in_flight())


def test_an_action_approved_on_two_replicas_runs_once_despite_a_kill(
    world: SandboxWorld, db: sa.Engine, replicas: list[Agent]
) -> None:
    agents = [agent.start() for agent in replicas]
    incident_id = agents[0].fire()
    rollback = rollback_of(awaiting(agents[0], incident_id))
    assert rollback["status"] == "proposed" and update_service_calls(agents) == []
    wait_for(lambda: claimant(db, agents, incident_id) is None, "the investigating worker to let the incident go")

    moto_latency.set_latency(KILL_WINDOW_MS)  # every AWS call waits, so the rollback's write can be caught on the way
    codes = approve_at_once(agents[1:], rollback)
    assert sorted(codes) == [200, 409], codes
    victim = wait_for(lambda: claimant(db, agents, incident_id), "a worker to pick up the approved rollback")
    wait_for(lambda: writing(victim), "the rollback's UpdateService to be on its way to moto", timeout=30)
    killed_at = time.time()
    victim.kill()  # moto still applies the write: the rollback ran, but the dead replica never heard so
    moto_latency.set_latency(0)
    wait_for(lambda: running_task_definition(world) == "checkout:117", "the in-flight rollback to land in moto")
    print(
        f"approvals on replicas 1 and 2 answered {codes}; replica {agents.index(victim)} picked the incident up "
        f"and was killed with its UpdateService in flight"
    )

    survivor = next(a for a in agents if a is not victim)
    view = survivor.wait_status(incident_id, "resolved", timeout=120)
    resolved_after = time.time() - killed_at
    calls = update_service_calls(agents)
    print(f"resolved {resolved_after:.1f} s after the kill; UpdateService calls by replicas: {len(calls)}")
    assert len(calls) == 1, [(c.access_key, c.started) for c in calls]
    assert running_task_definition(world) == "checkout:117"
    assert rollback_of(view)["status"] == "succeeded", rollback_of(view)
    decisions = [e for e in view["timeline"] if e["kind"] == "decision"]
    assert len(decisions) == 1, decisions
    assert calls[0].access_key == access_key(victim)  # the survivor found the service rolled back: no second call
    assert resolved_after < TAKEOVER_LIMIT + 20  # one investigation lease to take it over, then verification
    for agent in agents:
        if agent is not victim:
            assert agent.stop() == 0
