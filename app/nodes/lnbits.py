"""LNbits backend on its node API (`/node/api/v1`): fees only, no time lock, HTLC limits, inbound fees or history.

Caveat found in LNbits' own LND node class: its fee update also sends `time_lock_delta: 80`, so on an
LND funding source every fee change through LNbits resets the time lock to 80. We cannot prevent that
from here; the capability flags say LNbits cannot *set* the time lock, and operators are warned in the README.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import httpx
import orjson

from app.domain.capabilities import NodeCapabilities
from app.domain.channel import Channel, ChannelRef
from app.domain.forwarding import ForwardingEvent
from app.domain.node import NodeInfo
from app.domain.policy import ChannelPolicy
from app.domain.updates import PolicyUpdateResult, UpdateOutcome
from app.errors import (
    CapabilityError,
    UpstreamAuthError,
    UpstreamError,
    UpstreamInvalidParameterError,
    UpstreamNotFoundError,
    UpstreamTemporaryError,
    UpstreamUnavailableError,
)
from app.graph.model import ChannelGraph
from app.nodes.base import NodeClient, decodes
from app.nodes.lnd_errors import retry_after_seconds
from app.nodes.transport import NodeTransport, TransportSettings

LNBITS_CAPABILITIES = NodeCapabilities(
    forwarding_history=False, channel_graph=False, inbound_fees=False, htlc_limits=False, time_lock=False
)
NODE_API = "/node/api/v1"
OPEN_STATES = ("active", "inactive")


def lnbits_error(response: httpx.Response, node: str) -> UpstreamError:
    """Map LNbits answers ({"detail": ...}) to domain errors with the operator's next step."""
    status = response.status_code
    try:
        body = orjson.loads(response.content)
        detail = str(body.get("detail", "")) if isinstance(body, dict) else ""
    except orjson.JSONDecodeError:
        detail = response.text[:200]
    details = {"node": node, "http_status": status}
    text = f"LNbits {node} answered HTTP {status}" + (f": {detail[:200]}" if detail else "")
    if status == 501:
        return UpstreamUnavailableError(
            f"{text}. The node API needs an LND or Core Lightning funding source.", details, status
        )
    if status == 503 and "not enabled" in detail.lower():
        return UpstreamUnavailableError(
            f"{text}. Set LNBITS_NODE_UI=true on the LNbits server.", details, status
        )
    if status in (401, 403):
        return UpstreamAuthError(
            f"{text}. Fee updates need the Bearer token of an LNbits super user; reads need an admin user.",
            details,
            status,
        )
    if status == 429 or status in (502, 503, 504):
        return UpstreamTemporaryError(text, details, status, retry_after_seconds(response))
    if status == 404:
        return UpstreamNotFoundError(text, details, status)
    if status in (400, 422):
        return UpstreamInvalidParameterError(text, details, status)
    return UpstreamError(text, details, status)


def scid_to_uint64(short_id: str) -> str:
    """Core Lightning's `BLOCKxTXxOUT` (LNbits passes it through) as LND's uint64 decimal string."""
    if "x" not in short_id:
        return short_id
    block, tx, out = (int(part) for part in short_id.split("x"))
    return str(block << 40 | tx << 16 | out)


class LnbitsClient(NodeClient):
    """A node behind LNbits' node management API."""

    capabilities: ClassVar[NodeCapabilities] = LNBITS_CAPABILITIES
    backend: ClassVar[str] = "lnbits"
    listing_is_fresh: ClassVar[bool] = True  # fees come from one `GET /channels/{id}` per channel

    def __init__(
        self,
        name: str,
        url: str,
        admin_token: str,
        wallet_api_key: str | None = None,
        settings: TransportSettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._wallet_key = wallet_api_key
        http = NodeTransport(
            name,
            url,
            headers={"Authorization": f"Bearer {admin_token}"},
            error_mapper=functools.partial(lnbits_error, node=name),
            settings=settings,
            transport=transport,
        )
        super().__init__(name, http)
        self._ids: dict[str, str] = {}  # our chan_id -> LNbits channel id used in its URLs

    @decodes
    async def get_info(self) -> NodeInfo:
        """`GET /node/api/v1/info`."""
        info = await self._http.request("GET", f"{NODE_API}/info")
        return NodeInfo(
            pubkey=info.get("id", ""),
            alias=info.get("alias", ""),
            block_height=int(info.get("blockheight") or 0),
            num_peers=int(info.get("num_peers") or 0),
        )

    async def wallet_balance_msat(self) -> int:
        """Balance of the wallet whose API key was given (`GET /api/v1/wallet` with X-Api-Key)."""
        if not self._wallet_key:
            raise CapabilityError("no LNbits wallet API key was registered for this node")
        wallet = await self._http.request("GET", "/api/v1/wallet", headers={"X-Api-Key": self._wallet_key})
        return int(wallet.get("balance", 0))

    @decodes
    async def list_channels(self, graph: ChannelGraph | None = None) -> list[Channel]:
        """`GET /channels` for balances, then `GET /channels/{id}` per channel, the only place fees appear."""
        listed = await self._http.request("GET", f"{NODE_API}/channels")
        channels = []
        for item in listed or []:
            if item.get("state") not in OPEN_STATES or not item.get("id"):
                continue  # pending and closed channels have no policy to manage
            detail = await self._http.request("GET", f"{NODE_API}/channels/{item['id']}")
            channels.append(self._channel(detail or item))
        return channels

    def _channel(self, data: dict[str, Any]) -> Channel:
        balance = data.get("balance") or {}
        point = data.get("point") or {}
        chan_id = scid_to_uint64(str(data.get("short_id") or data.get("id")))
        self._ids[chan_id] = str(data["id"])
        total_sat = int(balance.get("total_msat", 0)) // 1000
        return Channel(
            chan_id=chan_id,
            channel_point=f"{point.get('funding_txid', '')}:{point.get('output_index', 0)}",
            remote_pubkey=data.get("peer_id", ""),
            capacity_sat=total_sat,
            local_balance_sat=int(balance.get("local_msat", 0)) // 1000,
            remote_balance_sat=int(balance.get("remote_msat", 0)) // 1000,
            active=data.get("state") == "active",
            local_policy=self._policy(data),
        )

    @staticmethod
    def _policy(data: dict[str, Any]) -> ChannelPolicy:
        # LNbits reports fees only; the rest stays unknown (None) instead of being guessed.
        if data.get("fee_ppm") is None or data.get("fee_base_msat") is None:
            raise UpstreamError(f"LNbits returned channel {data.get('id')} without fee_ppm / fee_base_msat")
        return ChannelPolicy(
            base_fee_msat=int(data["fee_base_msat"]),
            fee_rate_ppm=int(data["fee_ppm"]),
            time_lock_delta=None,
            min_htlc_msat=None,
            max_htlc_msat=None,
            inbound_base_fee_msat=None,
            inbound_fee_rate_ppm=None,
            disabled=data.get("state") != "active",
        )

    async def forwarding_history(self, start_s: int, end_s: int) -> list[ForwardingEvent]:
        """LNbits has no forwarding history."""
        raise CapabilityError("LNbits' node API has no forwarding history; activity scores stay unknown")

    async def describe_graph(self) -> ChannelGraph:
        """LNbits exposes no channel graph."""
        raise CapabilityError("LNbits' node API exposes no channel graph; use the configured graph file")

    @decodes
    async def get_channel_policy(self, channel: ChannelRef) -> ChannelPolicy:
        """Fees of one channel, read back from `GET /channels/{id}`."""
        detail = await self._http.request("GET", f"{NODE_API}/channels/{await self._lnbits_id(channel)}")
        return self._policy(detail)

    @decodes
    async def update_channel_policy(
        self, channel: ChannelRef, policy: ChannelPolicy, current: ChannelPolicy | None = None
    ) -> PolicyUpdateResult:
        """`PUT /channels/{id}` with fee_ppm and fee_base_msat (super user only), sent once."""
        body = {"fee_ppm": policy.fee_rate_ppm, "fee_base_msat": policy.base_fee_msat}
        try:
            await self._http.request(
                "PUT", f"{NODE_API}/channels/{await self._lnbits_id(channel)}", json=body, retry=False
            )
        except (UpstreamInvalidParameterError, UpstreamNotFoundError) as exc:
            return PolicyUpdateResult(
                chan_id=channel.chan_id, outcome=UpdateOutcome.FAILED, error=exc.message
            )
        return PolicyUpdateResult(chan_id=channel.chan_id, outcome=UpdateOutcome.ACCEPTED)

    async def _lnbits_id(self, channel: ChannelRef) -> str:
        """LNbits' own id of a channel (with a Core Lightning source it is not the short channel id).

        A client made after a restart (recovery) has not listed the channels yet: one `GET /channels`
        learns every id, so a write or read-back never goes to an id LNbits does not know.
        """
        if channel.chan_id not in self._ids:
            listed = await self._http.request("GET", f"{NODE_API}/channels")
            for item in listed or []:
                if item.get("id"):
                    chan_id = scid_to_uint64(str(item.get("short_id") or item["id"]))
                    self._ids[chan_id] = str(item["id"])
        return self._ids.get(channel.chan_id, channel.chan_id)
