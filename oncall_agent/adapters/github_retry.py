"""GitHub failures in domain terms (`IssueError`) and the retry policy the GitHub adapter runs every call under.

PyGithub is built with `retry=None`, so nothing retries below us and this is the only policy:

- 5xx (GitHub 502s happen), connection errors and timeouts: retried with exponential backoff and full jitter;
- 403 secondary rate limit, primary rate limit exhaustion and 429: wait what GitHub asks (`Retry-After`, else
  until `x-ratelimit-reset`, else one minute as GitHub documents) when that is within `max_rate_limit_wait`,
  otherwise give up at once so an outbox relay can come back later instead of blocking;
- anything else (401, 403 permission, 404, 422): raised at once.

Every retried unit is the caller's whole look-then-write step, so a retry after a write whose answer was lost
looks again first (reconcile-before-retry).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests
from github import GithubException, RateLimitExceededException
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_random_exponential

from oncall_agent.domain.errors import SourceError

log = logging.getLogger(__name__)
T = TypeVar("T")

SECONDARY_LIMIT_WAIT = 60.0  # GitHub: without retry-after, wait at least one minute


class IssueError(SourceError):
    """A GitHub call failed: `status` is the HTTP status (None when no answer came) and `message` what GitHub
    said. `retryable` failures were retried as far as the policy allows; `retry_after` is the wait GitHub asked
    for on a rate limit."""

    def __init__(
        self, status: int | None, message: str, *, retryable: bool = False, retry_after: float | None = None
    ) -> None:
        self.status, self.message = status, message
        self.retryable, self.retry_after = retryable, retry_after
        super().__init__(f"GitHub {status if status is not None else 'unreachable'}: {message}")


def to_issue_error(what: str, exc: Exception) -> IssueError:
    """Map a PyGithub or requests exception raised while doing `what`."""
    if isinstance(exc, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)):
        return IssueError(None, f"{what}: {type(exc).__name__}", retryable=True)
    if isinstance(exc, GithubException):
        status = exc.status
        message = f"{what}: {_message(exc.data) or exc.message or 'error'}"
        if isinstance(exc, RateLimitExceededException) or status == 429:
            return IssueError(status, message, retryable=True, retry_after=_rate_limit_wait(exc.headers or {}))
        return IssueError(status, message, retryable=status >= 500)
    return IssueError(None, f"{what}: {type(exc).__name__}: {exc}")


class GitHubRetry:
    """Runs a unit of work, retrying transient `IssueError`s: at most `retries` retries (any kind), backoff
    random in [0, backoff_base * 2**n] capped at `backoff_max`; rate limits wait as asked up to `max_wait`."""

    def __init__(
        self,
        retries: int,
        *,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self._attempts = retries + 1
        self._max_wait = max_wait
        self._backoff = wait_random_exponential(multiplier=backoff_base, max=backoff_max)
        self._sleep = sleep

    def call(self, what: str, unit: Callable[[], T]) -> T:
        """`unit()` with PyGithub and requests exceptions mapped to IssueError, retried per the policy."""

        def mapped() -> T:
            try:
                return unit()
            except (GithubException, requests.RequestException) as exc:
                raise to_issue_error(what, exc) from exc

        retrying = Retrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, IssueError) and exc.retryable),
            stop=self._stop,
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=_log_retry,
            reraise=True,
        )
        return retrying(mapped)

    def _stop(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self._attempts:
            return True
        exc = state.outcome.exception() if state.outcome else None
        return isinstance(exc, IssueError) and (exc.retry_after or 0.0) > self._max_wait

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, IssueError) and exc.retry_after is not None:
            return exc.retry_after
        return float(self._backoff(state))


def _rate_limit_wait(headers: Mapping[str, Any]) -> float:
    lowered = {str(key).lower(): str(value) for key, value in headers.items()}
    try:
        if "retry-after" in lowered:
            return max(float(lowered["retry-after"]), 0.0)
        if lowered.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in lowered:
            return max(float(lowered["x-ratelimit-reset"]) - time.time(), 0.0) + 1.0
    except ValueError:
        pass
    return SECONDARY_LIMIT_WAIT


def _message(data: Any) -> str | None:
    if isinstance(data, dict):
        message = data.get("message")
        errors = data.get("errors")
        if message and errors:
            return f"{message} {errors}"
        return str(message) if message else None
    return None


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning("github: attempt %d failed (%s); retrying in %.2fs", state.attempt_number, exc, wait)
