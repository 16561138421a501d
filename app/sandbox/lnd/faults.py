"""Fault injection for the LND simulator: latency, errors, hangs, resets and dishonest policy updates.

Every decision comes from one seeded random stream, drawn in a fixed order, so a test that sends the same
requests sees the same faults. Transport faults (latency, error, timeout, reset) can be limited to some
paths; `failed_updates_rate` and `silent_drop_rate` act per channel inside `POST /v1/chanpolicy`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import random
import socket
import struct
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.sandbox.lnd.chanpolicy import Verdict
from app.sandbox.lnd.errors import GrpcCode, LndError, unknown

ADMIN_PREFIX = "/_sandbox/"


class FaultPlan(BaseModel):
    """What to break and how often (rates are probabilities per request, or per channel for updates)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 0
    paths: tuple[str, ...] = Field(default=(), description="fnmatch patterns; empty: every LND path")
    latency_ms: int = Field(default=0, ge=0, le=600_000)
    latency_jitter_ms: int = Field(default=0, ge=0, le=600_000)
    latency_rate: float = Field(default=1.0, ge=0.0, le=1.0, description="share of requests delayed")
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    error_status: Literal[500, 503] = 503
    timeout_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    hang_s: float = Field(default=30.0, gt=0.0, le=3_600.0, description="how long a timeout fault hangs")
    reset_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    failed_updates_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    silent_drop_rate: float = Field(default=0.0, ge=0.0, le=1.0)


@dataclass(frozen=True)
class RequestFault:
    """The fault chosen for one request: a delay, then at most one of error, timeout or reset."""

    latency_s: float = 0.0
    kind: Literal["error", "timeout", "reset"] | None = None


class FaultInjector:
    """The current plan, its random stream and a tally of what was injected."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self.plan = plan or FaultPlan()
        self._rng = random.Random(self.plan.seed)
        self.injected: Counter[str] = Counter()
        self.requests_seen = 0  # requests the transport faults were drawn for (paths matching the plan)

    def set_plan(self, plan: FaultPlan) -> None:
        """Replace the plan and restart its random stream (and the tally)."""
        self.plan = plan
        self._rng = random.Random(plan.seed)
        self.injected = Counter()
        self.requests_seen = 0

    def applies_to(self, path: str) -> bool:
        """Whether transport faults target `path`."""
        return not self.plan.paths or any(fnmatch.fnmatchcase(path, pattern) for pattern in self.plan.paths)

    def request_fault(self, path: str) -> RequestFault:
        """Decide the transport fault of one request (four draws, always, so rates do not shift streams)."""
        if not self.applies_to(path):
            return RequestFault()
        plan = self.plan
        self.requests_seen += 1
        jitter, error, timeout, reset = (self._rng.random() for _ in range(4))
        latency_s = (plan.latency_ms + jitter * plan.latency_jitter_ms) / 1_000
        # A fifth draw only when asked for: plans that delay every request keep their random streams.
        if plan.latency_rate < 1.0 and self._rng.random() >= plan.latency_rate:
            latency_s = 0.0
        kind: Literal["error", "timeout", "reset"] | None = None
        if reset < plan.reset_rate:
            kind = "reset"
        elif timeout < plan.timeout_rate:
            kind = "timeout"
        elif error < plan.error_rate:
            kind = "error"
        if kind:
            self.injected[kind] += 1
        if latency_s:
            self.injected["latency"] += 1
        return RequestFault(latency_s, kind)

    def policy_verdict(self, chan_id: str) -> Verdict:
        """Per channel of a policy update: apply, report as failed, or claim success without applying."""
        fail, drop = self._rng.random(), self._rng.random()
        if fail < self.plan.failed_updates_rate:
            self.injected["failed_update"] += 1
            return "fail"
        if drop < self.plan.silent_drop_rate:
            self.injected["silent_drop"] += 1
            return "drop"
        return "apply"


class TransportRegistry:
    """Open connections by client address, so a reset fault can abort the right one."""

    def __init__(self) -> None:
        self._by_peer: dict[tuple[str, int], asyncio.BaseTransport] = {}

    def add(self, transport: asyncio.BaseTransport) -> None:
        """Remember a new connection."""
        peer = transport.get_extra_info("peername")
        if peer:
            self._by_peer[(str(peer[0]), int(peer[1]))] = transport

    def discard(self, transport: asyncio.BaseTransport) -> None:
        """Forget a closed connection."""
        peer = transport.get_extra_info("peername")
        if peer and self._by_peer.get((str(peer[0]), int(peer[1]))) is transport:
            del self._by_peer[(str(peer[0]), int(peer[1]))]

    def find(self, client: Any) -> asyncio.BaseTransport | None:
        """The connection of an ASGI scope's `client` (host, port), if known."""
        if not client:
            return None
        return self._by_peer.get((str(client[0]), int(client[1])))


class FaultMiddleware:
    """ASGI middleware that injects the plan's transport faults before the simulator answers."""

    def __init__(self, app: ASGIApp, injector: FaultInjector, transports: TransportRegistry) -> None:
        self.app = app
        self.injector = injector
        self.transports = transports

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Delay, fail, hang or reset matching requests; pass everything else through."""
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        fault = self.injector.request_fault(path)
        if fault.latency_s:
            await asyncio.sleep(fault.latency_s)
        if fault.kind == "reset":
            await self._reset(scope, receive, send)
            return
        if fault.kind == "timeout":
            buffered = await _hang(receive, self.injector.plan.hang_s)
            if buffered is None:
                return  # the client gave up, as intended
            receive = _replay(buffered, receive)
        if fault.kind == "error":
            await _send_error(send, self.injector.plan.error_status)
            return
        await self.app(scope, receive, send)

    async def _reset(self, scope: Scope, receive: Receive, send: Send) -> None:
        transport = self.transports.find(scope.get("client"))
        if transport is not None:
            _abort(transport)
            # Wait until the server notices, so it does not answer "500" on the dead connection.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_until_disconnect(receive), 2.0)
            return
        # Without access to the socket (another ASGI server): start an answer and die half-way.
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1024")]})
        raise ConnectionAbortedError("sandbox fault injection: connection reset")


def _abort(transport: asyncio.BaseTransport) -> None:
    """Close with a TCP RST (SO_LINGER 0) rather than an orderly FIN, like a crashed peer."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if isinstance(transport, asyncio.Transport | asyncio.WriteTransport):
        transport.abort()
    else:
        transport.close()


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _hang(receive: Receive, seconds: float) -> list[Message] | None:
    """Sit on the request; None when the client disconnects first, else the messages to replay."""
    buffered: list[Message] = []

    async def until_gone() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            buffered.append(message)

    try:
        await asyncio.wait_for(until_gone(), seconds)
    except TimeoutError:
        return buffered
    return None


def _replay(buffered: list[Message], receive: Receive) -> Receive:
    pending = list(buffered)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def _injected_error(status: int) -> LndError:
    """The LND error whose HTTP status grpc-gateway maps to `status` (503 or 500)."""
    if status == 503:
        return LndError(GrpcCode.UNAVAILABLE, "sandbox fault injection: service unavailable")
    return unknown("sandbox fault injection: internal error")


async def _send_error(send: Send, status: int) -> None:
    error = _injected_error(status)
    body = orjson.dumps(error.body())
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": error.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
