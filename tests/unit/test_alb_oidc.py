"""The ALB OIDC header: only a token signed by the configured ALB's key, unexpired, is believed; the key is
fetched by kid from a (loopback) key endpoint and cached; the ALB's padded segments verify."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from oncall_agent.adapters.alb_keys import alb_key_fetcher
from oncall_agent.web.alb_oidc import AlbTokenVerifier, TokenRefused, signed_in_user
from tests.alb_tokens import ALB_ARN, KID, KeyServer, alb_token

KEY = ec.generate_private_key(ec.SECP256R1())


@pytest.fixture()
def keys() -> Iterator[KeyServer]:
    server = KeyServer({KID: KEY})
    yield server
    server.stop()


def verifier(keys: KeyServer) -> AlbTokenVerifier:
    return AlbTokenVerifier(ALB_ARN, alb_key_fetcher(keys.url, "eu-west-1"))


def test_a_padded_alb_token_verifies_and_the_key_is_cached(keys: KeyServer) -> None:
    token = alb_token(KEY, {"email": "Alice@Example.com", "groups": ["sre"]})
    assert "=" in token  # the ALB quirk is present in what is verified
    check = verifier(keys)
    assert check.verify(token)["email"] == "Alice@Example.com"
    assert check.verify(alb_token(KEY, {"email": "b@example.com"}))["email"] == "b@example.com"
    assert keys.fetches == 1


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (lambda: alb_token(ec.generate_private_key(ec.SECP256R1()), {"email": "x@e.com"}), "bad token"),
        (lambda: alb_token(KEY, {"email": "x@e.com"}, exp=time.time() - 600), "expired"),
        (lambda: alb_token(KEY, {"email": "x@e.com"}, signer=ALB_ARN.replace("oncall", "other")), "another load"),
        (lambda: alb_token(KEY, {"email": "x@e.com"}, kid="../../etc"), "no usable kid"),
        (lambda: alb_token(KEY, {"email": "x@e.com"}, kid="0000-unknown"), "unavailable"),
        (lambda: "not-a-token", "not a JWT"),
        (lambda: "!!.e30.e30", "not base64url"),
        (lambda: "e30.e30.e30", "is not ES256"),
    ],
)
def test_forged_expired_wrong_signer_and_unknown_key_are_refused(
    keys: KeyServer, token: Callable[[], str], reason: str
) -> None:
    with pytest.raises(TokenRefused, match=reason):
        verifier(keys).verify(token())


def test_a_tampered_payload_is_refused(keys: KeyServer) -> None:
    header, _payload, signature = alb_token(KEY, {"email": "x@e.com"}).split(".")
    other = alb_token(KEY, {"email": "admin@e.com"}).split(".")[1]
    with pytest.raises(TokenRefused, match="bad token"):
        verifier(keys).verify(f"{header}.{other}.{signature}")


def test_claims_map_to_approvers_by_email_then_group() -> None:
    by_email, by_group = {"alice@example.com": "alice"}, {"sre": "sre-oncall"}
    assert signed_in_user({"email": "Alice@Example.com"}, "email", "groups", by_email, by_group).approver == "alice"
    grouped = signed_in_user({"email": "z@example.com", "groups": ["x", "sre"]}, "email", "groups", by_email, by_group)
    assert grouped.approver == "sre-oncall"
    assert signed_in_user({"email": "z@example.com"}, "email", "groups", by_email, by_group).approver is None
    with pytest.raises(TokenRefused, match="no email claim"):
        signed_in_user({}, "email", "groups", by_email, by_group)


def test_an_unknown_kid_is_fetched_once_a_minute_at_most(keys: KeyServer) -> None:
    now = [1_000_000.0]
    check = AlbTokenVerifier(ALB_ARN, alb_key_fetcher(keys.url, "eu-west-1"), clock=lambda: now[0])
    token = alb_token(KEY, {"email": "x@e.com"}, kid="0000-unknown", exp=now[0] + 120)
    for _ in range(3):
        with pytest.raises(TokenRefused, match="unavailable"):
            check.verify(token)
    assert keys.fetches == 1
    now[0] += 61
    with pytest.raises(TokenRefused, match="unavailable"):
        check.verify(alb_token(KEY, {"email": "x@e.com"}, kid="0000-unknown", exp=now[0] + 120))
    assert keys.fetches == 2
