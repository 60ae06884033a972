"""Field types of the scenario format (SCENARIOS.md): relative times, statistics, periods, templates, ids.

Times in a scenario are offsets from the moment of seeding; they are parsed into `timedelta` and
`resolve_time` turns one into an absolute UTC datetime. Each validator raises a `PydanticCustomError` whose
message quotes the offending value, so the loader can report it as is.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from oncall_agent.domain.time import as_utc

SERIES_WINDOW = timedelta(hours=3)
"""Metric series and default log generators cover [now - SERIES_WINDOW, now]."""

_RELATIVE = re.compile(r"(?P<sign>[+-]?)(?P<amount>\d+)(?P<unit>[smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_relative(text: str) -> timedelta:
    """Parse `-25m`, `-2h`, `-3d`, `+10m`, `0m` (units s, m, h, d) into an offset from now."""
    match = _RELATIVE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a relative time such as -25m, -2h, -3d, +10m or 0m (units s, m, h, d)")
    amount = int(match["amount"])
    # An unsigned non-zero time is ambiguous (past or future?): the author must say which.
    if amount and not match["sign"]:
        raise ValueError(f"{text!r} needs a sign: -{text} for the past or +{text} for the future")
    seconds = amount * _UNIT_SECONDS[match["unit"]]
    return timedelta(seconds=-seconds if match["sign"] == "-" else seconds)


def resolve_time(offset: timedelta, now: datetime) -> datetime:
    """The absolute UTC moment `offset` after (or before, when negative) `now`."""
    return as_utc(now) + offset


def _relative(value: object) -> timedelta:
    if isinstance(value, timedelta):  # already parsed (models built in code)
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "relative_time", "expected a relative time such as -25m or +10m, got {got}", {"got": repr(value)}
        )
    try:
        return parse_relative(value)
    except ValueError as exc:
        raise PydanticCustomError("relative_time", "{problem}", {"problem": str(exc)}) from exc


def _number_as_text(value: object) -> object:
    # YAML reads `version: 17`, `account: 123456789012` or an all-digit sha as integers; they are identifiers.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


RelTime = Annotated[timedelta, BeforeValidator(_relative)]
IdText = Annotated[str, BeforeValidator(_number_as_text)]
NonEmpty = Annotated[str, Field(min_length=1)]
RepoName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")]

_STANDARD_STATS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_EXTENDED_STAT = re.compile(r"(p|tm|wm|tc|ts)(100|\d{1,2}(\.\d+)?)|IQM")


def is_extended_statistic(stat: str) -> bool:
    """Percentiles and trimmed statistics go in CloudWatch's `ExtendedStatistic(s)`, not `Statistic`."""
    return stat not in _STANDARD_STATS


def _statistic(value: str) -> str:
    if value in _STANDARD_STATS or _EXTENDED_STAT.fullmatch(value):
        return value
    raise PydanticCustomError(
        "statistic",
        "unknown statistic {got}: use {known} or a percentile such as p99",
        {"got": repr(value), "known": ", ".join(_STANDARD_STATS)},
    )


def _period(value: int) -> int:
    # CloudWatch accepts high-resolution periods 1, 5, 10, 20, 30 and otherwise whole minutes.
    if value in (1, 5, 10, 20, 30) or (value > 0 and value % 60 == 0):
        return value
    raise PydanticCustomError(
        "period", "period {got} must be 1, 5, 10, 20, 30 or a multiple of 60 seconds", {"got": value}
    )


Statistic = Annotated[str, AfterValidator(_statistic)]
Period = Annotated[int, AfterValidator(_period)]
Category = Literal[
    "deploy",
    "config_change",
    "dependency",
    "traffic_surge",
    "resource_exhaustion",
    "credential_expiry",
    "infrastructure",
    "unknown",
]
ActionKind = Literal[
    "ecs.rollback",
    "ecs.scale",
    "ecs.restart",
    "lambda.rollback",
    "codedeploy.rollback",
    "ssm.automation",
    "escalate",
]
AlarmStateName = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
Comparison = Literal[
    "GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"
]


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
PLACEHOLDERS = ("n", "ms", "id")


_TIME_PLACEHOLDER = re.compile(r"\{at:([^{}]*)\}")


def _timed_text(value: str) -> str:
    # `{at:-11m}` is replaced at seeding by that moment (format 2); its time must parse like any other.
    for text in _TIME_PLACEHOLDER.findall(value):
        try:
            parse_relative(text.strip())
        except ValueError as exc:
            raise PydanticCustomError(
                "placeholder", "in {placeholder}: {problem}", {"placeholder": "{at:" + text + "}", "problem": str(exc)}
            ) from exc
    return value


def substitute_times(text: str, now: datetime) -> str:
    """Replace each `{at:-11m}` by that moment as ISO 8601 UTC (`2026-12-06T11:51:00Z`)."""

    def moment(match: re.Match[str]) -> str:
        return resolve_time(parse_relative(match[1].strip()), now).strftime("%Y-%m-%dT%H:%M:%SZ")

    return _TIME_PLACEHOLDER.sub(moment, text)


def _template(value: str) -> str:
    # Only {n}, {ms}, {id} and {at:TIME} are placeholders; other braces (JSON log lines) are literal text.
    unknown = sorted({name for name in _PLACEHOLDER.findall(value) if name not in PLACEHOLDERS})
    if unknown:
        raise PydanticCustomError(
            "placeholder",
            "unknown placeholder {names}: use {allowed}",
            {"names": ", ".join("{" + name + "}" for name in unknown), "allowed": "{n}, {ms}, {id} or {at:-5m}"},
        )
    return _timed_text(value)


Template = Annotated[str, Field(min_length=1), AfterValidator(_template)]
TimedText = Annotated[str, Field(min_length=1), AfterValidator(_timed_text)]
"""Text where `{at:TIME}` is replaced at seeding (event messages, ticket text); other braces are literal."""

_TASK_DEFINITION = re.compile(r"(?:arn:aws[\w-]*:ecs:[\w-]+:\d{12}:task-definition/)?([A-Za-z0-9_-]{1,255}):(\d+)")


def split_task_definition(value: str) -> tuple[str, int]:
    """`checkout:42` or its ARN -> (`checkout`, 42)."""
    match = _TASK_DEFINITION.fullmatch(value)
    if match is None:
        raise ValueError(value)
    return match[1], int(match[2])


def _task_definition(value: str) -> str:
    if _TASK_DEFINITION.fullmatch(value) is None:
        raise PydanticCustomError(
            "task_definition",
            "{got} is not a task definition 'family:revision' or its ARN",
            {"got": repr(value)},
        )
    return value


TaskDefinition = Annotated[str, AfterValidator(_task_definition)]
LambdaVersion = Annotated[str, BeforeValidator(_number_as_text), Field(pattern=r"^[1-9]\d*$")]
Sha = Annotated[str, BeforeValidator(_number_as_text), Field(pattern=r"^[0-9a-f]{7,40}$")]


class Strict(BaseModel):
    """Base of every scenario model: unknown fields are errors, and a loaded scenario never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
