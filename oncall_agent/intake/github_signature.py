"""GitHub webhook authentication: `X-Hub-Signature-256` is `sha256=` + hex HMAC-SHA256 of the raw body with the
webhook's secret. Compared in constant time; with no secret configured every delivery is refused."""

from __future__ import annotations

import hashlib
import hmac

from oncall_agent.domain.errors import SignatureError

PREFIX = "sha256="


def github_signature(secret: str, body: bytes) -> str:
    """The header value GitHub sends for `body` (also what the sandbox's stand-in signs with)."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_github_signature(secret: str | None, body: bytes, header: str | None) -> None:
    """Raise SignatureError unless `header` is the HMAC of `body` with `secret`."""
    if not secret:
        raise SignatureError("GitHub webhooks are not configured (integrations.github.webhook_secret is unset)")
    if not header:
        raise SignatureError("missing X-Hub-Signature-256 header")
    if not header.startswith(PREFIX):
        raise SignatureError("X-Hub-Signature-256 must start with sha256=")
    if not hmac.compare_digest(github_signature(secret, body).encode(), header.strip().encode()):
        raise SignatureError("X-Hub-Signature-256 does not match the body")
