"""Timestamp helpers shared by every parser: everything is UTC, aware, and keyed at millisecond precision."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_aws_timestamp(value: str) -> datetime:
    """Parse the timestamp shapes AWS alarm payloads use into an aware UTC datetime.

    Seen in the wild: `2021-11-10T02:45:55.640+0000` (CloudWatch), `2019-10-02T17:20:48Z` (EventBridge),
    `2022-07-28T21:23:58.317Z` (SNS), and ISO 8601 with `+00:00`.
    """
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit() and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def as_utc(moment: datetime) -> datetime:
    """Return `moment` as an aware UTC datetime (naive values are taken to be UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def millis_key(moment: datetime) -> str:
    """A canonical millisecond-precision UTC string: channels report the same instant with different precision."""
    utc = as_utc(moment)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
