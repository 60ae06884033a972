"""ServiceNow encoded queries (`sysparm_query`): the subset the stand-in evaluates.

Terms `field<op>value` joined by `^` (AND) and `^OR` (OR with the previous term), groups joined by `^NQ`
(OR of groups), plus `ORDERBYfield` / `ORDERBYDESCfield`; a trailing `^EQ` is ignored.

Operators: `=`, `!=`, `LIKE`, `NOTLIKE`, `STARTSWITH`, `ENDSWITH`, `IN`, `NOT IN`, `ISEMPTY`, `ISNOTEMPTY`,
`>`, `>=`, `<`, `<=`, `BETWEEN` (`a@b`). Text matches ignore case, as on the real instance; order comparisons
are numeric when both sides are numbers and otherwise compare strings, which orders `YYYY-MM-DD HH:MM:SS`
date-times correctly. Values may be `javascript:gs.dateGenerate('2024-05-01','12:00:00')` or
`javascript:gs.minutesAgo(30)` (also hoursAgo, daysAgo).

A term that cannot be parsed matches nothing, like an instance with `glide.invalid_query.returns_no_rows`
(the secure default). A field a record lacks reads as "".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

_TERM = re.compile(
    r"(?P<field>[a-z0-9_.]+)"
    r"(?P<op>!=|>=|<=|=|>|<|NOT LIKE|NOTLIKE|LIKE|STARTSWITH|ENDSWITH|ISNOTEMPTY|ISEMPTY|NOT IN|IN|BETWEEN)"
    r"(?P<value>.*)",
    re.DOTALL,
)
_DATE_GENERATE = re.compile(r"javascript:\s*gs\.dateGenerate\(\s*'([^']*)'\s*,\s*'([^']*)'\s*\)")
_AGO = re.compile(r"javascript:\s*gs\.(minutes|hours|days)Ago(?:Start|End)?\(\s*(-?\d+)\s*\)")
_TIME_WORDS = {"start": "00:00:00", "end": "23:59:59"}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _order(left: str, right: str) -> int:
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    return (left > right) - (left < right)


_OPS: dict[str, Callable[[str, str], bool]] = {
    "=": lambda v, x: v.lower() == x.lower(),
    "!=": lambda v, x: v.lower() != x.lower(),
    "LIKE": lambda v, x: x.lower() in v.lower(),
    "NOTLIKE": lambda v, x: x.lower() not in v.lower(),
    "NOT LIKE": lambda v, x: x.lower() not in v.lower(),
    "STARTSWITH": lambda v, x: v.lower().startswith(x.lower()),
    "ENDSWITH": lambda v, x: v.lower().endswith(x.lower()),
    "IN": lambda v, x: v.lower() in {part.strip().lower() for part in x.split(",")},
    "NOT IN": lambda v, x: v.lower() not in {part.strip().lower() for part in x.split(",")},
    "ISEMPTY": lambda v, _x: v == "",
    "ISNOTEMPTY": lambda v, _x: v != "",
    ">": lambda v, x: v != "" and _order(v, x) > 0,
    ">=": lambda v, x: v != "" and _order(v, x) >= 0,
    "<": lambda v, x: v != "" and _order(v, x) < 0,
    "<=": lambda v, x: v != "" and _order(v, x) <= 0,
}


@dataclass(frozen=True)
class Condition:
    """One term; `op` None means it did not parse and matches nothing."""

    field: str
    op: str | None
    value: str

    def test(self, record: Mapping[str, str]) -> bool:
        if self.op is None:
            return False
        actual = str(record.get(self.field, "") or "")
        if self.op == "BETWEEN":
            low, _, high = self.value.partition("@")
            return actual != "" and _order(actual, low) >= 0 and _order(actual, high) <= 0
        return _OPS[self.op](actual, self.value)


@dataclass
class Query:
    """OR of groups; a group is an AND of terms; a term is an OR of conditions."""

    groups: list[list[list[Condition]]] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)

    def matches(self, record: Mapping[str, str]) -> bool:
        if not self.groups:
            return True
        return any(all(any(c.test(record) for c in term) for term in group) for group in self.groups)

    def sort(self, records: list[dict[str, str]]) -> list[dict[str, str]]:
        ordered = list(records)
        for name, descending in reversed(self.order):
            ordered.sort(key=lambda record: _SortKey(str(record.get(name, ""))), reverse=descending)
        return ordered


@dataclass(frozen=True)
class _SortKey:
    text: str

    def __lt__(self, other: _SortKey) -> bool:
        return _order(self.text, other.text) < 0


def _resolve_value(raw: str, now: datetime) -> str:
    def generate(match: re.Match[str]) -> str:
        day, clock = match.group(1), match.group(2)
        return f"{day} {_TIME_WORDS.get(clock, clock)}"

    def ago(match: re.Match[str]) -> str:
        delta = timedelta(**{match.group(1): int(match.group(2))})
        return (now - delta).strftime(DATE_FORMAT)

    return _AGO.sub(ago, _DATE_GENERATE.sub(generate, raw))


def _condition(term: str, now: datetime) -> Condition:
    match = _TERM.fullmatch(term)
    if match is None:
        return Condition(term, None, "")
    return Condition(match["field"], match["op"], _resolve_value(match["value"], now))


def parse_query(text: str, now: datetime) -> Query:
    """Parse an encoded query; `now` (UTC) resolves relative date functions."""
    query = Query()
    for group_text in text.split("^NQ"):
        group: list[list[Condition]] = []
        for part in group_text.split("^"):
            if part in {"", "EQ"}:
                continue
            if part.startswith("ORDERBYDESC"):
                query.order.append((part[len("ORDERBYDESC") :], True))
            elif part.startswith("ORDERBY"):
                query.order.append((part[len("ORDERBY") :], False))
            elif part.startswith("OR") and group and not _TERM.fullmatch(part):
                group[-1].append(_condition(part[2:], now))
            else:
                group.append([_condition(part, now)])
        if group:
            query.groups.append(group)
    return query
