"""Translate LND REST error answers ({code, message, details} with gRPC codes) into domain errors."""

from __future__ import annotations

import httpx
import orjson

from app.errors import (
    UpstreamAuthError,
    UpstreamError,
    UpstreamInvalidParameterError,
    UpstreamNotFoundError,
    UpstreamTemporaryError,
)

GRPC_INVALID_ARGUMENT = 3
GRPC_DEADLINE_EXCEEDED = 4
GRPC_NOT_FOUND = 5
GRPC_PERMISSION_DENIED = 7
GRPC_RESOURCE_EXHAUSTED = 8
GRPC_UNAVAILABLE = 14
GRPC_UNAUTHENTICATED = 16
TEMPORARY_STATUSES = frozenset({429, 502, 503, 504})
TEMPORARY_CODES = frozenset({GRPC_DEADLINE_EXCEEDED, GRPC_RESOURCE_EXHAUSTED, GRPC_UNAVAILABLE})
# grpc-gateway answers most macaroon problems with code 2 (Unknown) and HTTP 500, so the text decides.
AUTH_HINTS = ("macaroon", "verification failed", "permission denied", "cannot get macaroon")


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Retry-After in seconds (the delta form; an HTTP date is treated as absent)."""
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def lnd_error(response: httpx.Response, node: str) -> UpstreamError:
    """The domain error for an LND error response; the message never echoes request headers."""
    status = response.status_code
    code: int | None = None
    message = ""
    try:
        body = orjson.loads(response.content)
        if isinstance(body, dict):
            code = body.get("code") if isinstance(body.get("code"), int) else None
            message = str(body.get("message", ""))[:300]
    except orjson.JSONDecodeError:
        message = response.text[:300]
    text = f"LND {node} answered HTTP {status}" + (f": {message}" if message else "")
    details = {"node": node, "http_status": status, "grpc_code": code}
    lowered = message.lower()
    if status in TEMPORARY_STATUSES or code in TEMPORARY_CODES:
        return UpstreamTemporaryError(text, details, status, retry_after_seconds(response))
    if status in (401, 403) or code in (GRPC_UNAUTHENTICATED, GRPC_PERMISSION_DENIED):
        return UpstreamAuthError(text, details, status)
    if any(hint in lowered for hint in AUTH_HINTS):
        return UpstreamAuthError(text, details, status)
    if status == 404 or code == GRPC_NOT_FOUND or "not found" in lowered:
        return UpstreamNotFoundError(text, details, status)
    if status == 400 or code == GRPC_INVALID_ARGUMENT:
        return UpstreamInvalidParameterError(text, details, status)
    return UpstreamError(text, details, status)
