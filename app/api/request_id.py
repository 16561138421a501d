"""Request ids: accept a sane `X-Request-ID` or make one, echo it on every response (errors included)."""

from __future__ import annotations

import logging
import re
import uuid

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import error_body
from app.observability.request_context import current_request_id

log = logging.getLogger(__name__)

HEADER = "x-request-id"
ACCEPTED = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # anything else could smuggle text into logs


class RequestIdMiddleware:
    """Pure ASGI middleware (no response buffering), so streaming and error responses keep the header.

    It is also where a bug ends: an unhandled exception is logged once, with the request id, and answered
    with a 500 that carries the id too. Left to Starlette, the 500 was sent outside this middleware
    (no id) and the exception logged twice, by our handler and again by the server.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Attach the id to the scope state and to the response headers."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER.encode(), b"").decode("latin-1")
        request_id = given if ACCEPTED.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = current_request_id.set(request_id)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", []).append((HEADER.encode(), request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("[%s] unhandled error on %s %s", request_id, scope["method"], scope["path"])
            if started:  # the status line is out: all that is left is to end the connection
                raise
            body = orjson.dumps(
                error_body(
                    "internal_error", "internal error; see the service log", {"request_id": request_id}
                )
            )
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send_with_id({"type": "http.response.start", "status": 500, "headers": headers})
            await send_with_id({"type": "http.response.body", "body": body})
        finally:
            current_request_id.reset(token)
