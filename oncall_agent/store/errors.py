"""Database exceptions translated into the domain's error tree, so callers never see SQLAlchemy types.

Operational failures (database locked, lock or statement timeout, deadlock, serialisation failure, lost
connection, pool exhausted) are TransientStoreError: the caller should retry (webhooks answer 5xx). Anything
else from the database is a StoreError.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from oncall_agent.domain.errors import StoreError, TransientStoreError

_TRANSIENT = (sa_exc.OperationalError, sa_exc.TimeoutError, sa_exc.DisconnectionError)


def _describe(error: sa_exc.SQLAlchemyError) -> str:
    # The driver's message without SQLAlchemy's statement dump (parameters may hold alarm payloads).
    original = getattr(error, "orig", None)
    lines = str(original if original is not None else error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


@contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """Re-raise database errors from the block as StoreError / TransientStoreError naming `action`."""
    try:
        yield
    except _TRANSIENT as error:
        raise TransientStoreError(f"{action}: {_describe(error)}") from error
    except sa_exc.DBAPIError as error:
        if error.connection_invalidated:
            raise TransientStoreError(f"{action}: connection lost: {_describe(error)}") from error
        raise StoreError(f"{action}: {_describe(error)}") from error
    except sa_exc.SQLAlchemyError as error:
        raise StoreError(f"{action}: {_describe(error)}") from error
