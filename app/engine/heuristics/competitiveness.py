"""Competitiveness: our price towards the peer against the market into that peer and our own channels."""

from __future__ import annotations

from app.domain.channel import Channel
from app.engine.context import ScoringContext
from app.engine.heuristics.base import Heuristic, HeuristicResult, blend, unknown
from app.engine.peers import position_in, quartiles


class CompetitivenessHeuristic(Heuristic):
    """1 - price position among other nodes' enabled fees into the peer (80 %) and among our own fees (20 %).

    A high value means we are cheaper than the alternatives, so senders pick our channel; a low value means
    we are priced above the market and should expect little flow.
    """

    name = "competitiveness"

    def score(self, channel: Channel, context: ScoringContext) -> HeuristicResult:
        """Position of our fee rate in the market and in our own price list."""
        policy = channel.local_policy
        if policy.disabled:
            return unknown("our policy on this channel is disabled")
        peer = context.peer_index(channel)
        if peer is None:
            return unknown("peer is not in the public graph")
        ours = policy.fee_rate_ppm
        market = context.market_into(peer)
        facts: dict[str, object] = {"our_fee_rate_ppm": ours, "competitors": len(market)}
        market_part: float | None = None
        if len(market) >= context.profile.competitiveness.min_competitors:
            position = position_in(ours, market)
            market_part = 1.0 - position
            p25, median, p75 = quartiles(market)
            facts.update(market_p25_ppm=p25, market_median_ppm=median, market_p75_ppm=p75)
            facts["market_position"] = round(position, 4)
        own = context.own_fee_rates_ascending
        own_part: float | None = None
        if len(own) >= 2:
            own_part = 1.0 - position_in(ours, own)
            facts["own_median_ppm"] = context.own_fee_median
        value = blend({"market": (market_part, 0.8), "own": (own_part, 0.2)})
        if value is None:
            return unknown("too few other channels into the peer and of our own to compare prices", **facts)
        if market_part is None:
            reason = f"only {len(market)} competitors into the peer; compared with our own fees only"
        else:
            reason = f"our {ours} ppm is cheaper than {market_part:.0%} of {len(market)} competing channels"
        return HeuristicResult(value=value, facts=facts, reason=reason)
