"""The SCENARIOS.md culprit-matching rule."""

from __future__ import annotations

import pytest

from oncall_agent.eval.scoring import names_culprit


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("checkout:42", True),
        ("CHECKOUT:42", True),
        ("arn:aws:ecs:us-east-1:123456789012:task-definition/checkout:42", True),
        ("a1b2c3d", True),  # an accepted alias
        ("acme/checkout#812", True),
        ("xcheckout:42", False),  # not at an identifier boundary
        ("checkout:421", False),
        ("checkout:4", False),
        ("", False),
        (None, False),
    ],
)
def test_names_culprit(candidate: str | None, expected: bool) -> None:
    assert names_culprit(candidate, "checkout:42", ["a1b2c3d", "acme/checkout#812"]) is expected
