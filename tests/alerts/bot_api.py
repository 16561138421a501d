"""A local stand-in of the Telegram Bot API over HTTP: records `sendMessage` calls and fails when told to."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.api.conftest import serve


@dataclass
class Sent:
    """One sendMessage request as the stand-in received it."""

    token: str
    body: dict[str, Any]


@dataclass
class BotApi:
    """What the stand-in received, and the failures queued for its next answers."""

    url: str = ""
    requests: list[Sent] = field(default_factory=list)
    failures: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    @property
    def delivered(self) -> list[Sent]:
        """Requests answered 200 (the messages a chat would show)."""
        return [sent for sent in self.requests if sent.body.get("_status") == 200]

    def fail_next(self, status: int, retry_after: int | None = None) -> None:
        """Answer the next sendMessage with `status` (429 with `retry_after` seconds when given)."""
        payload: dict[str, Any] = {"ok": False, "error_code": status, "description": f"stand-in {status}"}
        if retry_after is not None:
            payload["parameters"] = {"retry_after": retry_after}
        self.failures.append((status, payload))


def bot_app(state: BotApi) -> Starlette:
    """The Bot API's sendMessage at /bot<token>/sendMessage, as the real one answers it."""

    async def send_message(request: Request) -> JSONResponse:
        token = request.path_params["token"]
        body = await request.json()
        status, payload = state.failures.pop(0) if state.failures else (200, {})
        state.requests.append(Sent(token=token, body={**body, "_status": status}))
        if status != 200:
            return JSONResponse(payload, status_code=status)
        message = {
            "message_id": len(state.requests),
            "chat": {"id": body.get("chat_id")},
            "text": body["text"],
        }
        return JSONResponse({"ok": True, "result": message})

    return Starlette(routes=[Route("/bot{token}/sendMessage", send_message, methods=["POST"])])


@contextlib.asynccontextmanager
async def running_bot_api() -> AsyncIterator[BotApi]:
    """The stand-in under uvicorn on a port the OS picks."""
    state = BotApi()
    server, task, url = await serve(bot_app(state))
    state.url = url
    try:
        yield state
    finally:
        server.should_exit = True
        await task


def refused_url() -> str:
    """A loopback URL nothing listens on (a port the OS gave us, then closed): connection refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
