"""The NodeClient interface every backend implements, returning typed domain models."""

from __future__ import annotations

import functools
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, ClassVar, Concatenate, ParamSpec, TypeVar

from app.domain.capabilities import NodeCapabilities
from app.domain.channel import Channel, ChannelRef
from app.domain.forwarding import ForwardingEvent
from app.domain.node import NodeInfo
from app.domain.policy import ChannelPolicy, PolicyReading
from app.domain.updates import PolicyUpdateResult
from app.errors import UpstreamError, UpstreamNotFoundError
from app.graph.model import ChannelGraph
from app.nodes.transport import NodeTransport
from app.observability.request_context import current_request_id
from app.resilience.circuit import CircuitState

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
ClientT = TypeVar("ClientT", bound="NodeClient")
# What decoding an unexpected answer raises: pydantic's ValidationError is a ValueError.
DECODING_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError)


def decodes(
    method: Callable[Concatenate[ClientT, P], Awaitable[R]],
) -> Callable[Concatenate[ClientT, P], Coroutine[Any, Any, R]]:
    """Translate a decoding failure of a node's answer into UpstreamError at the edge (never a 500)."""

    async def wrapper(self: ClientT, /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the client method; an answer we cannot read is the node's error, not ours."""
        try:
            return await method(self, *args, **kwargs)
        except DECODING_ERRORS as exc:
            # The cause may quote the answer: logged, never told (a URL aimed at some other JSON service
            # would otherwise read that service's content back through our error messages).
            request_id = current_request_id.get()
            log.warning("[%s] %s node %s: unreadable answer to %s: %s: %s", request_id, self.backend,
                        self.name, method.__name__, type(exc).__name__, str(exc)[:500])  # fmt: skip
            raise UpstreamError(
                f"{self.backend} node {self.name} sent an answer to {method.__name__} that could not be read "
                f"(the service log has the cause under request id {request_id})",
                {"node": self.name, "operation": method.__name__, "request_id": request_id},
            ) from None

    functools.update_wrapper(wrapper, method)
    return wrapper


class NodeClient(ABC):
    """Read a node's state and write one channel's policy; backends say what they can via `capabilities`."""

    capabilities: ClassVar[NodeCapabilities]
    backend: ClassVar[str]
    # Whether `list_channels` reads every policy fresh from the node (else it may use a cached graph).
    listing_is_fresh: ClassVar[bool] = False

    @abstractmethod
    async def get_info(self) -> NodeInfo:
        """Identity, chain height and channel counts."""

    @abstractmethod
    async def list_channels(self, graph: ChannelGraph | None = None) -> list[Channel]:
        """Open channels with balances and our complete current policy merged in.

        A backend may use an already fetched `graph` to find our policies instead of asking per channel.
        """

    @abstractmethod
    async def forwarding_history(self, start_s: int, end_s: int) -> list[ForwardingEvent]:
        """Every settled forward in [start_s, end_s), all pages; CapabilityError when unsupported."""

    @abstractmethod
    async def describe_graph(self) -> ChannelGraph:
        """The public channel graph as the node sees it."""

    @abstractmethod
    async def get_channel_policy(self, channel: ChannelRef) -> ChannelPolicy:
        """Read one channel's current policy back from the node."""

    @abstractmethod
    async def update_channel_policy(
        self, channel: ChannelRef, policy: ChannelPolicy, current: ChannelPolicy | None = None
    ) -> PolicyUpdateResult:
        """Send one channel's complete policy once (never retried blindly); the result is what the node said.

        `current` is the policy the node has now, when known: a backend may leave out what does not change.
        """

    async def read_policies(self, channels: Sequence[ChannelRef]) -> dict[str, PolicyReading]:
        """The current policy of each channel, by chan_id; a channel the node no longer has is left out.

        This default reads one channel at a time; a backend that can read in bulk overrides it.
        """
        readings: dict[str, PolicyReading] = {}
        for channel in channels:
            try:
                readings[channel.chan_id] = PolicyReading(policy=await self.get_channel_policy(channel))
            except UpstreamNotFoundError:
                continue
        return readings

    def __init__(self, name: str, http: NodeTransport) -> None:
        self.name = name
        self._http = http

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"  # never a credential

    @property
    def transport(self) -> NodeTransport:
        """The node's transport (breaker, settings) for diagnostics."""
        return self._http

    @property
    def circuit_state(self) -> CircuitState:
        """State of this node's circuit breaker, for metrics and readiness."""
        return self._http.breaker.state

    @property
    def requests_made(self) -> int:
        """HTTP requests sent so far (for benchmarks and diagnostics)."""
        return self._http.requests_made

    async def aclose(self) -> None:
        """Release connections."""
        await self._http.aclose()
