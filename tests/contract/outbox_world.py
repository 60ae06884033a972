"""What the outbox-relay suites against the sandbox share: the ServiceNow and GitHub stand-ins with their real
adapters (built the way bootstrap builds the relay's), trackers that count the relay's calls per key, and
outbox items for a number of incidents."""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from oncall_agent.adapters.github import GitHubTracker
from oncall_agent.adapters.servicenow import ServiceNowTracker
from oncall_agent.sandbox.standins import (
    BackgroundServer,
    FaultInjector,
    GitHubState,
    ServiceNowState,
    create_github_app,
    create_servicenow_app,
)
from oncall_agent.store.outbox import OutboxItem
from oncall_agent.store.tables import incidents

USER, PASSWORD, TOKEN, REPO = "oncall-agent", "s3cret-pw", "ghp_outbox_test", "acme/checkout"
RELAY_MAX_WAIT = 2.0  # as bootstrap_investigation.RELAY_MAX_RATE_LIMIT_WAIT


class Counting:
    """A real tracker whose calls are counted by (method, key argument): the relay's deliveries, one by one."""

    def __init__(self, inner: Any, key_arg: dict[str, int]) -> None:
        self._inner, self._key_arg = inner, key_arg
        self.calls: collections.Counter[tuple[str, str]] = collections.Counter()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)
        if name not in self._key_arg:
            return method

        def counted(*args: Any) -> Any:
            with self._lock:
                self.calls[(name, str(args[self._key_arg[name]]))] += 1
            return method(*args)

        return counted


@dataclass
class Trackers:
    servicenow: ServiceNowState
    github: GitHubState
    sn_faults: FaultInjector
    gh_faults: FaultInjector
    sn_url: str
    gh_url: str
    sleeps: list[float] = field(default_factory=list)

    def tickets(self, **overrides: Any) -> Counting:
        options: dict[str, Any] = {"max_retry_after": RELAY_MAX_WAIT, "backoff_base": 0.01, "sleep": self.sleeps.append}
        tracker = ServiceNowTracker(self.sn_url, USER, PASSWORD, **{**options, **overrides})
        return Counting(tracker, {"ensure_incident": 0, "add_work_note": 2, "set_description_line": 1})

    def issues(self, **overrides: Any) -> Counting:
        options: dict[str, Any] = {
            "write_interval": 0.0,
            "max_rate_limit_wait": RELAY_MAX_WAIT,
            "backoff_base": 0.01,
            "sleep": self.sleeps.append,
        }
        tracker = GitHubTracker(self.gh_url, TOKEN, **{**options, **overrides})
        return Counting(tracker, {"ensure_issue": 1, "comment": 3, "set_body_line": 3})

    def sn_incidents(self, correlation_id: str) -> list[dict[str, str]]:
        return [r for r in self.servicenow.records("incident") if r.get("correlation_id") == correlation_id]

    def gh_issues(self, marker: str) -> list[Any]:
        return [issue for issue in self.github.issues(REPO) if marker in issue.body]


def trackers() -> Iterator[Trackers]:
    sn_state, sn_faults = ServiceNowState(), FaultInjector()
    gh_state, gh_faults = GitHubState(), FaultInjector()
    gh_state.add_repo(REPO)
    sn = BackgroundServer(create_servicenow_app(sn_state, sn_faults, USER, PASSWORD), faults=sn_faults)
    gh = BackgroundServer(create_github_app(gh_state, gh_faults, TOKEN), faults=gh_faults)
    yield Trackers(sn_state, gh_state, sn_faults, gh_faults, sn.start(), gh.start())
    sn_faults.release_held()
    gh_faults.release_held()
    sn.stop()
    gh.stop()


def add_incidents(engine: Engine, ids: list[str]) -> None:
    at = datetime.now(UTC)
    with engine.begin() as connection:
        for incident_id in ids:
            connection.execute(
                sa.insert(incidents).values(
                    id=incident_id,
                    fingerprint=incident_id,
                    service="checkout",
                    status="investigating",
                    first_event_at=at,
                    last_event_at=at,
                    opened_at=at,
                    updated_at=at,
                    links={},
                )
            )


def marker(incident_id: str) -> str:
    return f"<!-- oncall-agent:incident={incident_id} -->"


def ensure_items(incident_id: str, copy: str = "") -> list[OutboxItem]:
    """The find-or-create rows of one incident (`copy` makes a second pair with other keys, as a reopened
    incident's producer would queue: both must end in the same ticket and issue)."""
    return [
        OutboxItem(
            f"{incident_id}:sn:ensure{copy}",
            incident_id,
            "servicenow",
            "servicenow.ensure_incident",
            {"correlation_id": incident_id, "short_description": f"{incident_id} 5xx", "description": "d", "ci": None},
        ),
        OutboxItem(
            f"{incident_id}:gh:ensure{copy}",
            incident_id,
            "github",
            "github.ensure_issue",
            {"repo": REPO, "marker": marker(incident_id), "title": f"{incident_id} 5xx", "body": "b", "labels": []},
        ),
    ]


def update_items(incident_id: str, n: int) -> list[OutboxItem]:
    sn_key, gh_key = f"{incident_id}:sn:note:{n}", f"{incident_id}:gh:comment:{n}"
    return [
        OutboxItem(sn_key, incident_id, "servicenow", "servicenow.work_note", {"note": f"note {n}", "key": sn_key}),
        OutboxItem(gh_key, incident_id, "github", "github.comment", {"body": f"comment {n}", "key": gh_key}),
    ]
