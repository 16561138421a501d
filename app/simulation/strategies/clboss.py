"""CLBOSS fee setting, as in ZmnSCPxj/clboss `Boss/Mod/ChannelFeeManager.cpp` and its fee modifiers.

Per peer: the median base and proportional fee other nodes charge to reach that peer
(PeerCompetitorFeeMonitor), times every modifier, rounded, 0 becomes 1:
- FeeModderByBalance.cpp: exp(ln 50 x (0.5 - our share)) taken at the centre of the balance bin we are in
  (bins of 0.002 BTC, 4 to 50 of them; a move between bins lands on the near bin with a probability
  that grows with how far into it the balance went);
- FeeModderByPriceTheory.cpp: a price level p gives 1.2^p (p > 0) or 0.8^-p; a shuffled deck of
  cards centre-2 .. centre+2 is played one card at a time for 288 ten-minute periods (2 days), the fees
  earned on forwards out to the peer are written on the card, and when the deck is empty the centre
  moves to the best-earning card (unless it earned nothing).
Other CLBOSS modifiers (by size, by forwarder, expenditures) are left out: they need a rebalancer
and channel-opening activity this simulator does not model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from app.domain.policy import ChannelPolicy
from app.simulation.strategies.base import ChannelState, FeeStrategy, StrategyView

LOG_50 = math.log(50.0)
BIN_SIZE_SAT = 200_000  # 0.002 BTC
MIN_BINS, MAX_BINS = 4, 50
CARD_LIFETIME_S = 288 * 600  # 288 ten-minute events
MAX_STEP = 2


def balance_multiplier(our_share: float) -> float:
    """FeeModderByBalance's get_ratio."""
    return math.exp(LOG_50 * (0.5 - our_share))


def bin_count(capacity_sat: int) -> int:
    """Number of balance bins for a channel size."""
    return min(max(round(capacity_sat / BIN_SIZE_SAT), MIN_BINS), MAX_BINS)


def bin_multiplier(bin_index: int, bins: int) -> float:
    """The balance multiplier at the centre of a bin."""
    return balance_multiplier((1 + bin_index * 2) / (bins * 2))


def price_multiplier(price: int) -> float:
    """FeeModderByPriceTheory's price_to_multiplier."""
    if price < 0:
        return float(0.8 ** (-price))
    return float(1.2**price)


@dataclass
class _PeerGame:
    """One peer's balance bin and price-theory card game."""

    bins: int
    bin: int
    to_us_msat: int
    centre: int = 0
    deck: list[int] = field(default_factory=list)
    in_play: int | None = None
    played_s: float = 0.0
    earnings_msat: int = 0
    discards: list[tuple[int, int]] = field(default_factory=list)  # (price, earnings)


@dataclass
class ClbossFees(FeeStrategy):
    """Competitor median x balance modifier x price-theory modifier."""

    seed: int = 1
    name: str = "clboss"
    _games: dict[int, _PeerGame] = field(default_factory=dict)
    _medians: dict[int, tuple[int, int] | None] = field(default_factory=dict)
    _forwards_seen: int = 0
    _last_s: float | None = None

    def __post_init__(self) -> None:
        """Seeded randomness for the shuffles and bin moves."""
        self._rng = np.random.default_rng([self.seed, 31_337])

    def decide(self, view: StrategyView) -> dict[int, ChannelPolicy]:
        """Play the price game, move the balance bins, and set each channel to its computed fee."""
        earned = self._earnings_since_last(view)
        updates = {}
        for state in view.channels:
            if state.policy.disabled:
                continue
            median = self._median(view, state.channel.peer)
            if median is None:
                continue
            game = self._game(state)
            game.earnings_msat += earned.get(state.channel.index, 0)
            price = self._price(game, view.now_s)
            self._move_bin(game, state)
            mult = bin_multiplier(game.bin, game.bins) * price_multiplier(price)
            base = max(round(median[0] * mult), 1)
            ppm = max(round(median[1] * mult), 1)
            if (base, ppm) != (state.policy.base_fee_msat, state.policy.fee_rate_ppm):
                updates[state.channel.index] = state.policy.model_copy(
                    update={"base_fee_msat": base, "fee_rate_ppm": ppm}
                )
        self._last_s = view.now_s
        return updates

    def _earnings_since_last(self, view: StrategyView) -> dict[int, int]:
        """Fees earned per outgoing channel since the previous call."""
        earned: dict[int, int] = {}
        forwards = view.node.forwards
        for forward in forwards[self._forwards_seen :]:
            earned[forward.out_channel] = earned.get(forward.out_channel, 0) + forward.fee_msat
        self._forwards_seen = len(forwards)
        return earned

    def _median(self, view: StrategyView, peer: int) -> tuple[int, int] | None:
        """Median base and rate of the enabled channels other nodes have into the peer (None without any)."""
        if peer not in self._medians:
            network = view.network
            graph = network.graph
            halves = []
            for edge in graph.edges_of(peer).tolist():
                into = 2 * edge + (
                    1 if int(graph.node1[edge]) == peer else 0
                )  # the other end towards the peer
                if int(network.dir_from[into]) != view.node.node and network.enabled[into]:
                    halves.append(into)
            if halves:
                base = int(np.median([network.base_fee_msat[h] for h in halves]))
                ppm = int(np.median([network.fee_rate_ppm[h] for h in halves]))
                self._medians[peer] = (base, ppm)
            else:
                self._medians[peer] = None
        return self._medians[peer]

    def _game(self, state: ChannelState) -> _PeerGame:
        game = self._games.get(state.channel.index)
        if game is None:
            bins = bin_count(state.channel.capacity_sat)
            share = state.local_msat / (state.channel.capacity_sat * 1000)
            game = _PeerGame(
                bins=bins, bin=min(math.floor(share * bins), bins - 1), to_us_msat=state.local_msat
            )
            self._games[state.channel.index] = game
        return game

    def _price(self, game: _PeerGame, now_s: float) -> int:
        """The price of the card in play, discarding it after its lifetime and drawing the next."""
        if game.in_play is not None and now_s - game.played_s >= CARD_LIFETIME_S:
            game.discards.append((game.in_play, game.earnings_msat))
            game.in_play = None
        if game.in_play is None:
            if not game.deck:
                if game.discards:
                    best_price, best_earnings = max(game.discards, key=lambda card: card[1])
                    if best_earnings > 0:
                        game.centre = best_price
                game.discards = []
                prices = [game.centre]
                for step in range(1, MAX_STEP + 1):
                    prices += [game.centre + step, game.centre - step]
                game.deck = [prices[i] for i in self._rng.permutation(len(prices))]
            game.in_play = game.deck.pop()
            game.played_s = now_s
            game.earnings_msat = 0
        return game.in_play

    def _move_bin(self, game: _PeerGame, state: ChannelState) -> None:
        """FeeModderByBalance's bin move, with its random rounding towards the previous bin."""
        if state.local_msat == game.to_us_msat:
            return
        actual = state.local_msat / (state.channel.capacity_sat * 1000) * game.bins
        target = math.floor(actual)
        if target == game.bin:
            return
        game.to_us_msat = state.local_msat
        draw = float(self._rng.random())
        if target < game.bin:
            game.bin = target if draw < 1.0 - (actual - target) else target + 1
        else:
            game.bin = target if draw < actual - target else target - 1
            game.bin = min(game.bin, game.bins - 1)
