"""SCENARIOS.md scoring rules, as pure functions: does a hypothesis name the true culprit?"""

from __future__ import annotations

import re

# What may stand before the true identifier in a longer form of it: ARN / path / qualifier separators.
_BOUNDARY = re.compile(r"[/:@#=\s.,;|]$")


def names_culprit(candidate: str | None, culprit: str, accept: list[str] | tuple[str, ...] = ()) -> bool:
    """True when `candidate` equals the culprit or an accepted alias (case-insensitively), or is a longer form
    ending with one of them at an identifier boundary (`arn:aws:ecs:…:task-definition/checkout:42` names
    `checkout:42`; `xcheckout:42` does not)."""
    if not candidate:
        return False
    found = candidate.strip().lower()
    for wanted in (culprit, *accept):
        target = wanted.strip().lower()
        if not target:
            continue
        if found == target:
            return True
        if found.endswith(target) and _BOUNDARY.search(found[: -len(target)]):
            return True
    return False
