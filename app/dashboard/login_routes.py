"""Login with an API key, logout, and the dashboard's static files."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response

from app.dashboard.auth import (
    CsrfRefusedError,
    authenticate_key,
    checked_form,
    codec,
    foreign_origin,
    visitor,
)
from app.dashboard.pages import PREFIX, html_errors, redirect
from app.dashboard.render import render
from app.dashboard.session import LOGIN_COOKIE, SESSION_COOKIE, Session, new_token, same_token
from app.dashboard.static import static_response
from app.errors import AuthenticationError

LOGIN_FORM_S = 600
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_KEY_CHARS = 200
router = APIRouter()


def _set_cookie(response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path=PREFIX, secure=True, httponly=True, samesite="strict"
    )


def _forget_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path=PREFIX, secure=True, httponly=True, samesite="strict")


def _login_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    """The login form with a fresh CSRF token, kept in a short-lived cookie until there is a session."""
    token = new_token()
    # Browsers keep a Secure cookie only over HTTPS or on this machine: say so rather than loop back here.
    plain_http = request.url.scheme != "https" and request.url.hostname not in LOOPBACK
    response = render(
        "login.html",
        status,
        visitor=None,
        csrf=token,
        path=request.url.path,
        error=error,
        plain_http=plain_http,
    )
    _set_cookie(response, LOGIN_COOKIE, token, LOGIN_FORM_S)
    return response


@router.get("/static/{name}")
async def static(name: str, v: str | None = None) -> Response:
    """The dashboard's own files (no CDN, no directory listing); `v` is the content hash links carry."""
    return static_response(name)


@router.get("/login")
async def login_form(request: Request) -> Response:
    """The login form."""
    return _login_page(request)


@router.post("/login")
@html_errors
async def login(request: Request) -> Response:
    """Check the key like an API call; a tenant's key gets a sealed session cookie."""
    form = await request.form(max_fields=5, max_files=0)
    token, key = form.get("csrf"), form.get("api_key")
    expected = request.cookies.get(LOGIN_COOKIE, "")
    # The origin too: another site must not sign a visitor in under a key of its choosing (login CSRF).
    if (
        foreign_origin(request)
        or not expected
        or not same_token(expected, token if isinstance(token, str) else None)
    ):
        raise CsrfRefusedError("the login form expired or is not from this dashboard; reload it")
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_CHARS:
        return _login_page(request, "Enter an API key.", 422)
    try:
        principal = await authenticate_key(request, key)
    except AuthenticationError:
        return _login_page(request, "Unknown or revoked API key.", 401)
    if principal.tenant_id is None:
        return _login_page(request, "The platform admin key owns no nodes: sign in with a tenant's key.", 403)
    sessions = codec(request)
    session = Session(api_key=key.strip(), issued_s=int(time.time()), csrf=new_token())
    response = redirect("/nodes")
    _set_cookie(response, SESSION_COOKIE, sessions.seal(session), int(sessions.lifetime_s))
    _forget_cookie(response, LOGIN_COOKIE)
    return response


@router.post("/logout")
@html_errors
async def logout(request: Request) -> Response:
    """Forget the session (a CSRF-checked form, so no other site can sign the visitor out)."""
    seen = await visitor(request)
    await checked_form(request, seen.session.csrf)
    response = redirect("/login")
    _forget_cookie(response, SESSION_COOKIE)
    return response
