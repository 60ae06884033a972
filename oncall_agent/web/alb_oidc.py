"""Verify the user claims an ALB (`authenticate-oidc`) passes in `x-amzn-oidc-data` and say who signed in.

The token is an ES256 JWT whose header carries `kid`, `signer` (the ALB's ARN) and `exp`. The public key is
fetched by `kid` (PEM, cached: keys do not change under a kid) from the regional endpoint. ALB tokens keep the
base64 `=` padding in their segments; the signature covers the segments as sent, so they are verified as
received (PyJWT decodes padded segments) and never re-encoded.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

# A kid is a UUID in practice; anything else never reaches the key URL (no path tricks against the endpoint).
_KID = re.compile(r"^[A-Za-z0-9-]{1,128}$")
LEEWAY_SECONDS = 30  # clock skew between the ALB and this host
MAX_TOKEN_BYTES = 16 * 1024
FAILED_KEY_SECONDS = 60.0
MAX_FAILED_KIDS = 1000


class TokenRefused(Exception):
    """The header is not a valid token from the configured ALB; the message says why (never the token)."""


@dataclass(frozen=True)
class SignedInUser:
    email: str
    groups: tuple[str, ...]
    approver: str | None  # the approver name the person decides as; None: may look, not decide


def _segment_json(segment: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise TokenRefused(f"token {what} is not base64url JSON") from exc
    if not isinstance(value, dict):
        raise TokenRefused(f"token {what} is not a JSON object")
    return value


class AlbTokenVerifier:
    def __init__(self, alb_arn: str, fetch_key: Callable[[str], str], clock: Callable[[], float] = time.time) -> None:
        self._alb_arn = alb_arn
        self._fetch_key = fetch_key
        self._clock = clock
        self._keys: dict[str, Any] = {}
        self._failed: dict[str, tuple[float, str]] = {}  # kid -> (when, why) of the last failed fetch
        self._lock = threading.Lock()

    def verify(self, token: str) -> dict[str, Any]:
        """The verified claims of `token`; raises TokenRefused."""
        if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
            raise TokenRefused("not a JWT")
        header = _segment_json(token.split(".", 1)[0], "header")
        if header.get("alg") != "ES256":
            raise TokenRefused(f"algorithm {header.get('alg')!r} is not ES256")
        if header.get("signer") != self._alb_arn:
            raise TokenRefused("signed by another load balancer than the configured ALB")
        exp = header.get("exp")
        if not isinstance(exp, int | float) or exp + LEEWAY_SECONDS < self._clock():
            raise TokenRefused("token expired")
        kid = header.get("kid")
        if not isinstance(kid, str) or not _KID.match(kid):
            raise TokenRefused("token has no usable kid")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key(kid),
                algorithms=["ES256"],
                leeway=LEEWAY_SECONDS,
                options={"verify_aud": False, "verify_iss": False},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenRefused("token expired") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenRefused(f"bad token: {type(exc).__name__}") from exc
        return claims

    def _key(self, kid: str) -> Any:
        with self._lock:
            cached = self._keys.get(kid)
            failed = self._failed.get(kid)
        if cached is not None:
            return cached
        if failed is not None and self._clock() - failed[0] < FAILED_KEY_SECONDS:
            raise TokenRefused(failed[1])  # anyone can send made-up kids: one fetch per kid and minute at most
        try:
            key = jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256).prepare_key(self._fetch_key(kid))
        except Exception as exc:  # an unreachable endpoint or a bad key refuses the sign-in, it does not crash
            reason = f"public key {kid} unavailable: {exc}"
            with self._lock:
                if len(self._failed) >= MAX_FAILED_KIDS:
                    self._failed.clear()
                self._failed[kid] = (self._clock(), reason)
            raise TokenRefused(reason) from exc
        with self._lock:
            self._keys[kid] = key
        return key


def signed_in_user(
    claims: Mapping[str, Any],
    email_claim: str,
    groups_claim: str,
    by_email: Mapping[str, str],
    by_group: Mapping[str, str],
) -> SignedInUser:
    """Who the claims name and which approver they decide as: the email mapping first, then the first group."""
    email = str(claims.get(email_claim) or claims.get("sub") or "").strip()
    if not email:
        raise TokenRefused(f"token has no {email_claim} claim")
    raw = claims.get(groups_claim) or []
    groups = tuple(str(g) for g in (raw if isinstance(raw, list) else str(raw).split(",")) if str(g).strip())
    approver = by_email.get(email.lower()) or next((by_group[g] for g in groups if g in by_group), None)
    return SignedInUser(email=email, groups=groups, approver=approver)
