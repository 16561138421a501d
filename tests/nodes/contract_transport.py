"""An httpx transport that checks every request our client sends, and every answer, against LND's swagger."""

from __future__ import annotations

import json
import ssl
from urllib.parse import parse_qsl

import httpx

from tests.contract.swagger import ContractError, require_contract


class ContractCheckingTransport(httpx.AsyncBaseTransport):
    """Real HTTP(S) underneath; contract violations are collected (and raised at the end by the test)."""

    def __init__(self, verify: ssl.SSLContext | bool = True) -> None:
        self.contract = require_contract()
        self.inner = httpx.AsyncHTTPTransport(verify=verify)
        self.violations: list[str] = []
        self.checked = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Validate the request, forward it, validate the answer."""
        path = request.url.path
        body = json.loads(request.content) if request.content else None
        query = dict(parse_qsl(request.url.query.decode()))
        try:
            self.contract.validate_request(request.method, path, body, query)
        except ContractError as exc:
            self.violations.append(str(exc))
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        if not path.startswith("/_sandbox/"):
            try:
                self.contract.validate_response(
                    request.method, path, response.status_code, json.loads(content)
                )
            except (ContractError, ValueError) as exc:
                self.violations.append(str(exc))
        self.checked += 1
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )

    async def aclose(self) -> None:
        """Close the real transport."""
        await self.inner.aclose()
