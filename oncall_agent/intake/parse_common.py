"""Typed field access for untrusted alarm payloads: every lookup succeeds or raises a PayloadError naming the
field and the problem. Shared by the channel parsers (parse_sns, parse_eventbridge, parse_describe)."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NamedTuple, ParamSpec, TypeVar

from oncall_agent.domain.alarm import AlarmState
from oncall_agent.domain.errors import PayloadError
from oncall_agent.domain.time import as_utc, parse_aws_timestamp
from oncall_agent.intake.json_shape import check_json_value

P = ParamSpec("P")
R = TypeVar("R")

Obj = Mapping[str, Any]

_ARN_SAFE = re.compile(r"^\S+$")
_CANONICAL_STATS = {s.upper(): s for s in ("SampleCount", "Average", "Sum", "Minimum", "Maximum")}


def show(value: object, limit: int = 80) -> str:
    """A bounded repr of an untrusted value for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def guarded(what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Turn any stray KeyError/TypeError/ValueError (incl. pydantic's) inside a parser into a PayloadError."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return func(*args, **kwargs)
            except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
                raise PayloadError(f"{what} is malformed: {show(str(exc), 300)}") from exc

        return wrapper

    return decorate


def as_obj(value: object, what: str) -> Obj:
    if not isinstance(value, Mapping):
        raise PayloadError(f"{what} is not a JSON object (got {type(value).__name__})")
    return value


def require(obj: Obj, key: str, where: str) -> Any:
    value = obj.get(key)
    if value is None:
        raise PayloadError(f"{where} missing field '{key}'")
    return value


def req_str(obj: Obj, key: str, where: str) -> str:
    value = require(obj, key, where)
    if not isinstance(value, str) or not value:
        raise PayloadError(f"{where} field '{key}' is not a non-empty string: {show(value)}")
    return value


def opt_str(obj: Obj, key: str, where: str) -> str | None:
    """A string field that may be absent, null or empty (all three mean None)."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{where} field '{key}' is not a string: {show(value)}")
    return value


def req_obj(obj: Obj, key: str, where: str) -> Obj:
    return as_obj(require(obj, key, where), f"{where} field '{key}'")


def opt_obj(obj: Obj, key: str, where: str) -> Obj | None:
    value = obj.get(key)
    return None if value is None else as_obj(value, f"{where} field '{key}'")


def opt_list(obj: Obj, key: str, where: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{where} field '{key}' is not a list: {show(value)}")
    return value


def opt_float(obj: Obj, key: str, where: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(f"{where} field '{key}' is not a number: {show(value)}")
    return float(value)


def opt_int(obj: Obj, key: str, where: str) -> int | None:
    value = opt_float(obj, key, where)
    if value is None:
        return None
    if not value.is_integer():
        raise PayloadError(f"{where} field '{key}' is not an integer: {show(value)}")
    return int(value)


def req_time(obj: Obj, key: str, where: str) -> datetime:
    """A timestamp as AWS sends it in JSON (string) or as boto3 returns it (datetime), as aware UTC."""
    value = require(obj, key, where)
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str):
        try:
            return parse_aws_timestamp(value)
        except ValueError:
            pass
    raise PayloadError(f"{where} field '{key}' is not a timestamp: {show(value)}")


def req_state(obj: Obj, key: str, where: str) -> AlarmState:
    value = require(obj, key, where)
    try:
        return AlarmState(value)
    except ValueError:
        raise PayloadError(f"{where} field '{key}' is not an alarm state: {show(value)}") from None


def opt_state(obj: Obj, key: str, where: str) -> AlarmState | None:
    return None if obj.get(key) is None else req_state(obj, key, where)


def load_json_object(text: str, what: str) -> Obj:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise PayloadError(f"{what} is not JSON") from None
    check_json_value(value, what)
    return as_obj(value, what)


def normalise_stat(stat: str | None) -> str | None:
    """SNS spells statistics in capitals ("SUM"): use CloudWatch's casing. Extended stats (p99, tm90) stay."""
    if stat is None:
        return None
    return _CANONICAL_STATS.get(stat.upper(), stat)


class AlarmArn(NamedTuple):
    arn: str
    partition: str
    region: str
    account: str
    name: str


def parse_alarm_arn(arn: str, field: str) -> AlarmArn:
    """`arn:<partition>:cloudwatch:<region>:<account>:alarm:<name>`; the name may contain colons and spaces,
    the other parts no whitespace."""
    parts = arn.split(":", 6)
    valid = (
        len(parts) == 7
        and all(_ARN_SAFE.match(part) for part in parts[:6])
        and parts[0] == "arn"
        and parts[2] == "cloudwatch"
        and parts[5] == "alarm"
        and bool(parts[6].strip())
    )
    if not valid:
        raise PayloadError(f"{field} is not a CloudWatch alarm ARN: {show(arn)}")
    return AlarmArn(arn, parts[1], parts[3], parts[4], parts[6])


def parse_topic_arn(arn: str, field: str) -> tuple[str, str]:
    """(partition, region) of an SNS topic ARN `arn:<partition>:sns:<region>:<account>:<topic>`."""
    parts = arn.split(":")
    if not _ARN_SAFE.match(arn) or len(parts) != 6 or parts[0] != "arn" or parts[2] != "sns" or not parts[3]:
        raise PayloadError(f"{field} is not an SNS topic ARN: {show(arn)}")
    return parts[1], parts[3]
