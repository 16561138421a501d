"""Request ids: accept a sane `X-Request-ID` or make one, echo it on every response (errors included)."""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
ACCEPTED = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # anything else could smuggle text into logs


class RequestIdMiddleware:
    """Pure ASGI middleware (no response buffering), so streaming and error responses keep the header."""

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

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((HEADER.encode(), request_id.encode()))
            await send(message)

        await self.app(scope, receive, send_with_id)
