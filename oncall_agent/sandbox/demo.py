"""`oncall-agent demo`: one scenario, end to end, on a laptop: the sandbox, the daemon in this process, the
alarm, the investigation, the tickets, the approval, the action, the recovery and the closed tickets."""

from __future__ import annotations

import secrets
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import yaml

from oncall_agent.coordination.render import shorten
from oncall_agent.daemon import Daemon
from oncall_agent.investigation.views import incident_view
from oncall_agent.sandbox.scenario import load_scenario
from oncall_agent.sandbox.world import SandboxWorld
from oncall_agent.settings import Settings

Say = Callable[[str], None]
REPO_SCENARIOS = Path(__file__).resolve().parents[2] / "tests" / "scenarios"
PACKAGED_SCENARIOS = Path(__file__).resolve().parents[1] / "_scenarios"
DEFAULT_SCENARIO = "ecs-bad-deploy.yaml"
OPERATOR = "demo-operator"
SETTLED = {"resolved", "escalated", "closed"}


def default_scenario() -> Path:
    """The shipped bad-deploy scenario: packaged with a wheel, or in the checkout for an editable install."""
    for folder in (PACKAGED_SCENARIOS, REPO_SCENARIOS):
        if (folder / DEFAULT_SCENARIO).is_file():
            return folder / DEFAULT_SCENARIO
    raise FileNotFoundError(f"shipped scenario {DEFAULT_SCENARIO} not found; pass --scenario FILE")


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


class DemoRun:
    def __init__(self, world: SandboxWorld, daemon: Daemon, url: str, token: str, say: Say) -> None:
        self.world, self.daemon, self.url, self.token, self.say = world, daemon, url, token, say
        inv = daemon.components.investigation
        assert inv is not None
        self.inv = inv
        self.store = daemon.components.store

    def view(self, incident_id: str) -> dict[str, Any]:
        found = incident_view(self.store, self.inv.results, self.inv.actions, incident_id)
        assert found is not None
        return found

    def incident_id(self) -> str:
        alarm = self.world.scenario.incident_alarm.name

        def mine() -> str | None:
            found = [i for i in self.store.list_incidents() if alarm in {a.alarm_name for a in i.alarms}]
            return found[0].id if found else None

        return str(wait_for(mine, 30, "the alarm to become an incident"))

    def wait_status(self, incident_id: str, statuses: set[str], timeout: float) -> dict[str, Any]:
        return dict(
            wait_for(
                lambda: (v := self.view(incident_id))["status"] in statuses and v, timeout, f"status {sorted(statuses)}"
            )
        )

    def report_findings(self, view: dict[str, Any]) -> None:
        per_source = Counter(e["source"] for e in view["evidence"] if e["kind"] != "gap")
        gaps = [e for e in view["evidence"] if e["kind"] == "gap"]
        said = ", ".join(f"{g['source']} ({shorten(g['summary'], 80)})" for g in gaps)
        self.say(
            "evidence gathered: "
            + ", ".join(f"{k} {v}" for k, v in sorted(per_source.items()))
            + (f"; gaps: {said}" if gaps else "")
        )
        for rank, h in enumerate(view["hypotheses"][:3], 1):
            self.say(f"  #{rank} {h['category']:<14} {h['culprit'] or '-':<40} confidence {h['confidence']:.2f}")

    def wait_delivered(self, incident_id: str) -> None:
        """Until every tracker write the incident queued was delivered (or given up): the summary reads the
        trackers themselves, and on a busy machine the last escalation update may still be in the outbox."""
        try:
            wait_for(
                lambda: all(row.status != "pending" for row in self.inv.outbox.for_incident(incident_id)),
                30,
                "the trackers to receive the incident's updates",
            )
        except TimeoutError:  # a tracker still retrying: the summary says what it holds now
            self.say("some tracker updates are still being retried")

    def report_tickets(self, incident_id: str, when: str) -> dict[str, Any]:
        links = wait_for(
            lambda: (
                (lk := self.view(incident_id)["links"]) and "servicenow_number" in lk and "github_issue" in lk and lk
            ),
            30,
            "the ServiceNow incident and the GitHub issue",
        )
        self.say(
            f"tickets {when}: ServiceNow {links['servicenow_number']}, GitHub "
            f"{links['github_repo']}#{links['github_issue']}"
        )
        return dict(links)

    def approve(self, action: dict[str, Any]) -> None:
        answer = requests.post(
            f"{self.url}/api/actions/{action['id']}/approve",
            json={"digest": action["digest"]},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )
        if answer.status_code != 200:
            raise RuntimeError(f"approval refused: HTTP {answer.status_code} {answer.text}")
        self.say(f"approved {action['kind']} {action['id']} as {OPERATOR} (digest {action['digest'][:12]})")


def _settings(world: SandboxWorld, folder: Path, token: str) -> Settings:
    config = world.agent_config(
        store_url=f"sqlite:///{folder / 'oncall-agent.db'}", http_port=0, poll_interval_seconds=1.0
    )
    # The demo operator may decide for every team of the scenario's catalog (and `oncall`, for untagged services).
    teams = sorted(
        {str(s.get("tags", {}).get("team")) for s in config.get("services", []) if s.get("tags", {}).get("team")}
    )
    config["approvals"] = {"approvers": {OPERATOR: {"token": token, "groups": [*teams, "oncall"]}}}
    config["investigation"] = {"verify_timeout_seconds": 20, "verify_poll_seconds": 0.5}
    # On disk too, so a person can point the CLI at this demo (`approve --config ...` in --interactive).
    (folder / "oncall-agent.yaml").write_text(yaml.safe_dump(config))
    return Settings(**config)


def _story(run: DemoRun, interactive: bool) -> dict[str, Any]:
    say, world = run.say, run.world
    fired = world.fire(deliver_to=f"{run.url}/webhooks/sns")
    say(f"alarm {fired.alarm.name} -> ALARM (SNS delivery: HTTP {fired.delivered_status})")
    incident_id = run.incident_id()
    say(f"incident {incident_id} opened; investigating")
    view = run.wait_status(incident_id, {"awaiting_approval", *SETTLED}, 60)
    run.report_findings(view)
    run.report_tickets(incident_id, "opened")
    pending = [a for a in view["actions"] if a["status"] == "proposed" and a["policy"] == "approval"]
    for action in view["actions"]:
        say(f"proposed {action['kind']} {action['id']} {action['parameters']} (policy: {action['policy']})")
    if pending and interactive:
        config = Path(run.daemon.settings.store.url.removeprefix("sqlite:///")).with_name("oncall-agent.yaml")
        say(f"waiting for approval: oncall-agent approve {pending[0]['id']} --as {OPERATOR} --config {config}")
    elif pending:
        run.approve(pending[0])
    view = run.wait_status(incident_id, SETTLED, 120 if not interactive else 3600)
    for action in view["actions"]:
        if action["status"] != "proposed":  # an unused fallback (escalation after a fix) is not news
            say(f"action {action['kind']} {action['id']}: {action['status']}")
    say(f"incident {incident_id}: {view['status']}")
    run.report_tickets(incident_id, "updated")
    run.wait_delivered(incident_id)
    return view


def _format2_counts(resources: int, events: int, unseeded: list[str]) -> str:
    """`, 5 resources, 4 AWS events` for a format-2 scenario (nothing for format 1); names what was not seeded."""
    text = (f", {resources} resources" if resources else "") + (f", {events} AWS events" if events else "")
    return text + (f" (not seeded: {', '.join(unseeded)})" if unseeded else "")


def run_demo(
    scenario_path: Path | None,
    say: Say,
    interactive: bool = False,
    *,
    keep: bool = False,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run the whole demo; returns the JSON summary. `say` prints progress. With `keep`, the store and config
    stay on disk and the agent keeps serving (the story can be browsed) until SIGINT/SIGTERM; `on_result` gets
    the summary before that wait."""
    scenario = load_scenario(scenario_path or default_scenario())
    say(f"scenario {scenario.id}: {scenario.title}")
    world = SandboxWorld(scenario)
    endpoints = world.start()
    try:
        aws, standins = world.seed()
        world.start_reacting()
        say(
            f"sandbox up (moto {endpoints.aws}); seeded {aws.alarms + aws.other_alarms} alarms, "
            f"{aws.metric_points} metric points, {aws.log_events} log lines, {len(standins.cloudtrail_event_ids)} "
            f"CloudTrail events, {standins.commits} commits, {standins.servicenow_records} ServiceNow records"
            + _format2_counts(aws.resources, aws.events + len(standins.health_event_arns), aws.unseeded_resources)
        )
        if keep:
            return _run_agent(world, Path(tempfile.mkdtemp(prefix="oncall-demo-")), say, interactive, on_result)
        with tempfile.TemporaryDirectory(prefix="oncall-demo-") as tmp:
            return _run_agent(world, Path(tmp), say, interactive, None)
    finally:
        world.stop()


def _run_agent(
    world: SandboxWorld,
    folder: Path,
    say: Say,
    interactive: bool,
    keep_with: Callable[[dict[str, Any]], None] | None,
) -> dict[str, Any]:
    """The agent in this process on `folder`'s store; `keep_with` set: report, then serve until a signal."""
    token = secrets.token_urlsafe(24)
    daemon = Daemon(_settings(world, folder, token))
    world.seed_history(daemon.components.store)
    url = daemon.start_in_thread()
    try:
        view = _story(DemoRun(world, daemon, url, token, say), interactive)
        time.sleep(1.5)  # let the relay deliver the closing updates
        result = summarize(world, view, daemon)
        if keep_with is not None:
            keep_with(result)
            say(
                f"kept: store and config in {folder} (oncall-agent incidents show {view['id']} --config "
                f"{folder / 'oncall-agent.yaml'})"
            )
            say(f"the agent keeps serving at {url} (API token {token}); Ctrl-C to stop")
            _wait_for_signal()
        return result
    finally:
        daemon.stop_thread()


def _wait_for_signal() -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    stop.wait()


def summarize(world: SandboxWorld, view: dict[str, Any], daemon: Daemon) -> dict[str, Any]:
    links = view["links"]
    sn = next((r for r in world.servicenow.records("incident") if r.get("correlation_id") == view["id"]), {})
    repo, number = links.get("github_repo"), links.get("github_issue")
    issue = next((i for i in world.github.issues(repo) if str(i.number) == str(number)), None) if repo else None
    return {
        "scenario": world.scenario.id,
        "incident": {"id": view["id"], "service": view["service"], "status": view["status"]},
        "hypotheses": [
            {k: h[k] for k in ("category", "culprit", "confidence", "evidence_for")} for h in view["hypotheses"]
        ],
        "actions": [
            {"id": a["id"], "kind": a["kind"], "status": a["status"], "approved_by": a["decided_by"]}
            for a in view["actions"]
        ],
        "servicenow": {
            "number": sn.get("number"),
            "state": sn.get("state"),
            "assignment_group": sn.get("assignment_group") or None,
            "priority": sn.get("priority"),
            "impact": sn.get("impact"),
            "urgency": sn.get("urgency"),
        },
        "github": {
            "issue": number,
            "state": getattr(issue, "state", None),
            "assignees": list(getattr(issue, "assignees", []) or []),
        },
        "severity": view.get("severity"),
        "timeline": [{"at": e["at"], "kind": e["kind"], "message": e["message"]} for e in view["timeline"]],
    }
