"""Which node URLs a tenant may register: public addresses only, unless the deployment allows private ones.

Without this check a tenant admin could point "their node" at the API itself, the database or a cloud
metadata endpoint and use the service's error messages as a port scanner (server-side request forgery).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from app.errors import InvalidInputError

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[IpAddress]]]
RESOLVE_TIMEOUT_S = 5.0
DEFAULT_PORTS = {"http": 80, "https": 443}


async def resolve(host: str, port: int) -> list[IpAddress]:
    """Every address `host` resolves to (bounded in time, so a slow DNS cannot hold the request)."""
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=RESOLVE_TIMEOUT_S
    )
    return [plain(ipaddress.ip_address(info[4][0])) for info in infos]


def plain(address: IpAddress) -> IpAddress:
    """An IPv4-mapped IPv6 address (::ffff:127.0.0.1) judged as the IPv4 address it carries."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def this_machine(address: IpAddress) -> bool:
    """Loopback or the unspecified address: a connection to it reaches this host."""
    return address.is_loopback or address.is_unspecified


class NodeUrlPolicy:
    """Refuses node URLs that reach this service, or (by default) anything but the public internet."""

    def __init__(
        self, allow_private: bool, own_ports: Iterable[int] = (), resolver: Resolver = resolve
    ) -> None:
        self.allow_private = allow_private
        self.own_ports = frozenset(own_ports)
        self._resolve = resolver

    async def check(self, url: str, serving_port: int | None = None) -> None:
        """InvalidInputError naming the problem when `url` may not be used for a node."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 443)
        addresses = await self._addresses(host, port)
        own_ports = self.own_ports | ({serving_port} if serving_port else set())
        if port in own_ports and any(this_machine(a) for a in addresses):
            raise InvalidInputError(
                "the node URL points at this service itself", {"field": "url", "port": port}
            )
        if self.allow_private:
            return
        private = sorted({str(a) for a in addresses if not a.is_global})
        if private:
            raise InvalidInputError(
                "the node URL resolves to a private, loopback, link-local or reserved address; "
                "this deployment accepts public addresses only (MCP_ALLOW_PRIVATE_NODE_URLS)",
                {"field": "url", "addresses": private[:4]},
            )

    async def _addresses(self, host: str, port: int) -> list[IpAddress]:
        try:
            return [plain(ipaddress.ip_address(host))]
        except ValueError:
            pass  # a name, not an address literal
        try:
            return await self._resolve(host, port)
        except (OSError, TimeoutError, UnicodeError):
            if self.allow_private:  # private deployments may name hosts only their node network resolves
                return []
            raise InvalidInputError(
                f"the node URL's host {host!r} does not resolve", {"field": "url"}
            ) from None
