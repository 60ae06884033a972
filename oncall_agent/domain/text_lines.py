"""One labelled line in a text we wrote (a ticket description, an issue body), set in place.

The cross-links between the ServiceNow incident and the GitHub issue are written after both records exist, as
one line each (`GitHub issue: ...`, `**ServiceNow:** ...`) that the first rendering left as a placeholder.
Setting the line again with the same text changes nothing, so the write is idempotent.
"""

from __future__ import annotations


def with_line(text: str, prefix: str, line: str) -> str:
    """`text` with its first line that starts with `prefix` replaced by `line`; `line` appended (after a blank
    line) when no line starts with `prefix` (someone edited the text). `line` must start with `prefix` and be
    one line, so a second call finds what the first wrote."""
    if not prefix or not line.startswith(prefix) or "\n" in line:
        raise ValueError(f"line must be one line starting with {prefix!r}: {line!r}")
    lines = text.split("\n")
    for index, current in enumerate(lines):
        if current.startswith(prefix):
            lines[index] = line
            return "\n".join(lines)
    return f"{text.rstrip()}\n\n{line}\n" if text.strip() else f"{line}\n"
