"""The cross-links between the ServiceNow incident and the GitHub issue: a placeholder line in each first
rendering, the line that replaces it once both records exist, and the text edit that is safe to repeat."""

from __future__ import annotations

import pytest

from oncall_agent.coordination.messages import OutboxMessenger, cross_links
from oncall_agent.coordination.render import GITHUB_PREFIX, PENDING_LINK, SERVICENOW_PREFIX
from oncall_agent.domain.text_lines import with_line
from tests.unit.test_messages import CATALOG, messenger, payloads, view

BOTH = {
    "servicenow_sys_id": "abc123",
    "servicenow_number": "INC0010001",
    "servicenow_link": "https://sn.example/incident.do?sys_id=abc123",
    "github_repo": "acme/checkout",
    "github_issue": "7",
    "github_link": "https://github.example/acme/checkout/issues/7",
}


def test_each_first_rendering_holds_a_placeholder_for_the_other_record() -> None:
    items = messenger(console_url="https://oncall.example").opened(view(waiting=True))
    (issue,) = payloads(items, "github.ensure_issue")
    (ticket,) = payloads(items, "servicenow.ensure_incident")
    assert f"\n{SERVICENOW_PREFIX}{PENDING_LINK}\n" in issue["body"]
    assert f"\n{GITHUB_PREFIX}{PENDING_LINK}\n" in ticket["description"]


def test_with_one_tracker_only_there_is_no_placeholder() -> None:
    github_only = OutboxMessenger(CATALOG, None, servicenow=False, github=True)
    (issue,) = payloads(github_only.opened(view(waiting=True)), "github.ensure_issue")
    assert SERVICENOW_PREFIX not in issue["body"]


def test_cross_links_wait_for_both_records() -> None:
    assert cross_links("inc-1", {k: v for k, v in BOTH.items() if not k.startswith("github")}) == []
    assert cross_links("inc-1", {k: v for k, v in BOTH.items() if not k.startswith("servicenow")}) == []
    to_issue, to_ticket = cross_links("inc-1", BOTH)
    assert (to_issue.key, to_issue.operation) == ("inc-1:link:github", "github.link")
    assert to_issue.payload == {
        "prefix": SERVICENOW_PREFIX,
        "line": f"{SERVICENOW_PREFIX}[INC0010001](https://sn.example/incident.do?sys_id=abc123)",
    }
    assert (to_ticket.key, to_ticket.operation) == ("inc-1:link:servicenow", "servicenow.link")
    assert to_ticket.payload == {
        "prefix": GITHUB_PREFIX,
        "line": f"{GITHUB_PREFIX}acme/checkout#7 https://github.example/acme/checkout/issues/7",
    }


def test_a_link_that_is_not_a_plain_url_is_left_out() -> None:
    hostile = {**BOTH, "servicenow_link": "javascript:alert(1)", "servicenow_number": "INC1](https://evil)"}
    (to_issue, _) = cross_links("inc-1", hostile)
    assert to_issue.payload["line"] == f"{SERVICENOW_PREFIX}INC1\\]\\(https\\://evil)"


def test_with_line_replaces_the_placeholder_once_and_is_idempotent() -> None:
    text = f"Incident inc-1\n{GITHUB_PREFIX}{PENDING_LINK}\n\nSummary: GitHub issue: quoted later\n"
    line = f"{GITHUB_PREFIX}acme/checkout#7"
    once = with_line(text, GITHUB_PREFIX, line)
    assert once == f"Incident inc-1\n{line}\n\nSummary: GitHub issue: quoted later\n"
    assert with_line(once, GITHUB_PREFIX, line) == once


def test_with_line_appends_when_someone_removed_the_line() -> None:
    assert with_line("edited by hand\n", "X: ", "X: 1") == "edited by hand\n\nX: 1\n"
    assert with_line("", "X: ", "X: 1") == "X: 1\n"


@pytest.mark.parametrize("line", ["Y: 1", "X: 1\nX: 2"])
def test_with_line_refuses_a_line_it_could_not_find_again(line: str) -> None:
    with pytest.raises(ValueError, match="one line starting with"):
        with_line("text", "X: ", line)
