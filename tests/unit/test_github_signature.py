"""X-Hub-Signature-256 verification: HMAC-SHA256 of the raw body, constant-time, nothing passes without a secret."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from oncall_agent.domain.errors import SignatureError
from oncall_agent.intake.github_signature import verify_github_signature

BODY = b'{"action":"created"}'
SECRET = "It's a Secret to Everybody"


def signed(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_githubs_documented_example_verifies() -> None:
    # The example in GitHub's "Validating webhook deliveries" page: secret and payload give this signature.
    header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    verify_github_signature(SECRET, b"Hello, World!", header)


@pytest.mark.parametrize(
    ("secret", "header", "problem"),
    [
        (None, signed(BODY), "not configured"),
        ("", signed(BODY), "not configured"),
        (SECRET, None, "missing"),
        (SECRET, "sha1=" + "0" * 40, "must start with sha256="),
        (SECRET, signed(BODY, "other"), "does not match"),
        (SECRET, signed(BODY + b" "), "does not match"),
    ],
)
def test_refusals_say_why(secret: str | None, header: str | None, problem: str) -> None:
    with pytest.raises(SignatureError, match=problem):
        verify_github_signature(secret, BODY, header)
    verify_github_signature(SECRET, BODY, signed(BODY))
