"""Console sign-in checks: form posts need this site's Origin and the person's own CSRF token; sessions are signed;
Secure cookies may be turned off only on loopback."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from oncall_agent.settings import Settings
from oncall_agent.web.console_auth import COOKIE, ConsoleAuth, SignInRefused
from tests.alb_tokens import ALB_ARN

SECRET = "unit-console-secret"


def auth(origins: list[str] | None = None) -> ConsoleAuth:
    return ConsoleAuth(SECRET, 600, True, origins or [], lambda: {"alice": "t-alice"}, None)


def request(headers: dict[str, str], host: str = "oncall.example.com", scheme: str = "http") -> Request:
    raw = [(b"host", host.encode())] + [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope = {"type": "http", "method": "POST", "path": "/", "headers": raw, "scheme": scheme, "query_string": b""}
    return Request(scope)


def test_a_post_from_this_site_with_the_persons_token_passes() -> None:
    console = auth()
    token = console.csrf_token("alice")
    behind_alb = request({"origin": "https://oncall.example.com", "x-forwarded-proto": "https"})
    console.check_post(behind_alb, "alice", token)
    console.check_post(request({"referer": "http://oncall.example.com/incidents/x"}), "alice", token)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"origin": "https://evil.example"}, "cross-site form post from https://evil.example"),
        ({"origin": "null"}, "without an Origin"),
        ({}, "without an Origin"),
        ({"origin": "http://oncall.example.com.evil.example"}, "cross-site"),
    ],
)
def test_posts_from_elsewhere_are_refused(headers: dict[str, str], reason: str) -> None:
    console = auth()
    with pytest.raises(SignInRefused, match=reason):
        console.check_post(request(headers), "alice", console.csrf_token("alice"))


def test_a_configured_origin_is_accepted_and_tokens_are_per_person() -> None:
    console = auth(["https://oncall.example.com/"])
    internal = request({"origin": "https://oncall.example.com"}, host="10.0.1.7:8080")
    console.check_post(internal, "alice", console.csrf_token("alice"))
    with pytest.raises(SignInRefused, match="another person"):
        console.check_post(internal, "alice", console.csrf_token("bob"))
    with pytest.raises(SignInRefused, match="form token missing"):
        console.check_post(internal, "alice", "forged")
    other_secret = ConsoleAuth("another", 600, True, [], None, None)
    with pytest.raises(SignInRefused, match="form token missing"):
        console.check_post(internal, "alice", other_secret.csrf_token("alice"))


def test_sessions_are_signed_and_end_when_the_person_is_removed() -> None:
    from starlette.responses import Response

    console, response = auth(), Response()
    console.start_session(response, "alice")
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    assert console.user(request({"cookie": f"{COOKIE}={value}"})).approver == "alice"
    with pytest.raises(SignInRefused, match="not valid"):
        console.user(request({"cookie": f"{COOKIE}={value[:-2]}xx"}))
    removed = ConsoleAuth(SECRET, 600, True, [], lambda: {"bob": "t-bob"}, None)
    with pytest.raises(SignInRefused, match="not signed in"):
        removed.user(request({"cookie": f"{COOKIE}={value}"}))


def test_secure_cookies_may_be_off_only_on_loopback() -> None:
    assert not Settings(http={"host": "127.0.0.1"}, console={"secure_cookies": False}).console.secure_cookies
    with pytest.raises(ValueError, match="loopback"):
        Settings(http={"host": "0.0.0.0"}, console={"secure_cookies": False})


def test_oidc_needs_an_alb_arn_when_enabled() -> None:
    with pytest.raises(ValueError, match="alb_arn"):
        Settings(console={"oidc": {"enabled": True, "alb_arn": "arn:aws:iam::1:role/x"}})


def test_oidc_mappings_must_name_configured_approvers() -> None:
    oidc = {"enabled": True, "alb_arn": ALB_ARN, "approvers_by_email": {"a@example.com": "alice"}}
    with pytest.raises(ValueError, match=r"maps to approvers not in approvals\.approvers: alice"):
        Settings(console={"oidc": oidc})
    ok = Settings(console={"oidc": oidc}, approvals={"approvers": {"alice": {"groups": ["storefront"]}}})
    assert ok.console.oidc.approvers_by_email == {"a@example.com": "alice"}
