"""What every dashboard route shares: HTML error pages, id checks, tenant-scoped reads and the page context."""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from app.api.errors import status_for
from app.dashboard.auth import SignInRequiredError, Visitor
from app.dashboard.reads import DashboardReads
from app.dashboard.render import render
from app.errors import DomainError, InvalidInputError, RateLimitedError
from app.services.runtime import ServiceRuntime

P = ParamSpec("P")
PREFIX = "/dashboard"
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CHAN_ID = re.compile(r"^[0-9]{1,20}$")
# Messages shown after an action, picked by a code in the redirect (never text taken from the URL).
NOTICES = {
    "approved": "Decision approved.",
    "rejected": "Decision rejected.",
    "rolled_back": "Rollback done: this is the rollback's own transaction.",
    "restored": "Restore done: this is the restore's own transaction.",
    "backed_up": "Backup taken.",
}


def html_errors(handler: Callable[P, Awaitable[Response]]) -> Callable[P, Awaitable[Response]]:
    """Domain errors become an HTML page with the API's status; a missing session goes to the login page."""

    @functools.wraps(handler)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return await handler(*args, **kwargs)
        except SignInRequiredError:
            return RedirectResponse(f"{PREFIX}/login", status_code=303)
        except DomainError as exc:
            response = render("error.html", status_for(exc), message=exc.message, code=exc.code, visitor=None)
            if isinstance(exc, RateLimitedError):
                response.headers["Retry-After"] = str(max(1, round(exc.retry_after_s)))
            return response

    return guarded


def checked_id(value: str, what: str) -> str:
    """A record id as the API accepts it; anything else is a 422."""
    if not _ID.match(value):
        raise InvalidInputError(f"invalid {what}")
    return value


def checked_chan_id(value: str) -> str:
    """A short channel id (a uint64 in decimal); anything else is a 422."""
    if not _CHAN_ID.match(value) or int(value) >= 2**64:
        raise InvalidInputError("invalid channel id")
    return value


def reads_for(request: Request, seen: Visitor) -> DashboardReads:
    """Reads scoped to the visitor's tenant."""
    runtime: ServiceRuntime = request.app.state.runtime
    return DashboardReads(runtime, seen.principal)


def page(name: str, request: Request, seen: Visitor, **context: Any) -> Response:
    """A page with what every template needs: the visitor, the session's CSRF token, the current path."""
    return render(name, visitor=seen, csrf=seen.session.csrf, path=request.url.path, **context)


def redirect(path: str) -> Response:
    """See-other to a dashboard page (after a form)."""
    return RedirectResponse(f"{PREFIX}{path}", status_code=303)
