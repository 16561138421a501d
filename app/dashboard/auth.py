"""Who is looking: the session cookie opened, its key authenticated like an API call, and CSRF checks."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request
from starlette.datastructures import FormData

from app.dashboard.session import SESSION_COOKIE, Session, SessionCodec, same_token
from app.domain.access import ApiKeyRole
from app.errors import AuthenticationError, PermissionDeniedError
from app.observability.request_context import bind_caller
from app.services.accounts import ROLE_ORDER, AccountService, Principal
from app.services.runtime import ServiceRuntime

MAX_FORM_FIELDS = 20


class SignInRequiredError(Exception):
    """No valid session: the visitor is sent to the login page."""


class CsrfRefusedError(PermissionDeniedError):
    """A form without this session's CSRF token, or sent from another origin."""

    code = "csrf_refused"


@dataclass(frozen=True)
class Visitor:
    """A signed-in visitor: the key's principal and the session it came with."""

    principal: Principal
    session: Session

    @property
    def can_operate(self) -> bool:
        """Operators and admins see the buttons that change something."""
        return ROLE_ORDER.index(self.principal.role) >= ROLE_ORDER.index(ApiKeyRole.OPERATOR)


def codec(request: Request) -> SessionCodec:
    """The session codec of this app, built once from the vault's keyring and the session lifetime."""
    state = request.app.state
    found: SessionCodec | None = getattr(state, "dashboard_sessions", None)
    if found is None:
        runtime: ServiceRuntime = state.runtime
        found = SessionCodec(runtime.vault.keyring, runtime.settings.dashboard_session_hours * 3600)
        state.dashboard_sessions = found
    return found


def client_address(request: Request) -> str:
    """The caller's address, as the API's failed-login limiter counts it."""
    return request.client.host if request.client else "-"


async def authenticate_key(request: Request, api_key: str) -> Principal:
    """The principal of a key, with the API's per-address limit on failures and per-key rate limit."""
    runtime: ServiceRuntime = request.app.state.runtime
    accounts: AccountService = request.app.state.accounts
    address = client_address(request)
    await runtime.auth_failures.check(address)
    try:
        principal = await accounts.authenticate(api_key.strip())
    except AuthenticationError:
        if api_key.strip():
            await runtime.auth_failures.failed(address)
        raise
    await runtime.limiter.check(principal.key_id)
    return principal


async def visitor(request: Request) -> Visitor:
    """The signed-in visitor; SignInRequiredError when the cookie is absent, altered, expired or its key revoked."""
    session = codec(request).open(request.cookies.get(SESSION_COOKIE), time.time())
    if session is None:
        raise SignInRequiredError
    try:
        principal = await authenticate_key(request, session.api_key)
    except AuthenticationError:
        raise SignInRequiredError from None
    if principal.tenant_id is None:
        raise SignInRequiredError
    # As the API does: the tenant on every log line, and the visitor's key redacted from them verbatim.
    bind_caller(principal.tenant_id, session.api_key)
    return Visitor(principal, session)


def foreign_origin(request: Request) -> bool:
    """The form names another site as its Origin (or Referer): refused even with a token.

    An absent or "null" origin (privacy settings) is left to the token; SameSite=Strict already keeps
    the cookie from a post another site starts.
    """
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return False
    return urlsplit(origin).netloc != request.headers.get("host", "")


async def checked_form(request: Request, expected_token: str) -> FormData:
    """The posted form, once its CSRF token matches and it comes from this origin; 403 otherwise."""
    form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
    token = form.get("csrf")
    if foreign_origin(request) or not same_token(expected_token, token if isinstance(token, str) else None):
        raise CsrfRefusedError("the form is not from this dashboard session (CSRF check); reload the page")
    return form
