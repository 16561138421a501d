"""Facts about a Lightning node."""

from __future__ import annotations

from app.domain.base import DomainModel, PubKey


class NodeInfo(DomainModel):
    """What the node says about itself (LND `GET /v1/getinfo`)."""

    pubkey: PubKey
    alias: str = ""
    block_height: int = 0
    num_active_channels: int = 0
    num_inactive_channels: int = 0
    num_peers: int = 0
    synced_to_chain: bool = True
    version: str = ""
    simulated: bool = False
    # The node's routing fees over the last 30 days, when the backend reports only the sum (LNbits).
    fees_month_msat: int | None = None
