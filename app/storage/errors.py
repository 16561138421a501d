"""The storage edge: PyMongo's errors become the service's (StorageUnavailableError, ConflictError)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DuplicateKeyError,
    InvalidOperation,
    PyMongoError,
)

from app.errors import ConflictError, StorageUnavailableError

P = ParamSpec("P")
R = TypeVar("R")
DUPLICATE_KEY = 11000
_log = logging.getLogger(__name__)


def _duplicate_fields(error: PyMongoError) -> list[str]:
    """Names of the unique key's fields (never their values, which may be a name or a hash)."""
    raw = getattr(error, "details", None)
    details = raw if isinstance(raw, dict) else {}
    if isinstance(error, BulkWriteError):
        write_errors = details.get("writeErrors") or [{}]
        details = write_errors[0]
    pattern = details.get("keyPattern")
    return list(pattern) if isinstance(pattern, dict) else []


def _is_duplicate(error: PyMongoError) -> bool:
    if isinstance(error, DuplicateKeyError):
        return True
    if isinstance(error, BulkWriteError):
        write_errors = error.details.get("writeErrors", [])
        return any(item.get("code") == DUPLICATE_KEY for item in write_errors)
    return False


def is_unavailable(error: PyMongoError) -> bool:
    """The database could not be reached or did not answer in time (an outage, not a bad request).

    ConnectionFailure covers AutoReconnect, NetworkTimeout and ServerSelectionTimeoutError; `timeout`
    also flags client-side operation timeouts; a client used after close (during shutdown) counts too.
    """
    closed = isinstance(error, InvalidOperation) and "after close" in str(error)
    return isinstance(error, ConnectionFailure) or error.timeout or closed


def translate_error(error: PyMongoError, operation: str) -> Exception:
    """The domain error for a PyMongo error; other errors are returned unchanged (they are bugs)."""
    if _is_duplicate(error):
        fields = _duplicate_fields(error)
        return ConflictError(
            f"{operation}: a record with the same unique key already exists",
            {"operation": operation, "fields": fields},
        )
    if is_unavailable(error):
        # The class name is enough for the client; the full text (hosts, topology) goes to the log only.
        _log.warning("storage unavailable in %s: %s", operation, error)
        return StorageUnavailableError(
            f"database unavailable ({type(error).__name__})", {"operation": operation}
        )
    return error


def translate_errors(func: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Decorate a repository coroutine so PyMongo errors leave it as the service's own errors."""
    operation = func.__qualname__

    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        """Run the repository method; translate what PyMongo raises."""
        try:
            return await func(*args, **kwargs)
        except PyMongoError as error:
            translated = translate_error(error, operation)
            if translated is error:
                raise
            raise translated from error

    return wrapper
