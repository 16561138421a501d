"""Sending one payment as a sender would: best route, try it, learn from a failure, retry up to a limit."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from app.simulation.costs import bucket_of
from app.simulation.network import SimNetwork
from app.simulation.routing import RouteFinder


class ForwardSink(Protocol):
    """Who wants to hear about forwards and forwarding failures at the focal node."""

    def forwarded(
        self, now_s: float, in_half: int, out_half: int, amt_in: int, amt_out: int, fee: int
    ) -> None:
        """The focal node forwarded a payment."""

    def failed(self, now_s: float, out_half: int, amount_msat: int, available_msat: int) -> None:
        """The focal node could not forward a payment over `out_half` (not enough balance)."""


@dataclass
class PaymentStats:
    """Network-wide counters of one run."""

    payments: int = 0
    succeeded: int = 0
    attempts: int = 0
    searches: int = 0
    amount_msat: int = 0
    fee_msat: int = 0
    fee_ppm: list[float] = field(default_factory=list)  # per successful payment, for the median
    failures: Counter[str] = field(default_factory=Counter)  # failed payments by final cause
    hop_failures: Counter[str] = field(default_factory=Counter)  # failed attempts by cause
    # Every node's forwards and fee income, to find the nodes that earn (scripts/compare_strategies.py).
    node_forwards: Counter[int] = field(default_factory=Counter)
    node_fees_msat: Counter[int] = field(default_factory=Counter)


NO_ROUTE = "no_route"  # no route at all for the amount
ROUTES_EXHAUSTED = "routes_exhausted"  # every route left after failures was tried
ATTEMPT_LIMIT = "attempt_limit"  # the sender gave up after max attempts
INSUFFICIENT_BALANCE = "insufficient_balance"  # a forwarding hop lacked the outbound balance
LOCAL_SKIPS_LIMIT = 20  # own channels a sender may rule out (it knows their balances) before giving up


class PaymentSender:
    """Pays on the simulated network: routes, moves balances, pays every hop its fee, records failures."""

    def __init__(
        self,
        network: SimNetwork,
        finder: RouteFinder,
        focal: int,
        sink: ForwardSink,
        max_attempts: int,
        memory_s: float,
    ) -> None:
        self.network = network
        self.finder = finder
        self.focal = focal
        self.sink = sink
        self.max_attempts = max_attempts
        self.memory_s = memory_s
        self.stats = PaymentStats()
        # sender -> pair -> (forget at, smallest amount that failed): LND's mission control in miniature.
        self.memory: dict[int, dict[int, tuple[float, int]]] = {}

    def pay(self, now_s: float, sender: int, receiver: int, amount_msat: int) -> bool:
        """Try to pay `amount_msat` from sender to receiver; True when it arrived."""
        stats = self.stats
        stats.payments += 1
        bucket = bucket_of(amount_msat)
        avoid = self._remembered(now_s, sender, amount_msat)
        attempts = 0
        local_skips = 0
        while attempts < self.max_attempts:
            stats.searches += 1
            nodes = self.finder.route(sender, receiver, bucket, avoid)
            if nodes is None:
                stats.failures[NO_ROUTE if attempts == 0 else ROUTES_EXHAUSTED] += 1
                return False
            pairs = [self.network.pair_id(nodes[i], nodes[i + 1]) for i in range(len(nodes) - 1)]
            named = [self.finder.chosen_half(pair, bucket) for pair in pairs]
            amounts, fees = self._hop_amounts(named, amount_msat)
            first = self._pick_half(pairs[0], named[0], amounts[0])
            if first < 0:  # the sender knows its own balances: rule the channel out without sending
                avoid.add(pairs[0])
                local_skips += 1
                if local_skips > LOCAL_SKIPS_LIMIT:
                    stats.failures[ROUTES_EXHAUSTED] += 1
                    return False
                continue
            attempts += 1
            stats.attempts += 1
            used = [first]
            for hop in range(1, len(pairs)):
                half = self._pick_half(pairs[hop], named[hop], amounts[hop])
                if half < 0:
                    self._failed(now_s, sender, nodes[hop], pairs[hop], named[hop], amounts[hop])
                    avoid.add(pairs[hop])
                    break
                used.append(half)
            else:
                self._settle(now_s, nodes, used, amounts, fees, amount_msat)
                return True
        stats.failures[ATTEMPT_LIMIT] += 1
        return False

    def _remembered(self, now_s: float, sender: int, amount_msat: int) -> set[int]:
        """Pairs the sender still remembers failing for this amount or less."""
        memory = self.memory.get(sender)
        if not memory:
            return set()
        for pair in [p for p, (until, _) in memory.items() if until <= now_s]:
            del memory[pair]
        return {pair for pair, (_, failed) in memory.items() if amount_msat >= failed}

    def _hop_amounts(self, named: list[int], amount_msat: int) -> tuple[list[int], list[int]]:
        """Amount carried over each hop and the fee each forwarding node takes, computed from the receiver back."""
        net = self.network
        hops = len(named)
        amounts = [0] * hops
        fees = [0] * hops  # fees[i]: what the node sending hop i earns (0 for the sender itself)
        amounts[-1] = amount_msat
        for hop in range(hops - 1, 0, -1):
            out, entered = named[hop], named[hop - 1] ^ 1  # the forwarder's own half of the incoming channel
            carried = amounts[hop]
            fee = net.base_fee_msat[out] + carried * net.fee_rate_ppm[out] // 1_000_000
            fee += net.inbound_base_msat[entered] + carried * net.inbound_ppm[entered] // 1_000_000
            fees[hop] = max(fee, 0)  # LND: an inbound discount cannot make the total fee negative
            amounts[hop - 1] = carried + fees[hop]
        return amounts, fees

    def _pick_half(self, pair: int, named: int, amount_msat: int) -> int:
        """The channel half that carries the amount: the named one, else a parallel one (non-strict forwarding)."""
        net = self.network
        for half in (named, *(d for d in net.pair_dirs[pair] if d != named)):
            if (
                net.enabled[half]
                and net.local_msat[half] - net.reserve_msat[half] >= amount_msat
                and net.min_htlc_msat[half] <= amount_msat <= net.max_htlc_msat[half]
            ):
                return half
        return -1

    def _failed(self, now_s: float, sender: int, node: int, pair: int, named: int, amount_msat: int) -> None:
        """A hop could not forward: the sender remembers it, the focal node hears about its own failures."""
        self.stats.hop_failures[INSUFFICIENT_BALANCE] += 1
        memory = self.memory.setdefault(sender, {})
        known = memory.get(pair)
        smallest = amount_msat if known is None else min(known[1], amount_msat)
        memory[pair] = (now_s + self.memory_s, smallest)
        if node == self.focal:
            net = self.network
            available = max(net.local_msat[d] - net.reserve_msat[d] for d in net.pair_dirs[pair])
            self.sink.failed(now_s, named, amount_msat, available)

    def _settle(
        self,
        now_s: float,
        nodes: list[int],
        used: list[int],
        amounts: list[int],
        fees: list[int],
        amount: int,
    ) -> None:
        """Move every hop's balance and record the fees."""
        net = self.network
        local = net.local_msat
        for half, carried in zip(used, amounts, strict=True):
            local[half] -= carried
            local[half ^ 1] += carried
        stats = self.stats
        for hop in range(1, len(used)):
            stats.node_forwards[nodes[hop]] += 1
            stats.node_fees_msat[nodes[hop]] += fees[hop]
            if nodes[hop] == self.focal:
                self.sink.forwarded(
                    now_s, used[hop - 1], used[hop], amounts[hop - 1], amounts[hop], fees[hop]
                )
        stats.succeeded += 1
        paid = amounts[0] - amount
        stats.amount_msat += amount
        stats.fee_msat += paid
        stats.fee_ppm.append(paid * 1e6 / amount)
