"""JSON views of channels and scores as the API returns and the cache stores them."""

from __future__ import annotations

from typing import Any

from app.domain.channel import Channel, scid_to_string
from app.domain.scoring import ScoreBreakdown


def channel_view(channel: Channel, peer_alias: str, score: ScoreBreakdown | None) -> dict[str, Any]:
    """One channel with its current policy and latest score (no secrets, JSON-ready)."""
    return {
        "chan_id": channel.chan_id,
        "scid": scid_to_string(channel.chan_id),
        "channel_point": channel.channel_point,
        "peer": {"pubkey": channel.remote_pubkey, "alias": peer_alias},
        "capacity_sat": channel.capacity_sat,
        "local_balance_sat": channel.local_balance_sat,
        "remote_balance_sat": channel.remote_balance_sat,
        "local_ratio": round(channel.local_ratio, 4),
        "active": channel.active,
        "policy": channel.local_policy.model_dump(mode="json"),
        "score": None
        if score is None
        else {"total": score.total, "known_weight": score.known_weight, "scores": score.values()},
    }


def score_view(chan_id: str, score: ScoreBreakdown, cycle_id: str) -> dict[str, Any]:
    """The full breakdown of one channel's score, with every heuristic's facts."""
    return {"chan_id": chan_id, "cycle_id": cycle_id, **score.model_dump(mode="json", exclude={"chan_id"})}
