"""One error shape for every 4xx/5xx: {"error": {"code", "message", "details"}}, mapped from the domain tree."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.errors import (
    AuthenticationError,
    CapabilityError,
    ConflictError,
    DomainError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    StorageUnavailableError,
    UpstreamAuthError,
    UpstreamError,
    UpstreamTemporaryError,
    UpstreamUnavailableError,
    validation_problems,
)
from app.security.vault import VaultError

log = logging.getLogger(__name__)

# Most specific first: the first matching class decides the status.
STATUS_BY_ERROR: tuple[tuple[type[DomainError], int], ...] = (
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (RateLimitedError, 429),
    (CapabilityError, 422),
    (InvalidInputError, 422),
    (StorageUnavailableError, 503),
    (VaultError, 500),  # a credential we stored cannot be opened: our fault, never the caller's
    (UpstreamAuthError, 502),
    (UpstreamUnavailableError, 503),
    (UpstreamTemporaryError, 504),
    (UpstreamError, 502),
)
HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "payload_too_large",
              415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited"}  # fmt: skip


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The body every error response carries."""
    return {"error": {"code": code, "message": message, "details": details if details is not None else {}}}


def status_for(error: DomainError) -> int:
    """HTTP status of a domain error."""
    return next((status for cls, status in STATUS_BY_ERROR if isinstance(error, cls)), 400)


async def domain_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Every DomainError, mapped by class; messages are written to be safe to show."""
    assert isinstance(exc, DomainError)
    status = status_for(exc)
    headers = {}
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(max(1, round(exc.retry_after_s)))
    if status >= 500:
        request_id = getattr(request.state, "request_id", "-")
        log.warning("[%s] request %s %s failed: %s", request_id, request.method, request.url.path, exc.code)
    return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=status, headers=headers)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Body, query and path validation errors: 422 with the location and reason of each problem."""
    assert isinstance(exc, RequestValidationError)
    problems = validation_problems(exc.errors(), key="location")
    return JSONResponse(error_body("validation_error", "the request is invalid", problems), status_code=422)


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Framework errors (unknown route, wrong method) in the same shape."""
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path, found by asking the routes themselves.

    Starlette's 405 names only the methods of the first route matching the path, while FastAPI
    declares one route per method, so GET and POST on the same path would each hide the other.
    """
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]


def register_error_handlers(app: FastAPI) -> None:
    """Attach the handlers; one for the DomainError base covers the whole tree.

    Any other exception is a bug, answered by the request-id middleware (app/api/request_id.py).
    """
    app.add_exception_handler(DomainError, domain_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
