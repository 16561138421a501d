"""A stand-in for LNbits' node API (a third-party server we cannot run here), as an httpx mock transport.

Shapes follow LNbits' `lnbits/nodes/base.py` (NodeChannel, NodeInfoResponse) and `core/views/node_api.py`:
admin users may read, only super users may PUT fees, 501 when the funding source has no node API and
503 "Not enabled" when LNBITS_NODE_UI is off.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.factories import pubkey

ADMIN_TOKEN = "admin-token-123"
SUPER_TOKEN = "super-token-456"
WALLET_KEY = "wallet-key-789"
OUR_PUBKEY = pubkey("lnbits-node")


@dataclass
class FakeLnbits:
    """Mutable node state plus switches for the error modes."""

    node_api_implemented: bool = True
    node_ui_enabled: bool = True
    requests: list[httpx.Request] = field(default_factory=list)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for index, (state, fee) in enumerate([("active", 100), ("inactive", 250), ("pending", 0)]):
            chan_id = str(800_000 << 40 | index << 16)
            self.channels[chan_id] = {
                "id": chan_id,
                "short_id": f"800000x{index}x0",
                "peer_id": pubkey(f"peer{index}"),
                "point": {"funding_txid": f"{index:02x}" * 32, "output_index": index},
                "balance": {
                    "local_msat": 400_000_000,
                    "remote_msat": 590_000_000,
                    "total_msat": 1_000_000_000,
                },
                "state": state,
                "name": f"peer{index}",
                "color": "#000000",
                "fee_ppm": fee,
                "fee_base_msat": 1000,
            }

    def transport(self) -> httpx.MockTransport:
        """The mock transport serving this state."""
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request like LNbits would."""
        self.requests.append(request)
        path = request.url.path
        if path == "/api/v1/wallet":
            if request.headers.get("x-api-key") != WALLET_KEY:
                return httpx.Response(401, json={"detail": "Invalid key or wallet."})
            return httpx.Response(200, json={"name": "fees", "balance": 123_456_000})
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in (ADMIN_TOKEN, SUPER_TOKEN):
            return httpx.Response(401, json={"detail": "Missing user ID or access token."})
        if not self.node_api_implemented:
            return httpx.Response(501, json={"detail": "Active backend does not implement Node API"})
        if not self.node_ui_enabled:
            return httpx.Response(503, json={"detail": "Not enabled"})
        if path == "/node/api/v1/info":
            return httpx.Response(
                200,
                json={
                    "id": OUR_PUBKEY,
                    "alias": "lnbits-node",
                    "blockheight": 930_000,
                    "num_peers": 3,
                    "backend_name": "LND",
                    "color": "000000",
                },
            )
        if path == "/node/api/v1/channels":
            listed = [
                {k: v for k, v in c.items() if k not in ("fee_ppm", "fee_base_msat")}
                for c in self.channels.values()
            ]
            return httpx.Response(200, json=listed)
        if path.startswith("/node/api/v1/channels/"):
            chan_id = path.rsplit("/", 1)[1]
            if chan_id not in self.channels:
                return httpx.Response(404, json={"detail": "Channel not found"})
            if request.method == "PUT":
                if token != SUPER_TOKEN:
                    return httpx.Response(
                        403, json={"detail": "User not authorized. No super user privileges."}
                    )
                body = json.loads(request.content)
                self.channels[chan_id].update(fee_ppm=body["fee_ppm"], fee_base_msat=body["fee_base_msat"])
                return httpx.Response(200, json=None)
            return httpx.Response(200, json=self.channels[chan_id])
        return httpx.Response(404, json={"detail": "Not Found"})
