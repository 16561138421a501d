"""Routing on hand-built graphs: cheapest path, fees to the right nodes, balances, retries, HTLC limits."""

from __future__ import annotations

from app.simulation.costs import CostModel, bucket_of
from app.simulation.focal import FocalNode, focal_node
from app.simulation.network import SimNetwork
from app.simulation.payments import PaymentSender
from app.simulation.routing import RouteFinder, RoutingTables
from tests.simulation.graphs import diamond, graph_of, half_balanced, policy

AMOUNT_MSAT = 100_000_000  # 100k sat


def setup(network: SimNetwork, focal_name: str) -> tuple[PaymentSender, FocalNode, dict[str, int]]:
    graph = network.graph
    names = {alias: i for i, alias in enumerate(graph.aliases)}
    focal = names[focal_name]
    tables = RoutingTables(network, focal, CostModel(), cache_size=10)
    sink = focal_node(graph, focal)
    sender = PaymentSender(network, RouteFinder(tables, network), focal, sink, max_attempts=5, memory_s=3600)
    return sender, sink, names


def channel_totals(network: SimNetwork) -> list[int]:
    return [
        network.local_msat[2 * e] + network.local_msat[2 * e + 1] for e in range(network.graph.edge_count)
    ]


def test_the_cheapest_path_is_chosen_whichever_node_is_focal():
    for focal_name in ("B", "C"):
        network = half_balanced(diamond())
        sender, _, names = setup(network, focal_name)
        route = sender.finder.route(names["A"], names["D"], bucket_of(AMOUNT_MSAT))
        assert route == [names["A"], names["C"], names["D"]]


def test_a_dearer_focal_node_loses_the_route_and_a_cheaper_one_wins_it():
    network = half_balanced(diamond(c_ppm=10, b_ppm=500))
    sender, _, names = setup(network, "B")
    half = next(d for d in network.dirs_from(names["B"]) if network.dir_to[d] == names["D"])
    network.set_policy(half, network.policy(half).model_copy(update={"fee_rate_ppm": 1}))
    sender.finder.focal_policy_changed()
    assert sender.finder.route(names["A"], names["D"], bucket_of(AMOUNT_MSAT)) == [
        names["A"],
        names["B"],
        names["D"],
    ]


def test_fees_go_to_the_forwarding_node_and_balances_move_and_are_conserved():
    network = half_balanced(diamond(c_ppm=10))
    sender, focal, names = setup(network, "C")
    before = list(network.local_msat)
    totals = channel_totals(network)
    assert sender.pay(0.0, names["A"], names["D"], AMOUNT_MSAT)
    fee = AMOUNT_MSAT * 10 // 1_000_000
    assert focal.revenue_msat == fee  # C earned its fee; B forwarded nothing
    assert len(focal.forwards) == 1 and focal.forwards[0].amt_in_msat == AMOUNT_MSAT + fee
    a_to_c = next(d for d in network.dirs_from(names["A"]) if network.dir_to[d] == names["C"])
    c_to_d = next(d for d in network.dirs_from(names["C"]) if network.dir_to[d] == names["D"])
    assert network.local_msat[a_to_c] == before[a_to_c] - (AMOUNT_MSAT + fee)
    assert network.local_msat[c_to_d] == before[c_to_d] - AMOUNT_MSAT
    assert network.local_msat[c_to_d ^ 1] == before[c_to_d ^ 1] + AMOUNT_MSAT
    assert channel_totals(network) == totals
    assert sender.stats.fee_msat == fee


def test_a_depleted_channel_fails_and_the_sender_retries_elsewhere():
    network = half_balanced(diamond(c_ppm=10))
    sender, focal, names = setup(network, "C")
    c_to_d = next(d for d in network.dirs_from(names["C"]) if network.dir_to[d] == names["D"])
    network.local_msat[c_to_d ^ 1] += network.local_msat[c_to_d]
    network.local_msat[c_to_d] = 0
    assert sender.pay(0.0, names["A"], names["D"], AMOUNT_MSAT)
    assert sender.stats.attempts == 2
    assert sender.stats.hop_failures["insufficient_balance"] == 1
    assert len(focal.failures) == 1 and focal.failures[0].amount_msat == AMOUNT_MSAT
    assert focal.revenue_msat == 0  # the payment went through B
    # The sender remembers: its next payment goes straight through B.
    assert sender.pay(60.0, names["A"], names["D"], AMOUNT_MSAT)
    assert sender.stats.attempts == 3


def test_a_payment_fails_when_no_route_has_the_balance():
    network = half_balanced(
        graph_of([("A", "B", 1_000_000, policy(), policy()), ("B", "C", 1_000_000, policy(), policy())])
    )
    sender, _, names = setup(network, "A")
    b_to_c = next(d for d in network.dirs_from(names["B"]) if network.dir_to[d] == names["C"])
    network.local_msat[b_to_c] = 0
    assert not sender.pay(0.0, names["A"], names["C"], 100_000_000)
    assert sender.stats.succeeded == 0 and sum(sender.stats.failures.values()) == 1


def test_htlc_limits_are_respected():
    small_max = 50_000_000  # 50k sat, below the payment
    network = half_balanced(
        graph_of(
            [
                ("A", "B", 10_000_000, policy(), policy(ppm=500)),
                ("A", "C", 10_000_000, policy(), policy(ppm=10, max_htlc=small_max)),
                ("B", "D", 10_000_000, policy(ppm=500), policy()),
                ("C", "D", 10_000_000, policy(ppm=10, max_htlc=small_max), policy()),
            ]
        )
    )
    sender, focal, names = setup(network, "B")
    assert sender.pay(0.0, names["A"], names["D"], AMOUNT_MSAT)
    assert sender.stats.attempts == 1  # the sender never tried C, whose max HTLC is too small
    assert focal.revenue_msat == AMOUNT_MSAT * 500 // 1_000_000
