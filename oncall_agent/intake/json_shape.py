"""Refuse untrusted JSON that parses but that nothing downstream can handle: nesting deeper than any alarm
payload (recursive code further on would hit Python's recursion limit) and strings holding lone surrogates
(`"\\ud800"` is valid JSON, decodes to a str that cannot be encoded as UTF-8, and so breaks signature checks and
the store)."""

from __future__ import annotations

from oncall_agent.domain.errors import PayloadError

MAX_DEPTH = 64
"""Deepest nesting accepted; alarm payloads (SNS, EventBridge, alarm actions) nest fewer than ten levels."""


def check_json_value(value: object, what: str, max_depth: int = MAX_DEPTH) -> None:
    """Raise PayloadError, naming the problem, if `value` (from json.loads) nests deeper than `max_depth` or holds
    a string (key or value) that is not valid Unicode. Iterative, so it is safe on any depth json.loads returned."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item, what)
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise PayloadError(f"{what} is nested more than {max_depth} levels deep")
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(str(key), what)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def _check_text(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        raise PayloadError(
            f"{what} holds a lone surrogate \\u{code:04x} at character {exc.start} of a string: not valid Unicode"
        ) from None
