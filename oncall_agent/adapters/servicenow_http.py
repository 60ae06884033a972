"""ServiceNow Table API plumbing for the ServiceNow adapter: one request (`TableApi`), failures in domain terms
(`TicketError`) and the retry policy every unit of work runs under (`TicketRetry`).

`TableApi` never retries: a request either returns the `result` of the answer or raises `TicketError`, marked
`retryable` for 429 (with its `Retry-After`), 5xx, connection errors and timeouts. `TicketRetry` retries a whole
unit (look, then write), so a retry after a write whose answer was lost looks again first. The password is
only ever handed to `requests` as Basic auth, never logged or put in an error or repr.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_random_exponential

from oncall_agent.domain.budget import charge
from oncall_agent.domain.errors import SourceError

log = logging.getLogger(__name__)
T = TypeVar("T")


class TicketError(SourceError):
    """A ServiceNow call failed: `status` is the HTTP status (None when no answer came), `message` and `detail`
    are what the instance said. `retryable` failures were retried until the attempts ran out."""

    def __init__(
        self,
        status: int | None,
        message: str,
        detail: str | None = None,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.status, self.message, self.detail = status, message, detail
        self.retryable, self.retry_after = retryable, retry_after
        text = f"ServiceNow {status if status is not None else 'unreachable'}: {message}"
        super().__init__(f"{text} ({detail})" if detail else text)


class TableApi:
    """Single Table API requests with Basic auth; `session` is used as given (the caller owns it)."""

    def __init__(
        self, base_url: str, user: str, password: str, *, timeout: float, session: requests.Session | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._auth = (user, password)
        self._timeout = timeout
        self._session = session or requests.Session()

    def __repr__(self) -> str:  # never the password
        return f"TableApi({self.base_url!r}, user={self._auth[0]!r})"

    def list(self, table: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        result = self.call("GET", table, params=params)
        if not isinstance(result, list):
            raise TicketError(200, f"expected a list of {table} records")
        return [row for row in result if isinstance(row, dict)]

    def call(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, body: Mapping[str, Any] | None = None
    ) -> Any:
        """One request to `/api/now/table/<path>`: returns `result`, or raises TicketError (CallBudgetExceeded
        when the current source's API-call budget is used up: then nothing is sent)."""
        charge(f"servicenow.{method}")
        try:
            response = self._session.request(
                method,
                f"{self.base_url}/api/now/table/{path}",
                params=params,
                json=body,
                auth=self._auth,
                timeout=self._timeout,
                headers={"Accept": "application/json"},
            )
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            raise TicketError(None, f"{method} {path}: {type(exc).__name__}", retryable=True) from exc
        except requests.RequestException as exc:
            raise TicketError(None, f"{method} {path}: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise _http_error(method, path, response)
        try:
            return response.json()["result"]
        except (ValueError, KeyError, TypeError) as exc:
            # e.g. a hibernating developer instance answers 200 with an HTML page
            raise TicketError(response.status_code, f"{method} {path}: answer is not a Table API result") from exc


class TicketRetry:
    """Runs a unit of work, retrying retryable TicketErrors: at most `max_attempts` attempts; a 429 waits its
    `Retry-After` (a wait above `max_retry_after` is not waited: the error is raised so an outbox relay retries
    later instead of blocking); other failures wait random in [0, backoff_base * 2**n], capped at backoff_max."""

    def __init__(
        self,
        max_attempts: int,
        *,
        backoff_base: float,
        backoff_max: float,
        max_retry_after: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self._max_attempts = max_attempts
        self._max_retry_after = max_retry_after
        self._backoff = wait_random_exponential(multiplier=backoff_base, max=backoff_max)
        self._sleep = sleep

    def call(self, unit: Callable[[], T]) -> T:
        retrying = Retrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, TicketError) and exc.retryable),
            stop=self._stop,
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=_log_retry,
            reraise=True,
        )
        return retrying(unit)

    def _stop(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self._max_attempts:
            return True
        exc = state.outcome.exception() if state.outcome else None
        return isinstance(exc, TicketError) and (exc.retry_after or 0.0) > self._max_retry_after

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TicketError) and exc.retry_after is not None:
            return exc.retry_after
        return float(self._backoff(state))


def _http_error(method: str, path: str, response: requests.Response) -> TicketError:
    status = response.status_code
    message, detail = f"{method} {path} failed", None
    try:
        error = response.json().get("error") or {}
        message, detail = str(error.get("message") or message), error.get("detail")
    except (ValueError, AttributeError):
        pass
    transient = status == 429 or status >= 500
    retry_after = _retry_after(response.headers.get("Retry-After")) if transient else None
    return TicketError(status, message, detail, retryable=transient, retry_after=retry_after)


def _retry_after(header: str | None) -> float | None:
    """`Retry-After` in seconds (the form ServiceNow sends); None when absent or unreadable."""
    try:
        return max(float(header), 0.0) if header else None
    except ValueError:
        return None


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning("servicenow: attempt %d failed (%s); retrying in %.2fs", state.attempt_number, exc, wait)
