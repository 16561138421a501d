"""The LND REST simulator as an ASGI application: routing, macaroon checks, LND errors, admin endpoints.

Admin endpoints (not LND's API) live under `/_sandbox/` and need `Authorization: Bearer <sandbox token>`:
`GET /_sandbox/state`, `GET|PUT|POST|DELETE /_sandbox/faults` (a FaultPlan as JSON) and
`POST /_sandbox/clock` with `{"advance_s": seconds}`. Fault injection never touches them.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from app.sandbox.lnd.auth import MACAROON_HEADER, Macaroons, check_macaroon
from app.sandbox.lnd.errors import GrpcCode, LndError
from app.sandbox.lnd.faults import ADMIN_PREFIX, FaultInjector, FaultMiddleware, FaultPlan, TransportRegistry
from app.sandbox.lnd.graph_view import GraphView
from app.sandbox.lnd.handlers import ROUTES, Handler, Handlers, Stream
from app.sandbox.lnd.node import SimulatedNode

JSON = "application/json"


@dataclass(frozen=True)
class Route:
    """One LND endpoint: its path pattern, the permission it needs and its handler."""

    method: str
    pattern: re.Pattern[str]
    permission: str
    rpc: str
    handler: Handler


class LndSimulator:
    """ASGI app serving one SimulatedNode with LND's REST API, macaroons and optional injected faults."""

    def __init__(
        self,
        node: SimulatedNode,
        macaroons: Macaroons | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        self.node = node
        self.macaroons = macaroons or Macaroons.mint()
        self.faults = FaultInjector(faults)
        self.graph = GraphView(node)
        self.sandbox_token = secrets.token_hex(16)
        self.transports = TransportRegistry()
        handlers = Handlers(node, self.graph, self.faults)
        self.handlers = handlers
        self.routes = [
            Route(method, _compile(template), permission, f"/lnrpc.Lightning/{rpc}", getattr(handlers, name))
            for method, template, permission, rpc, name in ROUTES
        ]
        self._asgi = FaultMiddleware(self._dispatch, self.faults, self.transports)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        await self._asgi(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.url.path.startswith(ADMIN_PREFIX):
            response = await self._admin(request)
        else:
            response = await self._lnd(request)
        await response(scope, receive, send)

    async def _lnd(self, request: Request) -> Response:
        path, method = request.url.path, request.method
        matches = [(route, found) for route in self.routes if (found := route.pattern.fullmatch(path))]
        chosen = next(((route, found) for route, found in matches if route.method == method), None)
        try:
            if chosen is None:
                # grpc-gateway's routing errors: 404 Not Found, or 501 for a known path with another method.
                if matches:
                    raise LndError(GrpcCode.UNIMPLEMENTED, "Method Not Allowed")
                raise LndError(GrpcCode.NOT_FOUND, "Not Found")
            route, found = chosen
            self.node.sync()  # settle the forwards simulated time has produced since the last request
            values = request.headers.getlist(MACAROON_HEADER)

            def authorize() -> None:
                check_macaroon(values, self.macaroons.root_key, route.permission, route.rpc)

            body = await route.handler(request, found.groupdict(), authorize)
        except LndError as exc:
            return _json(exc.body(), exc.http_status)
        if isinstance(body, Stream):
            return _stream(body)
        return _json(body, 200)

    def close_streams(self) -> None:
        """End every server stream held open (before the server stops, so it need not wait for them)."""
        self.handlers.closing.set()

    async def _admin(self, request: Request) -> Response:
        expected = f"Bearer {self.sandbox_token}"
        if not hmac.compare_digest(request.headers.get("authorization", ""), expected):
            return _json({"error": "sandbox admin endpoints need Authorization: Bearer <sandbox token>"}, 401)
        action = (request.method, request.url.path)
        try:
            if action == ("GET", "/_sandbox/state"):
                return _json(self.describe(), 200)
            if action == ("GET", "/_sandbox/faults"):
                return _json(self._faults_body(), 200)
            if action in {("PUT", "/_sandbox/faults"), ("POST", "/_sandbox/faults")}:
                self.faults.set_plan(FaultPlan.model_validate_json(await request.body()))
                return _json(self._faults_body(), 200)
            if action == ("DELETE", "/_sandbox/faults"):
                self.faults.set_plan(FaultPlan())
                return _json(self._faults_body(), 200)
            if action == ("POST", "/_sandbox/clock"):
                advance = orjson.loads(await request.body() or b"{}").get("advance_s", 0)
                self.node.clock.advance(float(advance))
                return _json(self.describe(), 200)
        except (ValidationError, ValueError, TypeError, AttributeError) as exc:
            return _json({"error": str(exc)}, 400)
        return _json({"error": f"no sandbox endpoint {request.method} {request.url.path}"}, 404)

    def _faults_body(self) -> dict[str, Any]:
        return {"plan": self.faults.plan.model_dump(mode="json"), "injected": dict(self.faults.injected)}

    def describe(self) -> dict[str, Any]:
        """What the simulator serves, for the admin endpoint and the CLI (clearly labelled as simulated)."""
        node = self.node
        return {
            "label": node.state.label,
            "pubkey": node.pubkey,
            "alias": node.alias,
            "graph_source": node.state.graph_source,
            "seed": node.state.seed,
            "now_s": node.now_s(),
            "channels": len(node.channels),
            "forwards": len(node.log),
            "policy_version": node.policy_version,
        }


def _compile(template: str) -> re.Pattern[str]:
    """`/v1/graph/edge/{chan_id}` to a regex with one named group per path parameter."""
    return re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template))


def _json(body: dict[str, Any] | bytes, status: int) -> Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    # grpc-gateway forwards the gRPC response's content type as metadata, as LND's REST answers show.
    headers = {"Grpc-Metadata-Content-Type": "application/grpc"}
    return Response(content=content, status_code=status, media_type=JSON, headers=headers)


def _stream(stream: Stream) -> StreamingResponse:
    async def lines() -> AsyncIterator[bytes]:
        async for message in stream.messages:
            yield orjson.dumps({"result": message}) + b"\n"

    headers = {"Grpc-Metadata-Content-Type": "application/grpc"}
    return StreamingResponse(lines(), status_code=200, media_type=JSON, headers=headers)


async def _lifespan(receive: Receive, send: Send) -> None:
    """Accept the server's start-up and shutdown: the simulator has nothing to open or close."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
