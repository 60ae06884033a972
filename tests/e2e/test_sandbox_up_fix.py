"""A new user's path, as the README tells it: `oncall-agent sandbox up` (prints a config, an approver token and
the console URL), `oncall-agent serve` with that config unchanged, the alarm fired through the sandbox's control
endpoint, the incident investigated, the rollback approved with the printed token, the sandbox reacting, the
agent verifying recovery and resolving. Both trackers then name each other and the console."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.e2e.harness import free_port, wait_for
from tests.e2e.test_walking_skeleton import SCENARIO

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox, pytest.mark.slow]


def oncall_agent(*args: str, out: Path) -> subprocess.Popen[bytes]:
    with out.open("wb") as sink:
        return subprocess.Popen([sys.executable, "-m", "oncall_agent", *args], stdout=sink, stderr=subprocess.STDOUT)


@pytest.fixture()
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in reversed(started):  # the agent first, then the sandbox it talks to
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def printed(path: Path, label: str) -> str:
    """A value `sandbox up` printed on its `#   <label> <value>` line."""
    match = re.search(rf"^#\s+{label}\s+(\S+)", path.read_text(), re.M)
    return match.group(1) if match else ""


def test_sandbox_up_and_serve_show_a_fix_from_alarm_to_resolution(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    port, config = free_port(), tmp_path / "oncall-agent.yaml"
    up_out = tmp_path / "sandbox-up.txt"
    store = f"sqlite:///{tmp_path / 'agent.db'}"
    up = ["sandbox", "up", "--scenario", str(SCENARIO), "--store-url", store, "--port", str(port)]
    processes.append(oncall_agent(*up, "--write-config", str(config), out=up_out))
    approver = wait_for(
        lambda: re.search(r"^# approver:\s+(\S+), token (\S+)$", up_out.read_text(), re.M), "sandbox up to print"
    )
    auth = {"Authorization": f"Bearer {approver.group(2)}"}
    console, control = f"http://127.0.0.1:{port}", printed(up_out, "control")
    assert f"# console:     {console}/" in up_out.read_text() and control

    processes.append(oncall_agent("serve", "--config", str(config), out=tmp_path / "serve.txt"))
    wait_for(lambda: _answers(f"{console}/readyz"), "the agent to be ready", 60)
    fired = requests.post(f"{control}/_sandbox/fire", json={"deliver_to": f"{console}/webhooks/sns"}, timeout=30)
    assert fired.status_code == 200 and fired.json()["delivered_status"] == 200, fired.text
    alarm = fired.json()["name"]

    # The scenario has other alarms in ALARM that the poller finds too: follow the one fired.
    incident_id = wait_for(lambda: _incident_of(console, auth, alarm), "the alarm to become an incident")
    view = _wait_status(console, auth, incident_id, {"awaiting_approval"})
    rollback = next(a for a in view["actions"] if a["policy"] == "approval" and a["status"] == "proposed")
    assert rollback["kind"] == "ecs.rollback"
    approve = f"{console}/api/actions/{rollback['id']}/approve"
    answer = requests.post(approve, json={"digest": rollback["digest"]}, headers=auth, timeout=15)
    assert answer.status_code == 200, answer.text

    view = _wait_status(console, auth, incident_id, {"resolved", "escalated"})
    assert view["status"] == "resolved", [e["message"] for e in view["timeline"]]
    done = next(a for a in view["actions"] if a["id"] == rollback["id"])
    assert (done["status"], done["decided_by"]) == ("succeeded", approver.group(1))
    _assert_cross_links(yaml.safe_load(config.read_text()), console, auth, incident_id)


def _assert_cross_links(settings: dict[str, Any], console: str, auth: dict[str, str], incident_id: str) -> None:
    """The ServiceNow incident names the GitHub issue and the console page; the issue names the ServiceNow
    record (number and link) and the console page (read through the stand-ins' own APIs)."""
    page = f"{console}/incidents/{incident_id}"
    links = requests.get(f"{console}/api/incidents/{incident_id}", headers=auth, timeout=10).json()["links"]
    github, servicenow = settings["integrations"]["github"], settings["integrations"]["servicenow"]

    def records() -> tuple[dict[str, Any], dict[str, Any]]:
        issue = requests.get(
            f"{github['url']}/repos/{links['github_repo']}/issues/{links['github_issue']}",
            headers={"Authorization": f"token {github['token']}"},
            timeout=10,
        ).json()
        ticket = requests.get(
            f"{servicenow['url']}/api/now/table/incident/{links['servicenow_sys_id']}",
            auth=(servicenow["user"], servicenow["password"]),
            timeout=10,
        ).json()["result"]
        return issue, ticket

    def linked() -> tuple[dict[str, Any], dict[str, Any]] | None:
        issue, ticket = records()
        return (issue, ticket) if "being opened" not in issue["body"] + ticket["description"] else None

    issue, ticket = wait_for(linked, "both records to name each other", 30)
    assert f"**ServiceNow:** [{links['servicenow_number']}]({links['servicenow_link']})" in issue["body"]
    assert f"GitHub issue: {links['github_repo']}#{links['github_issue']} {issue['html_url']}" in ticket["description"]
    assert page in issue["body"] and page in ticket["description"]


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _incident_of(console: str, auth: dict[str, str], alarm: str) -> str | None:
    found = requests.get(f"{console}/api/incidents", headers=auth, timeout=10).json()
    return next((str(i["id"]) for i in found if alarm in {a["name"] for a in i["alarms"]}), None)


def _wait_status(console: str, auth: dict[str, str], incident_id: str, statuses: set[str]) -> dict[str, Any]:
    def view() -> dict[str, Any] | None:
        found: dict[str, Any] = requests.get(f"{console}/api/incidents/{incident_id}", headers=auth, timeout=10).json()
        return found if found["status"] in statuses else None

    return dict(wait_for(view, f"incident {incident_id} to be {' or '.join(sorted(statuses))}", 90))
