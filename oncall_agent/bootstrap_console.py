"""Composition of the web console: settings -> sign-in (ALB OIDC verifier, local tokens) -> the console router."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter

from oncall_agent.adapters.alb_keys import alb_key_fetcher
from oncall_agent.observability import get_logger
from oncall_agent.settings import ConsoleSettings
from oncall_agent.web.alb_oidc import AlbTokenVerifier, SignedInUser, signed_in_user
from oncall_agent.web.console import console_router
from oncall_agent.web.console_auth import ConsoleAuth, OidcMapping
from oncall_agent.web.console_views import ConsoleReader

log = get_logger(__name__)


def _oidc(settings: ConsoleSettings) -> OidcMapping | None:
    oidc = settings.oidc
    if not oidc.enabled:
        return None
    verifier = AlbTokenVerifier(oidc.alb_arn, alb_key_fetcher(oidc.public_key_url, oidc.region))

    def user_of(claims: dict[str, Any]) -> SignedInUser:
        return signed_in_user(
            claims, oidc.email_claim, oidc.groups_claim, oidc.approvers_by_email, oidc.approvers_by_group
        )

    return OidcMapping(verifier, user_of)


def build_console(settings: ConsoleSettings, store: Any, investigation: Any, *, local_only: bool) -> APIRouter:
    """The console router over the stores and the approval service of `investigation` (bootstrap_investigation).
    `local_only`: the daemon listens on loopback only (sandbox, demo, eval)."""
    secret = settings.session_secret.get_secret_value() if settings.session_secret else None
    if secret is None:
        # Sessions then end at restart and do not cross replicas: fine on a laptop, worth a warning elsewhere.
        secret = secrets.token_urlsafe(32)
        if not local_only:
            log.warning("console_session_secret_generated", hint="set console.session_secret on every replica")
    approvals = investigation.approvals
    auth = ConsoleAuth(
        secret,
        settings.session_minutes * 60,
        settings.secure_cookies,
        settings.origins,
        approvals.tokens if settings.local_sign_in else None,
        _oidc(settings),
    )
    reader = ConsoleReader(store, investigation.results, investigation.actions, investigation.outbox)
    return console_router(auth, reader, approvals)
