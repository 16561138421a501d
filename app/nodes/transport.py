"""HTTP to one node, with timeouts, a rate limit, a circuit breaker and retries for transient failures."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import Any

import httpx
import orjson
from aiolimiter import AsyncLimiter
from pydantic import BaseModel, ConfigDict, Field

from app.errors import (
    InvalidInputError,
    UpstreamError,
    UpstreamInvalidParameterError,
    UpstreamNotFoundError,
    UpstreamTemporaryError,
    UpstreamTlsError,
)
from app.observability.request_context import current_request_id
from app.resilience.circuit import CircuitBreaker, CircuitSettings
from app.resilience.retry import RetrySettings, with_retries

log = logging.getLogger(__name__)
ErrorMapper = Callable[[httpx.Response], UpstreamError]


class TransportSettings(BaseModel):
    """Per-node network behaviour; defaults follow what a routing node tolerates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=15.0, gt=0)
    # One call from its first byte to its last (connect + TLS + read, retries included): a port that accepts
    # and then trickles or never answers cannot hold a sync longer than this, whatever the phase timeouts.
    total_timeout_s: float = Field(default=20.0, gt=0)
    requests_per_second: float = Field(default=10.0, gt=0)
    retry: RetrySettings = RetrySettings()
    circuit: CircuitSettings = CircuitSettings()


def tls_verification(cert_pem: str | None) -> ssl.SSLContext | bool:
    """Trust exactly the node's own certificate when given (LND's self-signed tls.cert), else system CAs."""
    if cert_pem is None:
        return True
    try:
        return ssl.create_default_context(cadata=cert_pem)
    except (ssl.SSLError, ValueError):  # checked at registration; a record from before that check
        raise InvalidInputError(
            "the node's pinned tls certificate cannot be loaded; register it again with its tls.cert"
        ) from None


def tls_failure(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind an httpx connection error, if the handshake is what failed."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def tls_advice(error: ssl.SSLError) -> str:
    """The TLS failure in words an operator can act on."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            "the TLS certificate could not be verified (pin the node's own tls.cert, or check that the "
            f"pinned one is current): {error.verify_message or error.reason}"
        )
    return f"the TLS handshake failed ({error.reason or type(error).__name__}); is the URL's port TLS?"


class NotJsonError(Exception):
    """The port answered HTTP, but not with the JSON a node's API sends."""


class NodeTransport:
    """JSON over HTTP to one node; every failure leaves as an UpstreamError subclass, never an httpx one."""

    def __init__(
        self,
        name: str,
        base_url: str,
        headers: dict[str, str],
        error_mapper: ErrorMapper,
        settings: TransportSettings | None = None,
        verify: ssl.SSLContext | bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        slow_hint: str = "",
    ) -> None:
        self.name = name
        self._slow_hint = slow_hint
        self.settings = settings or TransportSettings()
        self.breaker = CircuitBreaker(name, self.settings.circuit)
        self.requests_made = 0
        self._error_mapper = error_mapper
        self._limiter = AsyncLimiter(self.settings.requests_per_second, 1.0)
        timeout = httpx.Timeout(self.settings.read_timeout_s, connect=self.settings.connect_timeout_s)
        self._client = httpx.AsyncClient(
            base_url=base_url, headers=headers, timeout=timeout, verify=verify, transport=transport
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        retry: bool = True,
        raw: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send one request and decode its JSON (or return the body bytes when `raw`).

        Retried on transient failures only when `retry`: writes pass retry=False, because re-sending a
        write is only safe after reading back whether the first one took effect.
        """

        async def once() -> Any:
            return await self._send(method, path, json, params, raw, headers)

        try:
            async with asyncio.timeout(self.settings.total_timeout_s):
                return await (with_retries(once, self.settings.retry) if retry else once())
        except TimeoutError:  # the whole call, retries included, ran past its deadline
            self.breaker.record_failure()
            raise self._failure(TimeoutError(), method, path) from None

    async def _send(
        self,
        method: str,
        path: str,
        json: Any,
        params: dict[str, Any] | None,
        raw: bool,
        headers: dict[str, str] | None,
    ) -> Any:
        self.breaker.before_call()
        async with self._limiter:
            self.requests_made += 1
            try:
                response = await self._client.request(method, path, json=json, params=params, headers=headers)
            except httpx.TransportError as exc:  # timeouts included: httpx.TimeoutException is one
                self.breaker.record_failure()
                raise self._failure(exc, method, path) from None
        if response.status_code >= 400:
            error = self._error_mapper(response)
            # A refusal about the request (an unknown channel, a bad value) says nothing about the node's
            # health, even when the node answers it with a 500 (LNbits relays LND's "edge not found" so).
            refusal = isinstance(error, (UpstreamNotFoundError, UpstreamInvalidParameterError))
            if isinstance(error, UpstreamTemporaryError) or (response.status_code >= 500 and not refusal):
                self.breaker.record_failure()
            else:
                self.breaker.record_success()  # the node answered sanely; the request was wrong
            raise error
        if raw:
            self.breaker.record_success()
            return response.content
        try:
            decoded = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:  # not a node's API: told like any other unreachable node
            self.breaker.record_failure()
            raise self._failure(NotJsonError("the answer is not JSON"), method, path) from None
        self.breaker.record_success()
        return decoded

    def _failure(self, exc: BaseException, method: str, path: str) -> UpstreamError:
        """What the caller is told: TLS failures as such, everything else only as "unreachable".

        The cause (refused, timed out, reset) goes to the log with the request id: told to a tenant, it
        would let them map the ports of any host the service can reach.
        """
        request_id = current_request_id.get()
        details = {"node": self.name, "request_id": request_id}
        tls = tls_failure(exc)
        if tls is not None:
            log.warning("[%s] node %s: TLS failed on %s %s: %s", request_id, self.name, method, path, tls)
            return UpstreamTlsError(f"node {self.name}: {tls_advice(tls)}", details)
        log.warning(
            "[%s] node %s unreachable on %s %s: %s%s",
            request_id, self.name, method, path, self._cause(exc), f" ({self._slow_hint})" if self._slow_hint else "",
        )  # fmt: skip
        return UpstreamTemporaryError(
            f"node {self.name} is unreachable (the service log has the cause under request id {request_id})",
            details,
        )

    def _cause(self, exc: BaseException) -> str:
        if isinstance(exc, TimeoutError):
            return f"no complete answer within {self.settings.total_timeout_s:g} s"
        if isinstance(exc, httpx.ReadTimeout):
            return f"no answer within {self.settings.read_timeout_s:g} s"
        return f"{type(exc).__name__}: {exc}"

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
