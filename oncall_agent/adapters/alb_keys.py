"""Fetch an ALB's public signing key (PEM) by key id from the regional endpoint (or a configured stand-in)."""

from __future__ import annotations

from collections.abc import Callable

import requests

# The key endpoint answers in milliseconds; a sign-in must not hang on it.
TIMEOUT_SECONDS = 5.0
MAX_PEM_BYTES = 4096


class KeyFetchError(Exception):
    """The public key could not be fetched: the sign-in is refused (and may be retried)."""


def alb_key_fetcher(url_template: str, region: str) -> Callable[[str], str]:
    """A function kid -> PEM text, for `web.alb_oidc.AlbTokenVerifier`."""

    def fetch(kid: str) -> str:
        url = url_template.format(region=region, kid=kid)
        try:
            answer = requests.get(url, timeout=TIMEOUT_SECONDS, allow_redirects=False)
        except requests.RequestException as exc:
            raise KeyFetchError(f"cannot fetch ALB public key {kid}: {type(exc).__name__}") from exc
        if answer.status_code != 200 or len(answer.content) > MAX_PEM_BYTES:
            raise KeyFetchError(f"ALB public key {kid}: HTTP {answer.status_code} from {url}")
        return answer.text

    return fetch
