"""`oncall-agent mcp` in a subprocess, driven by the MCP SDK's own client over stdio and streamable HTTP, on a
real store (SQLite file and PostgreSQL) seeded through the store API: the read tools answer from the store;
deciding goes through the approval service and needs an approver of the action's group; a refusal writes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import yaml
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult
from pydantic import SecretStr

from oncall_agent.bootstrap_mcp import build_mcp
from oncall_agent.domain.action import ActionStatus
from oncall_agent.domain.errors import ConfigError
from oncall_agent.domain.evidence import Category, Evidence, EvidenceKind, Hypothesis
from oncall_agent.settings import load_settings
from oncall_agent.store.actions import SqlActionStore
from oncall_agent.store.incident_store import SqlIncidentStore
from oncall_agent.store.investigations import SqlInvestigationStore
from tests.contract.store_fixtures import engine_with_incidents
from tests.integration.approval_world import ROLLBACK, SCALE

ROOT = Path(__file__).resolve().parents[2]
ALICE, CAROL = "alice-token-0123456789", "carol-token-0123456789"  # storefront, payments
READS = ["get_findings", "get_incident", "list_actions", "list_incidents"]
DEPLOY = Evidence(
    kind=EvidenceKind.DEPLOY,
    source="ecs",
    entity="checkout:117",
    summary="checkout:117 deployed 3 min before the alarm",
    at=datetime(2026, 11, 25, 11, 57, tzinfo=UTC),
)
GAP = Evidence(kind=EvidenceKind.GAP, source="logs", entity="checkout", summary="log group not readable")


class Now:
    def now(self) -> datetime:  # actions saved now do not expire during the test
        return datetime.now(UTC)


@pytest.fixture()
def store(store_url: str) -> Iterator[tuple[str, SqlActionStore, SqlIncidentStore]]:
    for engine in engine_with_incidents(store_url):
        results = SqlInvestigationStore(engine, Now())
        ranked = [
            Hypothesis(category=Category.DEPLOY, culprit="checkout:117", confidence=0.8, evidence_for=[DEPLOY.id])
        ]
        results.record("inc-1", found=[DEPLOY, GAP], ranked=ranked, severity="SEV2", timeline=("note", "seeded", {}))
        actions = SqlActionStore(engine, Now())
        actions.save_proposed([ROLLBACK, SCALE])
        yield store_url, actions, SqlIncidentStore(engine, Now())


def config(folder: Path, url: str, *, decisions: bool) -> Path:
    approvers = {"alice": {"token": ALICE, "groups": ["storefront"]}, "carol": {"token": CAROL, "groups": ["payments"]}}
    settings = {"store": {"url": url}, "approvals": {"approvers": approvers}, "mcp": {"decisions": decisions}}
    path = folder / "agent.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def environment(token: str | None) -> dict[str, str]:
    env = {"PYTHONPATH": str(ROOT), "ONCALL_LOGGING__LEVEL": "WARNING"}
    return env | ({"ONCALL_MCP__APPROVER_TOKEN": token} if token else {})


def stdio(path: Path, token: str | None = None) -> Client:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "oncall_agent", "mcp", "--config", str(path)], env=environment(token)
    )
    return Client(stdio_client(params))


def data(result: CallToolResult) -> Any:
    assert not result.is_error, result.content
    return result.structured_content


def refusal(result: CallToolResult) -> str:
    assert result.is_error
    return " ".join(getattr(part, "text", "") for part in result.content)


def decision_lines(incidents: SqlIncidentStore) -> list[str]:
    found = incidents.get_incident("inc-1")
    assert found is not None
    return [entry.message for entry in found.timeline if entry.kind == "decision"]


def decide(action: Any = ROLLBACK, decision: str = "approve", digest: str | None = None) -> dict[str, Any]:
    return {
        "action_id": action.id,
        "decision": decision,
        "digest": digest or action.digest,
        "reason": "deploy broke it",
    }


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # stdio: the store is the same code as over HTTP
def test_read_only_by_default_the_tools_answer_from_the_store(store: Any, tmp_path: Path) -> None:
    url, _actions, _incidents = store

    async def session() -> None:
        async with stdio(config(tmp_path, url, decisions=False), ALICE) as client:
            assert sorted(tool.name for tool in (await client.list_tools()).tools) == READS
            listed = data(await client.call_tool("list_incidents", {"status": "investigating", "service": "checkout"}))
            assert sorted(i["id"] for i in listed["incidents"]) == ["inc-1", "inc-2"] and not listed["more"]
            one = data(await client.call_tool("list_incidents", {"limit": 1}))
            assert len(one["incidents"]) == 1 and one["more"]
            assert data(await client.call_tool("list_incidents", {"service": "payments"}))["incidents"] == []
            assert "one of: open, investigating" in refusal(await client.call_tool("list_incidents", {"status": "x"}))
            incident = data(await client.call_tool("get_incident", {"incident_id": "inc-1"}))
            assert (incident["status"], incident["severity"], incident["service"]) == (
                "investigating",
                "SEV2",
                "checkout",
            )
            assert [e["message"] for e in incident["timeline"]] == ["seeded"]
            findings = data(await client.call_tool("get_findings", {"incident_id": "inc-1"}))
            top = findings["hypotheses"][0]
            assert (top["rank"], top["category"], top["culprit"]) == (1, "deploy", "checkout:117")
            assert [c["summary"] for c in top["evidence_for"]] == [DEPLOY.summary]
            assert findings["gaps"] == [{"source": "logs", "summary": GAP.summary}]
            assert [e["id"] for e in findings["evidence"]] == [DEPLOY.id] and "never follow" in findings["untrusted"]
            shown = data(await client.call_tool("list_actions", {"incident_id": "inc-1"}))["actions"]
            assert {(a["id"], a["digest"], a["approver_group"], a["status"]) for a in shown} == {
                (ROLLBACK.id, ROLLBACK.digest, "storefront", "proposed"),
                (SCALE.id, SCALE.digest, "storefront", "proposed"),
            }
            assert "no incident 'inc-9'" in refusal(await client.call_tool("get_incident", {"incident_id": "inc-9"}))

    anyio.run(session)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # stdio: the store is the same code as over HTTP
@pytest.mark.parametrize(
    ("token", "why"),
    [(None, "refused (401): no approver credentials"), (CAROL, "refused (403): carol is not in group storefront")],
    ids=["no-token", "other-group"],
)
def test_stdio_decisions_need_an_approver_of_the_group(store: Any, tmp_path: Path, token: str | None, why: str) -> None:
    url, actions, incidents = store

    async def session() -> None:
        async with stdio(config(tmp_path, url, decisions=True), token) as client:
            assert "decide_action" in [tool.name for tool in (await client.list_tools()).tools]
            assert why in refusal(await client.call_tool("decide_action", decide()))

    anyio.run(session)
    assert actions.get(ROLLBACK.id).status is ActionStatus.PROPOSED  # type: ignore[union-attr]
    assert decision_lines(incidents) == []


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # stdio: the store is the same code as over HTTP
def test_stdio_decision_by_a_group_member_is_the_approval_services(store: Any, tmp_path: Path) -> None:
    url, actions, incidents = store

    async def session() -> None:
        async with stdio(config(tmp_path, url, decisions=True), ALICE) as client:
            wrong = refusal(await client.call_tool("decide_action", decide(digest="0" * 12)))
            assert "refused (409)" in wrong and "has digest" in wrong
            approved = data(await client.call_tool("decide_action", decide()))
            assert (approved["status"], approved["decided_by"], approved["decided_via"]) == ("approved", "alice", "mcp")
            again = refusal(await client.call_tool("decide_action", decide(decision="reject")))
            assert "refused (409)" in again and "already approved by alice" in again

    anyio.run(session)
    stored = actions.get(ROLLBACK.id)
    assert stored is not None and (stored.status, stored.decided_by) == (ActionStatus.APPROVED, "alice")
    assert decision_lines(incidents) == [
        f"ecs.rollback {ROLLBACK.id} approved by alice via mcp (digest {ROLLBACK.digest[:12]}): deploy broke it"
    ]
    assert actions.get(SCALE.id).status is ActionStatus.PROPOSED  # type: ignore[union-attr]


@pytest.fixture()
def http_server(store: Any, tmp_path: Path) -> Iterator[str]:
    """`oncall-agent mcp --transport http --port 0`; yields the URL it logged once listening."""
    url, _actions, _incidents = store
    log = tmp_path / "mcp.log"
    command = [sys.executable, "-m", "oncall_agent", "mcp", "--transport", "http", "--port", "0"]
    env = {**os.environ, **environment(ALICE), "ONCALL_LOGGING__LEVEL": "INFO"}  # the stdio token must not count
    with log.open("w") as errors:
        process = subprocess.Popen(
            [*command, "--config", str(config(tmp_path, url, decisions=True))], stderr=errors, env=env
        )
    try:
        yield wait_for_url(process, log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_for_url(process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if '"mcp_listening"' in line:
                return str(json.loads(line)["url"])
        if process.poll() is not None:
            pytest.fail(f"mcp exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    pytest.fail(f"mcp did not listen within 60 s:\n{log.read_text()[-3000:]}")


def http(url: str, token: str | None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client(streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers, timeout=30)))


def test_http_needs_a_bearer_token_of_an_approver_in_the_group(store: Any, http_server: str) -> None:
    _url, actions, incidents = store

    async def session() -> None:
        for token, why in ((None, "missing bearer token"), ("not-a-token", "unknown bearer token")):
            with pytest.raises(BaseException, match="unhandled errors"):  # the SDK client cannot even connect
                async with http(http_server, token) as client:
                    await client.call_tool("decide_action", decide())
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with httpx2.AsyncClient(headers=headers) as plain:
                answer = await plain.post(http_server, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
            assert answer.status_code == 401 and answer.json()["detail"].startswith(why)
        async with http(http_server, CAROL) as client:
            assert data(await client.call_tool("get_incident", {"incident_id": "inc-1"}))["severity"] == "SEV2"
            assert "refused (403): carol" in refusal(await client.call_tool("decide_action", decide()))
        assert actions.get(ROLLBACK.id).status is ActionStatus.PROPOSED  # type: ignore[union-attr]
        assert decision_lines(incidents) == []
        async with http(http_server, ALICE) as client:
            rejected = data(await client.call_tool("decide_action", decide(decision="reject")))
            assert (rejected["status"], rejected["decided_by"]) == ("rejected", "alice")

    anyio.run(session)
    stored = actions.get(ROLLBACK.id)
    assert stored is not None and (stored.status, stored.decided_via) == (ActionStatus.REJECTED, "mcp")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_token_that_names_nobody_stops_the_server_at_start(store: Any, tmp_path: Path) -> None:
    url, _actions, incidents = store
    settings = load_settings(config(tmp_path, url, decisions=True))
    settings.mcp.approver_token = SecretStr("not-a-token")
    with pytest.raises(ConfigError, match=r"mcp\.approver_token is not the token of any approver") as refused:
        build_mcp(settings, incidents.engine, "stdio")
    assert "not-a-token" not in str(refused.value)
    settings.mcp.approver_token = SecretStr(ALICE)
    _server, tokens = build_mcp(settings, incidents.engine, "http")
    assert tokens() == {"alice": ALICE, "carol": CAROL}
