"""Who is using the console: the ALB's signed OIDC header, or a signed session cookie from local sign-in; and
the checks every form post passes (a CSRF token bound to the person, and an Origin of this site).

Cookies are `HttpOnly`, `SameSite=Strict`, `Secure` (off only for http on loopback, see settings) and signed
with itsdangerous, so a client can neither read nor forge them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from oncall_agent.observability import get_logger
from oncall_agent.web.alb_oidc import AlbTokenVerifier, SignedInUser, TokenRefused

log = get_logger(__name__)
COOKIE = "oncall_session"
OIDC_HEADER = "x-amzn-oidc-data"
CSRF_FIELD = "csrf"


class SignInRefused(Exception):
    """No one, or no one valid, is signed in; the message says why (shown to the person)."""


@dataclass(frozen=True)
class ConsoleUser:
    name: str  # shown, and recorded as the decider when `approver` is set
    approver: str | None
    via: str  # "oidc" or "local"


@dataclass(frozen=True)
class OidcMapping:
    verifier: AlbTokenVerifier
    user_of: Callable[[dict[str, object]], SignedInUser]


class ConsoleAuth:
    def __init__(
        self,
        secret: str,
        session_seconds: int,
        secure: bool,
        origins: list[str],
        tokens: Callable[[], Mapping[str, str]] | None,
        oidc: OidcMapping | None,
    ) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="oncall-console")
        self._session_seconds = session_seconds
        self._secure = secure
        self._origins = {o.rstrip("/").lower() for o in origins}
        self.tokens = tokens  # None: local sign-in is off
        self._oidc = oidc

    @property
    def local_sign_in(self) -> bool:
        return self.tokens is not None

    def user(self, request: Request) -> ConsoleUser:
        """The signed-in person; raises SignInRefused. Behind the ALB the header decides on every request."""
        header = request.headers.get(OIDC_HEADER)
        if self._oidc is not None and header:
            try:
                found = self._oidc.user_of(self._oidc.verifier.verify(header))
            except TokenRefused as exc:
                log.info("console_sign_in_refused", via="oidc", reason=str(exc))  # the reason, never the token
                raise SignInRefused(f"ALB sign-in refused: {exc}") from exc
            return ConsoleUser(found.email, found.approver, "oidc")
        cookie = request.cookies.get(COOKIE)
        if cookie:
            try:
                data = self._serializer.loads(cookie, max_age=self._session_seconds)
            except BadSignature as exc:
                raise SignInRefused("session expired or not valid: sign in again") from exc
            if isinstance(data, dict) and data.get("via") == "local" and self.tokens is not None:
                name = str(data.get("name"))
                if name in self.tokens():  # a person removed from the config is signed out
                    return ConsoleUser(name, name, "local")
        raise SignInRefused("not signed in")  # console_sign_in.NOT_SIGNED_IN: redirected to sign-in

    def start_session(self, response: Response, name: str) -> None:
        value = self._serializer.dumps({"via": "local", "name": name, "n": secrets.token_hex(8)})
        response.set_cookie(
            COOKIE,
            value,
            max_age=self._session_seconds,
            httponly=True,
            secure=self._secure,
            samesite="strict",
            path="/",
        )

    def end_session(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path="/", httponly=True, secure=self._secure, samesite="strict")

    def csrf_token(self, who: str) -> str:
        return self._serializer.dumps({"csrf": who}, salt="csrf")

    def check_post(self, request: Request, who: str, token: str | None) -> None:
        """Refuse a form post from another site (Origin) or without this person's CSRF token."""
        self.check_origin(request)
        try:
            data = self._serializer.loads(token or "", salt="csrf", max_age=self._session_seconds)
        except BadSignature as exc:
            raise SignInRefused("form token missing or not valid: reload the page and try again") from exc
        if not isinstance(data, dict) or data.get("csrf") != who:
            raise SignInRefused("form token belongs to another person: reload the page")

    def check_origin(self, request: Request) -> None:
        origin = request.headers.get("origin") or _origin_of(request.headers.get("referer", ""))
        if not origin or origin == "null":
            raise SignInRefused("form post without an Origin header refused")
        if origin.rstrip("/").lower() not in self._origins | {_own_origin(request)}:
            raise SignInRefused(f"cross-site form post from {origin} refused")


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _own_origin(request: Request) -> str:
    # Behind the ALB the request arrives over http; X-Forwarded-Proto says what the browser used.
    scheme = request.headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
    host = request.headers.get("host", request.url.netloc)
    return f"{scheme}://{host}".lower()
