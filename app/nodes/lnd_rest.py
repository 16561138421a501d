"""LND REST backend: macaroon header, pinned TLS, int64 strings parsed at the edge, paged forwarding history."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import Any, ClassVar

import httpx
import orjson

from app.domain.capabilities import LND_CAPABILITIES, NodeCapabilities
from app.domain.channel import Channel, ChannelRef
from app.domain.forwarding import ForwardingEvent
from app.domain.node import NodeInfo
from app.domain.policy import ChannelPolicy, PolicyReading
from app.domain.updates import PolicyUpdateResult, UpdateOutcome
from app.errors import UpstreamError, UpstreamInvalidParameterError, UpstreamNotFoundError
from app.graph.loader import parse_graph
from app.graph.model import ChannelGraph
from app.nodes import lnd_encoding as enc
from app.nodes.base import NodeClient, decodes
from app.nodes.lnd_errors import lnd_error
from app.nodes.transport import NodeTransport, TransportSettings, tls_verification

MAX_EVENTS_PER_CALL = 50_000  # LND's cap for one ForwardingHistory call


class LndRestClient(NodeClient):
    """One LND node over its REST API."""

    capabilities: ClassVar[NodeCapabilities] = LND_CAPABILITIES
    backend: ClassVar[str] = "lnd"

    def __init__(
        self,
        name: str,
        url: str,
        macaroon: bytes,
        tls_cert_pem: str | None = None,
        settings: TransportSettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        page_size: int = MAX_EVENTS_PER_CALL,
    ) -> None:
        self.page_size = min(page_size, MAX_EVENTS_PER_CALL)
        self._pubkey: str | None = None
        http = NodeTransport(
            name,
            url,
            headers={"Grpc-Metadata-macaroon": macaroon.hex()},
            error_mapper=functools.partial(lnd_error, node=name),
            settings=settings,
            verify=tls_verification(tls_cert_pem),
            transport=transport,
        )
        super().__init__(name, http)

    @decodes
    async def get_info(self) -> NodeInfo:
        """`GET /v1/getinfo`."""
        info = enc.node_info(await self._http.request("GET", "/v1/getinfo"))
        self._pubkey = info.pubkey
        return info

    async def our_pubkey(self) -> str:
        """Our identity pubkey, fetched once."""
        if self._pubkey is None:
            await self.get_info()
        assert self._pubkey is not None
        return self._pubkey

    @decodes
    async def list_channels(self, graph: ChannelGraph | None = None) -> list[Channel]:
        """`/v1/channels` + `/v1/fees`, with time lock and HTLC limits from our side of each graph edge."""
        raw_channels, fee_report = await asyncio.gather(
            self._http.request("GET", "/v1/channels"), self._http.request("GET", "/v1/fees")
        )
        fees = {str(entry.get("chan_id")): entry for entry in fee_report.get("channel_fees", [])}
        pubkey = await self.our_pubkey()
        node = graph.index.get(pubkey) if graph is not None else None
        own_edges = _own_edges(graph, node) if graph is not None and node is not None else {}
        channels = []
        for data in raw_channels.get("channels", []):
            chan_id = str(data.get("chan_id"))
            policy, updated_s = None, None
            if graph is not None and node is not None and chan_id in own_edges:
                edge = own_edges[chan_id]
                policy = graph.policy_of(edge, node)
                updated_s = graph.announced_by(edge, node).updated_at(edge)
            if policy is None:
                policy, updated_s = await self._edge_policy(chan_id, pubkey)
            merged = enc.with_fee_report(policy, fees.get(chan_id), f"fees {chan_id}")
            channels.append(enc.channel(data, merged).model_copy(update={"policy_updated_s": updated_s}))
        return channels

    async def _edge_policy(self, chan_id: str, pubkey: str) -> tuple[ChannelPolicy, int | None]:
        """Our policy on one channel and when it was last announced."""
        edge = await self._http.request("GET", f"/v1/graph/edge/{chan_id}")
        found = enc.own_policy(edge, pubkey)
        if found is None:
            raise UpstreamNotFoundError(
                f"LND {self.name} has no policy of ours for channel {chan_id}", {"chan_id": chan_id}
            )
        return found

    @decodes
    async def forwarding_history(self, start_s: int, end_s: int) -> list[ForwardingEvent]:
        """`POST /v1/switch`, paged with index_offset until a short page says the history is exhausted."""
        events: list[ForwardingEvent] = []
        offset = 0
        while True:
            body = {
                "start_time": str(start_s),
                "end_time": str(end_s),
                "index_offset": offset,
                "num_max_events": self.page_size,
            }
            page = await self._http.request("POST", "/v1/switch", json=body)
            batch = page.get("forwarding_events", [])
            # Decoded in a worker thread: tens of thousands of events on a large node would hold the event loop
            # (and every request this process serves) for a quarter of a second.
            events.extend(await asyncio.to_thread(_forwarding_events, batch))
            next_offset = enc.as_int(page, "last_offset_index", "switch page", offset)
            if len(batch) < self.page_size or next_offset <= offset:
                return events
            offset = next_offset

    @decodes
    async def describe_graph(self) -> ChannelGraph:
        """`GET /v1/graph`, decoded and parsed in a worker thread (tens of MB on mainnet)."""
        raw: bytes = await self._http.request("GET", "/v1/graph", raw=True)
        source = f"lnd:{self.name}"
        return await asyncio.to_thread(lambda: parse_graph(orjson.loads(raw), source=source))

    @decodes
    async def get_channel_policy(self, channel: ChannelRef) -> ChannelPolicy:
        """Our side of `GET /v1/graph/edge/{chan_id}`, which LND updates as soon as a policy is set."""
        policy, _ = await self._edge_policy(channel.chan_id, await self.our_pubkey())
        return policy

    @decodes
    async def read_policies(self, channels: Sequence[ChannelRef]) -> dict[str, PolicyReading]:
        """Our policy on every given channel in two calls, whatever their number (private ones aside).

        `GET /v1/graph/node/{our pubkey}?include_channels=true` carries each of our announced edges with
        the time lock, HTLC limits and last update LND keeps (it updates its own edges as soon as a policy
        is set); `GET /v1/fees` overlays the fees, as in `list_channels`. LND leaves unannounced (private)
        channels out of a node's info, so those are read one by one from `GET /v1/graph/edge/{chan_id}`.
        """
        pubkey = await self.our_pubkey()
        node, fee_report = await asyncio.gather(
            self._http.request("GET", f"/v1/graph/node/{pubkey}", params={"include_channels": "true"}),
            self._http.request("GET", "/v1/fees"),
        )
        fees = {str(entry.get("chan_id")): entry for entry in fee_report.get("channel_fees", [])}
        wanted = {channel.chan_id for channel in channels}
        found: dict[str, tuple[ChannelPolicy, int | None]] = {}
        for edge in node.get("channels", []):
            chan_id = str(edge.get("channel_id"))
            if chan_id in wanted and (own := enc.own_policy(edge, pubkey)) is not None:
                found[chan_id] = own
        for chan_id in sorted((wanted - set(found)) & set(fees)):  # ours (in the fee report), not announced
            try:
                found[chan_id] = await self._edge_policy(chan_id, pubkey)
            except UpstreamNotFoundError:
                continue
        return {
            chan_id: PolicyReading(
                policy=enc.with_fee_report(policy, fees.get(chan_id), f"fees {chan_id}"), updated_s=updated_s
            )
            for chan_id, (policy, updated_s) in found.items()
        }

    @decodes
    async def update_channel_policy(
        self, channel: ChannelRef, policy: ChannelPolicy, current: ChannelPolicy | None = None
    ) -> PolicyUpdateResult:
        """`POST /v1/chanpolicy` for one channel, sent once; per-channel failures come from failed_updates."""
        if current is None and isinstance(channel, Channel):
            current = channel.local_policy
        body = enc.policy_update_request(channel, policy, current)
        try:
            answer: dict[str, Any] = await self._http.request(
                "POST", "/v1/chanpolicy", json=body, retry=False
            )
        except (UpstreamInvalidParameterError, UpstreamNotFoundError) as exc:
            return PolicyUpdateResult(
                chan_id=channel.chan_id, outcome=UpdateOutcome.FAILED, error=exc.message
            )
        except UpstreamError as exc:
            if type(exc) is not UpstreamError:
                raise  # auth, temporary or unavailable: the caller decides (read back before any re-send)
            # LND answers most validation failures with gRPC code 2 (Unknown): a refusal of this update.
            return PolicyUpdateResult(
                chan_id=channel.chan_id, outcome=UpdateOutcome.FAILED, error=exc.message
            )
        for failure in answer.get("failed_updates", []) if answer else []:
            outpoint = failure.get("outpoint") or {}
            if (outpoint.get("txid_str"), outpoint.get("output_index")) == (
                channel.funding_txid,
                channel.output_index,
            ):
                return PolicyUpdateResult(
                    chan_id=channel.chan_id,
                    outcome=UpdateOutcome.FAILED,
                    error=str(failure.get("update_error", ""))[:300],
                    failure_reason=str(failure.get("reason", "")),
                )
        return PolicyUpdateResult(chan_id=channel.chan_id, outcome=UpdateOutcome.ACCEPTED)


def _own_edges(graph: ChannelGraph, node: int) -> dict[str, int]:
    """Channel id to edge id for the node's own channels (not a map over the whole graph per call)."""
    return {graph.channel_ids[edge]: edge for edge in graph.edges_of(node).tolist()}


def _forwarding_events(batch: list[dict[str, Any]]) -> list[ForwardingEvent]:
    """One page of `POST /v1/switch` decoded (in a worker thread)."""
    return [enc.forwarding_event(item) for item in batch]
