"""The ServiceNow stand-in's records: tables of string fields, journals, numbering, the resolve data policy.

Journal fields (`work_notes`, `comments`) behave as on an instance: a write appends an entry (kept as a
`sys_journal_field` record, so the Table API can read it too) and the field itself reads back empty.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from oncall_agent.sandbox.standins.servicenow_query import DATE_FORMAT, Query

JOURNAL_FIELDS = ("work_notes", "comments")
JOURNAL_TABLE = "sys_journal_field"
KNOWN_TABLES = {
    "incident",
    "change_request",
    "problem",
    "task",
    "cmdb_ci",
    "cmdb_ci_service",
    "sys_user",
    "sys_user_group",
    "change_task",
    JOURNAL_TABLE,
}
_NUMBERING = {
    "incident": ("INC", 10001),
    "change_request": ("CHG", 30001),
    "problem": ("PRB", 40001),
    "change_task": ("CTASK", 10001),
    "task": ("TASK", 10001),
}
_DEFAULTS = {
    "incident": {"state": "1", "active": "true", "impact": "3", "urgency": "3", "priority": "5"},
    # A new change's approval is requested at once (what the normal-change workflow does on submission).
    "change_request": {"state": "-5", "active": "true", "approval": "requested"},
    "problem": {"state": "101", "active": "true"},
}
_RESOLVED, _CLOSED = "6", "7"
_SYSTEM_FIELDS = {"sys_id", "sys_created_on", "sys_created_by", "sys_class_name", "sys_mod_count"}


class DataPolicyError(Exception):
    """A write the instance's data policy rejects (answered 403 "Operation Failed")."""


def _now() -> datetime:
    return datetime.now(UTC)


class ServiceNowState:
    """Thread-safe in-memory tables. `enforce_data_policy`: resolving or closing an incident needs
    `close_code` and `close_notes`, as the out-of-box data policy demands."""

    def __init__(self, *, clock: Callable[[], datetime] = _now, enforce_data_policy: bool = True) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.enforce_data_policy = enforce_data_policy
        self._tables: dict[str, dict[str, dict[str, str]]] = {}
        self._counters: dict[str, int] = {}

    # --- seeding and accessors -----------------------------------------------------------------------------
    def add_record(self, table: str, fields: dict[str, str]) -> dict[str, str]:
        """Insert a record as seed data (created by "admin"); returns a copy with the system fields."""
        return self.insert(table, fields, user="admin")

    def records(self, table: str) -> list[dict[str, str]]:
        """Copies of the table's records, in insertion order."""
        with self.lock:
            return [dict(record) for record in self._tables.get(table, {}).values()]

    def work_notes_history(self, table: str, sys_id: str) -> list[str]:
        """Every work note written to the record, oldest first."""
        return [entry["value"] for entry in self.journal(table, sys_id, "work_notes")]

    def journal(self, table: str, sys_id: str, element: str = "work_notes") -> list[dict[str, str]]:
        with self.lock:
            entries = self._tables.get(JOURNAL_TABLE, {}).values()
            return [dict(e) for e in entries if (e["name"], e["element_id"], e["element"]) == (table, sys_id, element)]

    # --- Table API operations ------------------------------------------------------------------------------
    def has_table(self, table: str) -> bool:
        return table in KNOWN_TABLES or table in self._tables

    def get(self, table: str, sys_id: str) -> dict[str, str] | None:
        with self.lock:
            record = self._tables.get(table, {}).get(sys_id)
            return None if record is None else dict(record)

    def query(self, table: str, query: Query) -> list[dict[str, str]]:
        with self.lock:
            found = [dict(r) for r in self._tables.get(table, {}).values() if query.matches(r)]
        return query.sort(found)

    def insert(self, table: str, fields: Mapping[str, object], user: str) -> dict[str, str]:
        with self.lock:
            now = self._stamp()
            values = {key: _text(value) for key, value in fields.items()}
            record = {
                **_DEFAULTS.get(table, {}),
                **{k: v for k, v in values.items() if k not in JOURNAL_FIELDS},
            }
            record.setdefault("sys_id", uuid.uuid4().hex)
            record.setdefault("sys_created_on", now)
            record.setdefault("sys_updated_on", record["sys_created_on"])
            record.setdefault("sys_created_by", user)
            record.setdefault("sys_updated_by", user)
            record.setdefault("sys_mod_count", "0")
            record.setdefault("sys_class_name", table)
            if table in _NUMBERING:
                record.setdefault("number", self._next_number(table))
            if table in _DEFAULTS:
                record.setdefault("opened_at", record["sys_created_on"])
                record.setdefault("opened_by", user)
            for name in JOURNAL_FIELDS:
                record[name] = ""
            self._tables.setdefault(table, {})[record["sys_id"]] = record
            self._journal(table, record["sys_id"], values, user, now)
            return dict(record)

    def update(self, table: str, sys_id: str, fields: Mapping[str, object], user: str) -> dict[str, str] | None:
        """Apply a PATCH/PUT; None when the record does not exist; DataPolicyError when the policy refuses."""
        with self.lock:
            record = self._tables.get(table, {}).get(sys_id)
            if record is None:
                return None
            values = {key: _text(value) for key, value in fields.items() if key not in _SYSTEM_FIELDS}
            changes = {key: value for key, value in values.items() if key not in JOURNAL_FIELDS}
            self._check_policy(table, record, changes)
            now = self._stamp()
            self._state_side_effects(table, record, changes, user, now)
            record.update(changes)
            _derive_priority(table, record)
            record["sys_updated_on"], record["sys_updated_by"] = now, user
            record["sys_mod_count"] = str(int(record.get("sys_mod_count", "0") or 0) + 1)
            self._journal(table, sys_id, values, user, now)
            return dict(record)

    def delete(self, table: str, sys_id: str) -> bool:
        with self.lock:
            return self._tables.get(table, {}).pop(sys_id, None) is not None

    # --- internals -----------------------------------------------------------------------------------------
    def _check_policy(self, table: str, record: Mapping[str, str], changes: Mapping[str, str]) -> None:
        target = changes.get("state", record.get("state"))
        if not self.enforce_data_policy or table != "incident" or target not in {_RESOLVED, _CLOSED}:
            return
        merged = {**record, **changes}
        missing = [
            label
            for key, label in (("close_code", "Resolution code"), ("close_notes", "Resolution notes"))
            if not merged.get(key)
        ]
        if missing:
            raise DataPolicyError(
                f"Data Policy Exception: \n\tThe following fields are mandatory: {', '.join(missing)}\n"
            )

    @staticmethod
    def _state_side_effects(table: str, record: dict[str, str], changes: dict[str, str], user: str, now: str) -> None:
        if table != "incident" or changes.get("state", record.get("state")) == record.get("state"):
            return
        if changes["state"] == _RESOLVED:
            changes.setdefault("resolved_at", now)
            changes.setdefault("resolved_by", user)
        elif changes["state"] == _CLOSED:
            changes.setdefault("closed_at", now)
            changes.setdefault("closed_by", user)
            changes.setdefault("active", "false")

    def _journal(self, table: str, sys_id: str, values: Mapping[str, str], user: str, now: str) -> None:
        for element in JOURNAL_FIELDS:
            text = values.get(element, "")
            if text:
                entry = {
                    "sys_id": uuid.uuid4().hex,
                    "name": table,
                    "element_id": sys_id,
                    "element": element,
                    "value": text,
                    "sys_created_on": now,
                    "sys_created_by": user,
                }
                self._tables.setdefault(JOURNAL_TABLE, {})[entry["sys_id"]] = entry

    def _next_number(self, table: str) -> str:
        prefix, start = _NUMBERING[table]
        used = {record.get("number") for record in self._tables.get(table, {}).values()}
        counter = self._counters.get(table, start)
        while f"{prefix}{counter:07d}" in used:
            counter += 1
        self._counters[table] = counter + 1
        return f"{prefix}{counter:07d}"

    def _stamp(self) -> str:
        return self.clock().astimezone(UTC).strftime(DATE_FORMAT)


def _derive_priority(table: str, record: dict[str, str]) -> None:
    """As the instance's priority lookup rule does: an incident's priority follows its impact and urgency."""
    impact, urgency = record.get("impact", ""), record.get("urgency", "")
    if table == "incident" and impact in {"1", "2", "3"} and urgency in {"1", "2", "3"}:
        record["priority"] = str(int(impact) + int(urgency) - 1)


def _text(value: object) -> str:
    """Field values as the instance stores them: strings; booleans as "true"/"false"; null as ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) and "value" in value:
        return _text(value["value"])
    return str(value)
