"""LNbits backend on its node API (`/node/api/v1`): fees only, no time lock, HTLC limits, inbound fees or history.

Caveat found in LNbits' own LND node class: its fee update also sends `time_lock_delta: 80`, so on an
LND funding source every fee change through LNbits resets the time lock to 80. We cannot prevent that
from here; the capability flags say LNbits cannot *set* the time lock, and operators are warned in the README.
"""

from __future__ import annotations

import asyncio
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
from app.observability.progress import report

LNBITS_CAPABILITIES = NodeCapabilities(
    forwarding_history=False, channel_graph=False, inbound_fees=False, htlc_limits=False, time_lock=False
)
NODE_API = "/node/api/v1"
OPEN_STATES = ("active", "inactive")
# LNbits answers a refusal about one channel (unknown or closed) with HTTP 500 and LND's message.
CHANNEL_REFUSALS = ("edge not found", "channel not found", "unable to find", "not found")
# LNbits asks its funding source several times per request: a slow answer is usually LNbits, not the network.
SLOW_HINT = "LNbits asks its funding node several times per request; check the LNbits server and its node"


def lnbits_transport(
    requests_per_second: float = 100.0, read_timeout_s: float = 45.0, base: TransportSettings | None = None
) -> TransportSettings:
    """Transport settings sized for LNbits: usually local (a higher rate) and slow per request (a longer read).

    LNbits' own calls to its LND funding source time out after 30 s, so our read timeout must exceed it,
    and one call's whole deadline must leave room for at least one full read.
    """
    settings = base or TransportSettings()
    total = max(settings.total_timeout_s, read_timeout_s + settings.connect_timeout_s)
    return settings.model_copy(
        update={
            "requests_per_second": requests_per_second,
            "read_timeout_s": read_timeout_s,
            "total_timeout_s": total,
        }
    )


def _sentence(text: str) -> str:
    """`text` ending in exactly one full stop, so a hint can follow (LNbits' details often end in one)."""
    return text.rstrip().rstrip(".") + "."


def lnbits_error(response: httpx.Response, node: str) -> UpstreamError:
    """Map LNbits answers ({"detail": ...}) to domain errors with the operator's next step."""
    status = response.status_code
    try:
        body = orjson.loads(response.content)
        # `detail` from FastAPI's errors; its rate limiter answers `{"error": ...}` instead
        detail = str(body.get("detail") or body.get("error") or "") if isinstance(body, dict) else ""
    except orjson.JSONDecodeError:
        detail = response.text[:200]
    details = {"node": node, "http_status": status}
    text = f"LNbits {node} answered HTTP {status}" + (f": {detail[:200]}" if detail else "")
    lowered = detail.lower()
    if status == 501:
        return UpstreamUnavailableError(
            f"{_sentence(text)} The node API needs an LND or Core Lightning funding source.", details, status
        )
    if status == 503 and "not enabled" in lowered:
        return UpstreamUnavailableError(
            f"{_sentence(text)} Set LNBITS_NODE_UI=true on the LNbits server.", details, status
        )
    if status in (401, 403):
        return UpstreamAuthError(
            f"{_sentence(text)} Fee updates need the Bearer token of an LNbits super user; "
            "reads need an admin user.",
            details,
            status,
        )
    if status == 429 or status in (502, 503, 504):
        return UpstreamTemporaryError(_sentence(text), details, status, retry_after_seconds(response))
    if status == 404 or any(refusal in lowered for refusal in CHANNEL_REFUSALS):
        # about one channel (LNbits relays LND's "edge not found" as a 500): that channel's failure only
        return UpstreamNotFoundError(_sentence(text), details, status)
    if status in (400, 422):
        return UpstreamInvalidParameterError(_sentence(text), details, status)
    return UpstreamError(_sentence(text), details, status)


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
        concurrency: int = 4,
    ) -> None:
        self._wallet_key = wallet_api_key
        http = NodeTransport(
            name,
            url,
            headers={"Authorization": f"Bearer {admin_token}"},
            error_mapper=functools.partial(lnbits_error, node=name),
            settings=settings or lnbits_transport(),
            transport=transport,
            slow_hint=SLOW_HINT,
        )
        # Independent per-channel reads run this many at a time (the rate limit still applies to each).
        self._concurrency = asyncio.Semaphore(concurrency)
        super().__init__(name, http)
        self._ids: dict[str, str] = {}  # our chan_id -> LNbits channel id used in its URLs

    @decodes
    async def get_info(self) -> NodeInfo:
        """`GET /node/api/v1/info`."""
        info = await self._http.request("GET", f"{NODE_API}/info")
        fees = info.get("fees") or {}
        monthly = fees.get("monthly_msat")
        return NodeInfo(
            pubkey=info.get("id", ""),
            alias=info.get("alias", ""),
            block_height=int(info.get("blockheight") or 0),
            num_peers=int(info.get("num_peers") or 0),
            fees_month_msat=None if monthly is None else int(monthly),
        )

    async def wallet_balance_msat(self) -> int:
        """Balance of the wallet whose API key was given (`GET /api/v1/wallet` with X-Api-Key)."""
        if not self._wallet_key:
            raise CapabilityError("no LNbits wallet API key was registered for this node")
        wallet = await self._http.request("GET", "/api/v1/wallet", headers={"X-Api-Key": self._wallet_key})
        return int(wallet.get("balance", 0))

    @decodes
    async def list_channels(self, graph: ChannelGraph | None = None) -> list[Channel]:
        """`GET /channels` for balances, then `GET /channels/{id}` per channel, the only place fees appear.

        The per-channel reads are independent, so they run concurrently (bounded); a channel that closed
        between the list and its read is left out, as if it had closed before.
        """
        listed = await self._http.request("GET", f"{NODE_API}/channels")
        open_items = [
            item for item in listed or [] if item.get("state") in OPEN_STATES and item.get("id")
        ]  # pending and closed channels have no policy to manage
        read = [0]
        report("reading channels", 0, len(open_items))
        details = await asyncio.gather(*(self._detail(item, read, len(open_items)) for item in open_items))
        return [self._channel(detail) for detail in details if detail is not None]

    async def _detail(self, item: dict[str, Any], read: list[int], total: int) -> dict[str, Any] | None:
        """One channel's full record (fees included), or None when LNbits no longer knows the channel."""
        async with self._concurrency:
            try:
                detail = await self._http.request("GET", f"{NODE_API}/channels/{item['id']}")
            except UpstreamNotFoundError:
                return None
            finally:
                read[0] += 1
                report("reading channels", read[0], total)
        return detail or item

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
