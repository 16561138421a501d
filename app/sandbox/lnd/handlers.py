"""One handler per LND REST endpoint: parse like grpc-gateway, then authenticate, then answer like LND."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from app.sandbox.lnd import encoding
from app.sandbox.lnd.chanpolicy import apply_policy_update, parse_policy_update
from app.sandbox.lnd.clock import NS
from app.sandbox.lnd.errors import GrpcCode, LndError, invalid_argument, unknown
from app.sandbox.lnd.faults import FaultInjector
from app.sandbox.lnd.graph_view import GraphView
from app.sandbox.lnd.node import DAY_S, SimulatedNode
from app.sandbox.lnd.peers import connected_peers
from app.sandbox.lnd.protojson import (
    FORWARDING_HISTORY_REQUEST,
    POLICY_UPDATE_REQUEST,
    go_hex,
    parse_body,
    path_uint64,
    query_bool,
    query_bytes,
    query_uint64,
)

DEFAULT_FORWARDS = 100  # LND's default num_max_events
MAX_FORWARDS = 50_000  # the proto's documented ceiling per response (channeldb.MaxResponseEvents)
CLOSE_FILTERS = {
    "cooperative": "COOPERATIVE_CLOSE", "local_force": "LOCAL_FORCE_CLOSE", "remote_force": "REMOTE_FORCE_CLOSE",
    "breach": "BREACH_CLOSE", "funding_canceled": "FUNDING_CANCELED", "abandoned": "ABANDONED",
}  # fmt: skip


@dataclass(frozen=True)
class Stream:
    """A server-streaming answer: grpc-gateway sends each message as one `{"result": ...}` JSON line."""

    messages: AsyncIterator[dict[str, Any]]


Authorize = Callable[[], None]
Body = dict[str, Any] | bytes | Stream
Handler = Callable[[Request, dict[str, str], Authorize], Awaitable[Body]]
# (method, path template, permission, gRPC method name, handler attribute)
ROUTES: tuple[tuple[str, str, str, str, str], ...] = (
    ("GET", "/v1/getinfo", "info:read", "GetInfo", "get_info"),
    ("GET", "/v1/peers", "peers:read", "ListPeers", "list_peers"),
    ("GET", "/v1/channels", "offchain:read", "ListChannels", "list_channels"),
    ("GET", "/v1/channels/pending", "offchain:read", "PendingChannels", "pending_channels"),
    ("GET", "/v1/channels/closed", "offchain:read", "ClosedChannels", "closed_channels"),
    ("GET", "/v1/balance/channels", "offchain:read", "ChannelBalance", "channel_balance"),
    ("GET", "/v1/balance/blockchain", "onchain:read", "WalletBalance", "wallet_balance"),
    ("GET", "/v1/fees", "offchain:read", "FeeReport", "fee_report"),
    ("GET", "/v1/graph", "info:read", "DescribeGraph", "describe_graph"),
    ("GET", "/v1/graph/edge/{chan_id}", "info:read", "GetChanInfo", "get_chan_info"),
    ("GET", "/v1/graph/node/{pub_key}", "info:read", "GetNodeInfo", "get_node_info"),
    ("POST", "/v1/chanpolicy", "offchain:write", "UpdateChannelPolicy", "update_channel_policy"),
    ("POST", "/v1/switch", "offchain:read", "ForwardingHistory", "forwarding_history"),
    ("GET", "/v1/invoices/subscribe", "invoices:read", "SubscribeInvoices", "subscribe_invoices"),
)


class Handlers:
    """The endpoints, bound to one simulated node, its graph view and its fault injector."""

    def __init__(self, node: SimulatedNode, graph: GraphView, faults: FaultInjector) -> None:
        self.node = node
        self.graph = graph
        self.faults = faults
        self.closing = asyncio.Event()  # set when the server stops, to end the streams it holds open
        self.open_streams = 0

    async def get_info(self, request: Request, params: dict[str, str], authorize: Authorize) -> Body:
        """`GET /v1/getinfo`."""
        authorize()
        return encoding.getinfo(self.node)

    async def list_peers(self, request: Request, params: dict[str, str], authorize: Authorize) -> Body:
        """`GET /v1/peers`: the peers of the active channels (nothing went wrong, so no errors to list)."""
        query_bool(request.query_params, "latest_error")
        authorize()
        return {"peers": [encoding.peer(peer) for peer in connected_peers(self.node)]}

    async def list_channels(self, request: Request, params: dict[str, str], authorize: Authorize) -> Body:
        """`GET /v1/channels` with LND's active/inactive, public/private and peer filters."""
        query = request.query_params
        active_only, inactive_only = query_bool(query, "active_only"), query_bool(query, "inactive_only")
        public_only, private_only = query_bool(query, "public_only"), query_bool(query, "private_only")
        peer, alias_lookup = query_bytes(query, "peer"), query_bool(query, "peer_alias_lookup")
        authorize()
        if active_only and inactive_only:
            raise unknown("either `active_only` or `inactive_only` can be set, but not both")
        if public_only and private_only:
            raise unknown("either `public_only` or `private_only` can be set, but not both")
        if peer and len(peer) != 33:
            raise unknown(f"invalid `peer` key: invalid vertex length of {len(peer)}, want 33")
        channels = []
        for live in self.node.channels.values():
            ch = live.channel
            if peer and bytes.fromhex(ch.remote_pubkey) != peer:
                continue
            skip = (active_only and not ch.active) or (inactive_only and ch.active)
            if skip or (public_only and ch.private) or (private_only and not ch.private):
                continue
            alias = self.node.peer_alias(ch.remote_pubkey) if alias_lookup else ""
            channels.append(encoding.channel(live, alias))
        return {"channels": channels}

    async def pending_channels(self, request: Request, params: dict[str, str], authorize: Authorize) -> Body:
        """`GET /v1/channels/pending`: nothing is pending on the simulated node."""
        query_bool(request.query_params, "include_raw_tx")
        authorize()
        return encoding.pending_channels()

    async def closed_channels(self, request: Request, params: dict[str, str], authorize: Authorize) -> Body:
        """`GET /v1/channels/closed`; with no filter set every closed channel is listed."""
        wanted = {kind for name, kind in CLOSE_FILTERS.items() if query_bool(request.query_params, name)}
        authorize()
        return {
            "channels": [
                encoding.closed_channel(closed)
                for closed in self.node.closed
                if not wanted or closed.close_type in wanted
            ]
        }

    async def channel_balance(self, request: Request, params: dict[str, str], authorize: Authorize) -> Body:
        """`GET /v1/balance/channels`."""
        authorize()
        return encoding.channel_balance(self.node)

    async def wallet_balance(self, request: Request, params: dict[str, str], authorize: Authorize) -> Body:
        """`GET /v1/balance/blockchain` (the default account only)."""
        account = request.query_params.get("account", "")
        min_confs = request.query_params.get("min_confs")
        if min_confs is not None and not min_confs.lstrip("-").isdigit():
            raise invalid_argument(f'strconv.ParseInt: parsing "{min_confs}": invalid syntax')
        authorize()
        if account and account != "default":
            raise unknown(f"account name '{account}' not found")
        return encoding.wallet_balance(self.node)

    async def fee_report(self, request: Request, params: dict[str, str], authorize: Authorize) -> Body:
        """`GET /v1/fees`: our policy per channel and the fees earned over the last day, week and month."""
        authorize()
        now = self.node.now_ns()
        sums = {
            days: self.node.log.fee_sum_msat(now - days * DAY_S * NS, now) // 1_000 for days in (1, 7, 30)
        }
        return {
            "channel_fees": [encoding.channel_fee(live) for live in self.node.channels.values()],
            "day_fee_sum": str(sums[1]),
            "week_fee_sum": str(sums[7]),
            "month_fee_sum": str(sums[30]),
        }

    async def describe_graph(self, request: Request, params: dict[str, str], authorize: Authorize) -> Body:
        """`GET /v1/graph`: the whole graph; rendered in a worker thread when not cached."""
        query_bool(request.query_params, "include_unannounced")  # every sandbox channel is announced
        proof = query_bool(request.query_params, "include_auth_proof")
        authorize()
        if self.graph.is_ready(proof):
            return self.graph.document(proof)
        return await asyncio.to_thread(self.graph.document, proof)

    async def get_chan_info(self, request: Request, params: dict[str, str], authorize: Authorize) -> Body:
        """`GET /v1/graph/edge/{chan_id}` (chan_id 0 with `?chan_point=txid:index` looks up by outpoint)."""
        chan_id = path_uint64(params["chan_id"], "chan_id")
        chan_point = request.query_params.get("chan_point", "")
        proof = query_bool(request.query_params, "include_auth_proof")
        authorize()
        if chan_id:
            edge = self.graph.find_edge(chan_id)
        elif chan_point:
            txid, _, index = chan_point.partition(":")
            if len(txid) != 64 or not index.isdigit():
                raise unknown(f"invalid outpoint: {chan_point}")
            edge = self.graph.find_edge_by_point(f"{txid.lower()}:{int(index)}")
        else:
            raise unknown("specify either chan_id or chan_point")
        if edge is None:
            raise unknown("edge not found")
        return self.graph.edge(edge, proof)

    async def get_node_info(self, request: Request, params: dict[str, str], authorize: Authorize) -> Body:
        """`GET /v1/graph/node/{pub_key}`."""
        include_channels = query_bool(request.query_params, "include_channels")
        proof = query_bool(request.query_params, "include_auth_proof")
        authorize()
        pub_key = params["pub_key"]
        raw = go_hex(pub_key)
        if len(raw) != 33:
            raise unknown(f"invalid vertex length of {len(raw)}, want 33")
        index = self.node.graph.index.get(pub_key.lower())
        if index is None:
            raise LndError(GrpcCode.NOT_FOUND, "unable to find node")
        return self.graph.node_info(index, include_channels, proof)

    async def update_channel_policy(
        self, request: Request, params: dict[str, str], authorize: Authorize
    ) -> Body:
        """`POST /v1/chanpolicy`: LND's validations, per-channel failures, fault verdicts."""
        body = parse_body(await request.body(), POLICY_UPDATE_REQUEST)
        authorize()
        update = parse_policy_update(body, self.node.accept_positive_inbound_fees)
        failed = apply_policy_update(self.node, update, self.faults.policy_verdict)
        return {"failed_updates": failed}

    async def subscribe_invoices(
        self, request: Request, params: dict[str, str], authorize: Authorize
    ) -> Body:
        """`GET /v1/invoices/subscribe`: held open until the server stops; no invoice is ever added.

        Answering 404 instead would make LNbits' invoice listener reconnect in a tight loop.
        """
        query_uint64(request.query_params, "add_index")
        query_uint64(request.query_params, "settle_index")
        authorize()
        return Stream(self._until_closing())

    async def _until_closing(self) -> AsyncIterator[dict[str, Any]]:
        """Count the stream while it is open; end it, without a message, when the server stops."""
        self.open_streams += 1
        try:
            await self.closing.wait()
        finally:
            self.open_streams -= 1
        return
        yield  # makes this an async generator

    async def forwarding_history(
        self, request: Request, params: dict[str, str], authorize: Authorize
    ) -> Body:
        """`POST /v1/switch`: LND's time range, index offset and channel filters; at most 50,000 a page."""
        body = parse_body(await request.body(), FORWARDING_HISTORY_REQUEST)
        authorize()
        now_ns = self.node.now_ns()
        end_ns = body["end_time"] * NS if body.get("end_time") else now_ns  # LND: unset means now
        events, last = self.node.log.query(
            body.get("start_time", 0) * NS,
            end_ns,
            body.get("index_offset", 0),
            min(body.get("num_max_events") or DEFAULT_FORWARDS, MAX_FORWARDS),
            frozenset(str(chan) for chan in body.get("incoming_chan_ids", [])),
            frozenset(str(chan) for chan in body.get("outgoing_chan_ids", [])),
        )
        alias = self.node.alias_of_channel if body.get("peer_alias_lookup") else None

        def render() -> dict[str, Any]:
            rendered = [
                encoding.forward(e, alias(e.chan_id_in), alias(e.chan_id_out))
                if alias
                else encoding.forward(e)
                for e in events
            ]
            return {"forwarding_events": rendered, "last_offset_index": last}

        return await asyncio.to_thread(render) if len(events) > 5_000 else render()
