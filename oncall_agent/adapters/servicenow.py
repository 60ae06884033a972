"""ServiceNow Table API adapter (ports.TicketTracker): reads change requests on a CI, keeps one incident per agent
incident (find-or-create by `correlation_id`), appends work notes once per key, escalates (assignment group,
impact, urgency) and resolves with close fields.

Every write is a retried *unit* that looks before it writes (reconcile-before-retry): a POST or PATCH whose
answer was lost (timeout, 5xx after commit) is followed by a fresh lookup, never by a blind second write.
Requests, errors and the retry policy (429 honouring `Retry-After`; 5xx, connection errors and timeouts with
jittered exponential backoff; other 4xx raised at once as `TicketError`) live in `servicenow_http`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

import requests

from oncall_agent.adapters import servicenow_changes as changes
from oncall_agent.adapters.servicenow_http import TableApi, TicketError, TicketRetry
from oncall_agent.domain.records import TicketRecord
from oncall_agent.domain.text_lines import with_line
from oncall_agent.domain.time import as_utc
from oncall_agent.ports import ChangeStatus, TicketRef

__all__ = ["ServiceNowTracker", "TicketError", "work_note_marker"]

log = logging.getLogger(__name__)

SN_DATE = "%Y-%m-%d %H:%M:%S"  # how the Table API writes date-times (UTC with display_value=false)
NEW, IN_PROGRESS, RESOLVED, CLOSED, CANCELED = "1", "2", "6", "7", "8"
_DONE_STATES = {RESOLVED, CLOSED, CANCELED}
_SHORT_DESCRIPTION_MAX = 160  # the out-of-box length of incident.short_description
_JOURNAL_MAX = 4000  # the out-of-box max length of a journal field: a longer note could lose its marker
_SN_CODE = re.compile(r"(?i)\[(/?)code\]")  # ServiceNow's escape into HTML: only the marker may use it
_INCIDENT_FIELDS = "sys_id,number,state,correlation_id"
_CHANGE_FIELDS = "sys_id,number,short_description,state,cmdb_ci,opened_at,start_date,end_date"


def work_note_marker(key: str) -> str:
    """The line that makes a work note findable by its idempotency key. ServiceNow renders `[code]...[/code]`
    as HTML, so the key sits in an HTML comment: out of sight in the UI, still in the journal's text."""
    return f"[code]<!-- oncall-agent:{key} -->[/code]"


def _legacy_marker(key: str) -> str:
    """The visible marker of earlier versions: notes written with it still count."""
    return f"[oncall-agent:{key}]"


class ServiceNowTracker:
    """TicketTracker over the Table API with Basic auth.

    `max_attempts` bounds every retried unit; backoff waits are random in [0, backoff_base * 2**n] capped at
    `backoff_max`; a `Retry-After` above `max_retry_after` is not waited for (the error is raised so the outbox
    relay retries later instead of blocking). `incident_defaults` are extra fields for created incidents
    (caller_id, assignment_group, ...). `session` is used as given (the caller owns it); `sleep` is for tests.
    """

    def __init__(
        self,
        base_url: str,
        user: str,
        password: str,
        *,
        timeout: float = 10,
        max_attempts: int = 5,
        session: requests.Session | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 60.0,
        page_size: int = 100,
        max_pages: int = 10,
        incident_defaults: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._api = TableApi(base_url, user, password, timeout=timeout, session=session)
        self._retry = TicketRetry(
            max_attempts,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            max_retry_after=max_retry_after,
            sleep=sleep,
        )
        self._base = self._api.base_url
        self._page_size, self._max_pages = page_size, max_pages
        self._defaults = dict(incident_defaults or {"category": "software"})

    def __repr__(self) -> str:  # never the password
        return f"ServiceNowTracker({self._api!r})"

    # --- TicketTracker ------------------------------------------------------------------------------------------
    def change_requests(self, ci: str, start: datetime, end: datetime) -> list[TicketRecord]:
        """Changes on `ci` whose planned window overlaps [start, end], that start in it, or were opened in it."""
        lo, hi = _sn_date(start), _sn_date(end)
        # `cmdb_ci` is a reference: a real instance matches a sys_id there, or a name through `cmdb_ci.name`.
        on_ci = f"cmdb_ci={_safe(ci)}^ORcmdb_ci.name={_safe(ci)}"
        query = "^NQ".join(
            [
                f"{on_ci}^start_date<={hi}^end_date>={lo}",
                f"{on_ci}^start_dateBETWEEN{lo}@{hi}",  # no planned end: the start must fall in the window
                f"{on_ci}^opened_atBETWEEN{lo}@{hi}",
            ]
        )
        rows: list[dict[str, Any]] = []
        for page in range(self._max_pages):
            params = {
                "sysparm_query": f"{query}^ORDERBYstart_date",
                "sysparm_fields": _CHANGE_FIELDS,
                "sysparm_display_value": "all",  # names for humans; `value` keeps dates in UTC
                "sysparm_exclude_reference_link": "true",
                "sysparm_limit": str(self._page_size),
                "sysparm_offset": str(page * self._page_size),
            }
            batch = self._retry.call(partial(self._api.list, "change_request", params))
            rows.extend(batch)
            if len(batch) < self._page_size:
                break
        return [self._change_record(row) for row in rows]

    def ensure_incident(
        self, correlation_id: str, short_description: str, description: str, ci: str | None
    ) -> TicketRef:
        """Find the incident by correlation_id or create it; a retry always looks again before it creates."""
        _safe(correlation_id)
        fields = {
            **self._defaults,
            "correlation_id": correlation_id,
            "correlation_display": "oncall-agent",
            "short_description": short_description[:_SHORT_DESCRIPTION_MAX],
            "description": description,
        }
        if ci:
            fields["cmdb_ci"] = ci

        def find_or_create() -> TicketRef:
            found = self._find_incident(correlation_id)
            if found is not None:
                return found
            created = self._api.call("POST", "incident", params={"sysparm_fields": _INCIDENT_FIELDS}, body=fields)
            log.info("servicenow: created incident %s for %s", created.get("number"), correlation_id)
            return self._ref(created)

        return self._retry.call(find_or_create)

    def add_work_note(self, ref: TicketRef, note: str, key: str) -> None:
        """Append `note` tagged with `key`, unless the journal already holds an entry with that tag."""
        if "]" in key or "\n" in key:
            raise ValueError(f"work note key must not contain ']' or a newline: {key!r}")
        if "-->" in key:
            raise ValueError(f"work note key must not contain '-->': {key!r}")
        marker, legacy = work_note_marker(_safe(key)), _legacy_marker(key)
        # Untrusted text quoted in a note must not pass for another key's marker (nor open [code] HTML).
        text = _SN_CODE.sub(r"[ \1code ]", note.replace("[oncall-agent:", "(oncall-agent:"))
        text = text.replace("<!-- oncall-agent:", "<!- oncall-agent:")[: _JOURNAL_MAX - len(marker) - 2]
        sys_id = _sys_id(ref)
        query = f"name=incident^element_id={sys_id}^element=work_notes^valueLIKEoncall-agent:{key}"

        def check_then_note() -> None:
            entries = self._api.list("sys_journal_field", {"sysparm_query": query, "sysparm_fields": "value"})
            if any(m in str(entry.get("value", "")) for entry in entries for m in (marker, legacy)):
                return
            self._api.call("PATCH", f"incident/{sys_id}", body={"work_notes": f"{text}\n\n{marker}"})

        self._retry.call(check_then_note)

    def resolve_incident(self, ref: TicketRef, close_notes: str, close_code: str) -> TicketRef:
        """Set state Resolved with the close fields the data policy requires; no-op when already done."""
        path = f"incident/{_sys_id(ref)}"
        fields = {"sysparm_fields": _INCIDENT_FIELDS}

        def check_then_resolve() -> TicketRef:
            current = self._api.call("GET", path, params=fields)
            if str(current.get("state")) in _DONE_STATES:
                return self._ref(current)
            body = {"state": RESOLVED, "close_code": close_code, "close_notes": close_notes}
            return self._ref(self._api.call("PATCH", path, params=fields, body=body))

        return self._retry.call(check_then_resolve)

    # --- ChangeTracker (servicenow_changes) ----------------------------------------------------------------------
    def ensure_change(
        self, correlation_id: str, short_description: str, description: str, parent: str | None
    ) -> TicketRef:
        return changes.ensure_change(self._api, self._retry, correlation_id, short_description, description, parent)

    def change_status(self, system_id: str) -> ChangeStatus:
        return changes.change_status(self._api, self._retry, system_id)

    def escalate(self, ref: TicketRef, assignment_group: str | None, impact: int, urgency: int) -> TicketRef:
        """Assign the group (by name: the instance resolves it as a display value), raise impact and urgency
        (the instance's priority lookup derives the priority) and move a New incident to In Progress."""
        path = f"incident/{_sys_id(ref)}"
        body: dict[str, str] = {"impact": str(impact), "urgency": str(urgency)}
        if assignment_group:
            body["assignment_group"] = assignment_group
        params = {"sysparm_fields": _INCIDENT_FIELDS, "sysparm_input_display_value": "true"}

        def check_then_escalate() -> TicketRef:
            current = self._api.call("GET", path, params={"sysparm_fields": _INCIDENT_FIELDS})
            update = {**body, "state": IN_PROGRESS} if str(current.get("state")) == NEW else body
            return self._ref(self._api.call("PATCH", path, params=params, body=update))  # a PATCH repeats safely

        return self._retry.call(check_then_escalate)

    def set_description_line(self, ref: TicketRef, prefix: str, line: str) -> None:
        """Set one labelled line of the incident's description (see `domain.text_lines`); a PATCH repeats
        safely, and none is sent when the line is already there."""
        path = f"incident/{_sys_id(ref)}"

        def check_then_patch() -> None:
            record = self._api.call("GET", path, params={"sysparm_fields": "description"})
            current = str(record.get("description") or "")
            wanted = with_line(current, prefix, line)
            if wanted != current:
                self._api.call("PATCH", path, params={"sysparm_fields": "sys_id"}, body={"description": wanted})

        self._retry.call(check_then_patch)

    # --- helpers ------------------------------------------------------------------------------------------------
    def _find_incident(self, correlation_id: str) -> TicketRef | None:
        params = {
            "sysparm_query": f"correlation_id={correlation_id}^ORDERBYsys_created_on",
            "sysparm_fields": _INCIDENT_FIELDS,
            "sysparm_limit": "10",
        }
        # The query may match loosely (case, a misparsed term); only an exact correlation_id counts.
        exact = [row for row in self._api.list("incident", params) if row.get("correlation_id") == correlation_id]
        return self._ref(exact[0]) if exact else None

    def _ref(self, record: Mapping[str, Any]) -> TicketRef:
        sys_id = str(record.get("sys_id", ""))
        link = f"{self._base}/incident.do?sys_id={sys_id}"
        return TicketRef(
            system_id=sys_id, number=str(record.get("number", "")), state=str(record.get("state")), link=link
        )

    def _change_record(self, row: Mapping[str, Any]) -> TicketRecord:
        sys_id = _field(row, "sys_id")
        return TicketRecord(
            system="servicenow",
            kind="change_request",
            number=_field(row, "number"),
            title=_field(row, "short_description", display=True),
            state=_field(row, "state", display=True) or None,
            ci=_field(row, "cmdb_ci", display=True) or None,
            opened=_parse_date(_field(row, "opened_at")),
            start=_parse_date(_field(row, "start_date")),
            end=_parse_date(_field(row, "end_date")),
            link=f"{self._base}/change_request.do?sys_id={sys_id}",
        )


def _sys_id(ref: TicketRef) -> str:
    """The ref's sys_id, checked: it goes into a URL path and a query."""
    if not ref.system_id.isalnum():
        raise ValueError(f"not a ServiceNow sys_id: {ref.system_id!r}")
    return ref.system_id


def _safe(value: str) -> str:
    """A value for an encoded query: `^` would start a new term there, so it is refused, not escaped."""
    if not value or "^" in value:
        raise ValueError(f"not usable in a ServiceNow query: {value!r}")
    return value


def _sn_date(moment: datetime) -> str:
    return as_utc(moment).strftime(SN_DATE)


def _parse_date(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, SN_DATE).replace(tzinfo=UTC) if text else None
    except ValueError:
        return None


def _field(row: Mapping[str, Any], name: str, *, display: bool = False) -> str:
    """A field read with `sysparm_display_value=all` ({display_value, value}) or without (a plain string)."""
    field = row.get(name)
    if isinstance(field, dict):
        return str((field.get("display_value") if display else None) or field.get("value") or "")
    return str(field or "")
