"""The NodeClient interface every backend implements, returning typed domain models."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from app.domain.capabilities import NodeCapabilities
from app.domain.channel import Channel
from app.domain.forwarding import ForwardingEvent
from app.domain.node import NodeInfo
from app.domain.policy import ChannelPolicy
from app.domain.updates import PolicyUpdateResult
from app.graph.model import ChannelGraph
from app.nodes.transport import NodeTransport
from app.resilience.circuit import CircuitState


class NodeClient(ABC):
    """Read a node's state and write one channel's policy; backends say what they can via `capabilities`."""

    capabilities: ClassVar[NodeCapabilities]
    backend: ClassVar[str]

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
    async def get_channel_policy(self, channel: Channel) -> ChannelPolicy:
        """Read one channel's current policy back from the node."""

    @abstractmethod
    async def update_channel_policy(self, channel: Channel, policy: ChannelPolicy) -> PolicyUpdateResult:
        """Send one channel's complete policy once (never retried blindly); the result is what the node said."""

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
