"""HTTP to one node, with timeouts, a rate limit, a circuit breaker and retries for transient failures."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import httpx
import orjson
from aiolimiter import AsyncLimiter
from pydantic import BaseModel, ConfigDict, Field

from app.errors import (
    UpstreamError,
    UpstreamInvalidParameterError,
    UpstreamNotFoundError,
    UpstreamTemporaryError,
)
from app.resilience.circuit import CircuitBreaker, CircuitSettings
from app.resilience.retry import RetrySettings, with_retries

ErrorMapper = Callable[[httpx.Response], UpstreamError]


class TransportSettings(BaseModel):
    """Per-node network behaviour; defaults follow what a routing node tolerates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=15.0, gt=0)
    requests_per_second: float = Field(default=10.0, gt=0)
    retry: RetrySettings = RetrySettings()
    circuit: CircuitSettings = CircuitSettings()


def tls_verification(cert_pem: str | None) -> ssl.SSLContext | bool:
    """Trust exactly the node's own certificate when given (LND's self-signed tls.cert), else system CAs."""
    if cert_pem is None:
        return True
    return ssl.create_default_context(cadata=cert_pem)


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

        if not retry:
            return await once()
        return await with_retries(once, self.settings.retry)

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
                raise UpstreamTemporaryError(
                    self._failure_text(exc, method, path), {"node": self.name}
                ) from None
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
        self.breaker.record_success()
        if raw:
            return response.content
        try:
            return orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            raise UpstreamError(
                f"node {self.name} answered {method} {path} with invalid JSON", {"node": self.name}
            ) from None

    def _failure_text(self, exc: httpx.TransportError, method: str, path: str) -> str:
        """What went wrong on the wire, with the backend's hint when the node was too slow."""
        if isinstance(exc, httpx.TimeoutException):
            text = f"node {self.name} timed out on {method} {path} ({type(exc).__name__})"
            if isinstance(exc, httpx.ReadTimeout):
                text += f": no answer within {self.settings.read_timeout_s:g} s"
                text += f"; {self._slow_hint}" if self._slow_hint else ""
            return text
        return f"node {self.name} could not be reached on {method} {path} ({type(exc).__name__})"

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
