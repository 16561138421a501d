"""Each heuristic against expectations computed by hand on the six-node graph (see conftest)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from app.engine.flow import FlowStats, InferredEvidence
from app.engine.heuristics import HEURISTIC_CLASSES, default_heuristics
from app.engine.heuristics.activity import ActivityHeuristic
from app.engine.heuristics.age_stability import AgeStabilityHeuristic
from app.engine.heuristics.centrality import CentralityHeuristic
from app.engine.heuristics.competitiveness import CompetitivenessHeuristic
from app.engine.heuristics.liquidity import LiquidityHeuristic, band_score
from app.engine.heuristics.network_position import NetworkPositionHeuristic
from app.engine.heuristics.peer_quality import PeerQualityHeuristic
from app.engine.heuristics.reliability import ReliabilityHeuristic
from app.engine.profile import HEURISTIC_NAMES
from app.engine.scoring import score_channel
from tests.factories import make_channel, make_context

P_CHAN = str(800_000 << 40 | 1 << 16)
Q_CHAN = str(800_000 << 40 | 2 << 16)


@pytest.fixture
def channels():
    to_p = make_channel(
        "p",
        capacity_sat=1_000_000,
        local_sat=100_000,
        fee_rate_ppm=100,
        chan_id=P_CHAN,
        remote_balance_sat=890_000,
        local_reserve_sat=10_000,
        remote_reserve_sat=10_000,
        uptime_s=900,
        lifetime_s=1000,
    )
    to_q = make_channel("q", capacity_sat=2_000_000, local_sat=1_000_000, fee_rate_ppm=50, chan_id=Q_CHAN)
    return [to_p, to_q]


def test_registry_has_eight_heuristics_in_name_order():
    names = [cls.name for cls in HEURISTIC_CLASSES]
    assert names == list(HEURISTIC_NAMES)
    assert len(default_heuristics()) == 8


def test_centrality_of_hub_and_leaf(hand_graph, channels):
    context = make_context(hand_graph, "us", channels)
    hub = CentralityHeuristic().score(channels[0], context)
    assert hub.value == pytest.approx(1.0)  # p is first by betweenness, harmonic closeness and PageRank
    leaf = CentralityHeuristic().score(make_channel("y"), context)
    # y: betweenness 0 tied with us, x, z (percentile 0.3); harmonic 3 lowest with z (0.1); PageRank same (0.1)
    assert leaf.value == pytest.approx(0.5 * 0.3 + 0.3 * 0.1 + 0.2 * 0.1)
    assert leaf.facts["peer_betweenness_percentile"] == pytest.approx(0.3)


def test_liquidity_band_and_two_way_usable(hand_graph, channels):
    result = LiquidityHeuristic().score(channels[0], make_context(hand_graph, "us", channels))
    # ratio 0.1 below the band 0.35: 0.1/0.35; usable both ways min(90k, 880k) / 500k = 0.18
    assert result.value == pytest.approx(0.6 * (0.1 / 0.35) + 0.4 * 0.18)
    assert result.facts["target_band"] == [0.35, 0.65]
    assert "below the band" in result.reason


@pytest.mark.parametrize(
    ("ratio", "expected"), [(0.0, 0.0), (0.35, 1.0), (0.5, 1.0), (0.825, 0.5), (1.0, 0.0)]
)
def test_band_score_shape(ratio, expected):
    assert band_score(ratio, 0.35, 0.65) == pytest.approx(expected)


def test_activity_blends_turnover_revenue_count_and_trend(hand_graph, channels):
    flow = FlowStats(
        out_count=15,
        out_volume_msat=600_000_000,
        out_fee_msat=60_000,
        in_count=5,
        in_volume_msat=400_000_000,
        later_volume_msat=700_000_000,
    )
    context = make_context(hand_graph, "us", channels, flows={P_CHAN: flow})
    result = ActivityHeuristic().score(channels[0], context)
    # turnover 1e9/1e9 = 1 -> 1; revenue 60 ppm / 100 -> 0.6; count 15/30 -> 0.5; trend 0.4 -> 0.7
    assert result.value == pytest.approx(0.35 * 1 + 0.25 * 0.6 + 0.2 * 0.5 + 0.2 * 0.7)
    assert result.facts["trend"] == pytest.approx(0.4)


def test_activity_idle_is_zero_and_missing_history_is_unknown(hand_graph, channels):
    idle = ActivityHeuristic().score(channels[1], make_context(hand_graph, "us", channels, flows={}))
    assert idle.value == 0.0
    assert "no forwards" in idle.reason
    missing = ActivityHeuristic().score(channels[1], make_context(hand_graph, "us", channels, flows=None))
    assert missing.value is None
    assert "no forwarding history" in missing.reason


def test_competitiveness_against_market_and_own_fees(hand_graph, channels):
    result = CompetitivenessHeuristic().score(channels[0], make_context(hand_graph, "us", channels))
    # into p, others charge x 300, y 60, z 500, q 1000: one below our 100 -> position 1/4 -> 0.75
    # our own fees [100, 50]: one below, one equal -> position 0.75 -> 0.25
    assert result.value == pytest.approx(0.8 * 0.75 + 0.2 * 0.25)
    assert result.facts["competitors"] == 4
    assert result.facts["market_median_ppm"] == pytest.approx(400.0)


def test_competitiveness_without_enough_competitors_uses_own_fees_only(hand_graph, channels):
    result = CompetitivenessHeuristic().score(channels[1], make_context(hand_graph, "us", channels))
    # into q only p (20) and x (5) charge: 2 < 3 competitors; own fees [100, 50]: 50 is cheapest -> 1 - 0.25
    assert result.value == pytest.approx(0.75)
    assert "market_median_ppm" not in result.facts


def test_reliability_uptime_peer_enabled_share_and_active(hand_graph, channels):
    result = ReliabilityHeuristic().score(channels[0], make_context(hand_graph, "us", channels))
    # uptime 0.9; p announced 4 of its 5 directions (none towards y) -> 0.8; active -> 1
    assert result.value == pytest.approx(0.5 * 0.9 + 0.3 * 0.8 + 0.2 * 1.0)


def test_reliability_inactive_without_uptime(hand_graph, channels):
    channel = make_channel("y", active=False)
    result = ReliabilityHeuristic().score(channel, make_context(hand_graph, "us", channels))
    # no lifetime reported: only y's enabled share (1 of 1) and the inactive flag remain: (0.3*1 + 0.2*0)/0.5
    assert result.value == pytest.approx(0.6)
    assert "inactive" in result.reason


def test_age_stability(hand_graph, channels):
    now = 1_770_076_800
    changes = {P_CHAN: [now - 86_400, now - 2 * 86_400, now - 10 * 86_400, now - 40 * 86_400]}
    context = make_context(
        hand_graph, "us", channels, policy_changes=changes, block_height=800_000 + 90 * 144, now_s=now
    )
    result = AgeStabilityHeuristic().score(channels[0], context)
    # 90 of 180 days -> 0.5; 3 changes inside 30 days of 10 allowed -> 0.7
    assert result.value == pytest.approx(0.6 * 0.5 + 0.4 * 0.7)
    assert result.facts["policy_changes_in_window"] == 3


def test_age_stability_unknown_without_height_or_history(hand_graph, channels):
    result = AgeStabilityHeuristic().score(channels[0], make_context(hand_graph, "us", channels))
    assert result.value is None


def test_peer_quality(hand_graph, channels):
    result = PeerQualityHeuristic().score(channels[0], make_context(hand_graph, "us", channels))
    # p: 15M sat = 0.15 BTC -> log10(1.5)/3; 5 channels -> log10(5)/3; top betweenness -> 1
    assert result.value == pytest.approx((math.log10(1.5) / 3 + math.log10(5) / 3 + 1.0) / 3)


def test_network_position(hand_graph, channels):
    result = NetworkPositionHeuristic().score(channels[0], make_context(hand_graph, "us", channels))
    # p's other neighbours {x, y, z, q}: q is also our peer (1 alternative) -> 0.5/2; 3 of 4 new -> 0.5*0.75
    assert result.value == pytest.approx(0.25 + 0.375)
    assert result.facts["alternative_two_hop_routes"] == 1


def test_graph_heuristics_unknown_for_a_peer_outside_the_graph(hand_graph, channels):
    stranger = make_channel("not-in-graph")
    context = make_context(hand_graph, "us", channels)
    for heuristic in (
        CentralityHeuristic(),
        CompetitivenessHeuristic(),
        PeerQualityHeuristic(),
        NetworkPositionHeuristic(),
    ):
        assert heuristic.score(stranger, context).value is None, heuristic.name


def test_activity_from_inferred_flow_is_labelled_and_trusted_less(hand_graph, channels):
    evidence = InferredEvidence(samples=12, observed_days=10.0)
    flow = FlowStats(out_count=4, out_volume_msat=300_000_000, in_count=2, in_volume_msat=100_000_000,
                     inferred=evidence)  # fmt: skip
    base = make_context(hand_graph, "us", channels, flows={P_CHAN: flow})
    context = dataclasses.replace(base, flow_evidence=evidence, node_fees_month_msat=None)
    result = ActivityHeuristic().score(channels[0], context)
    # turnover 4e8/1e9 = 0.4; revenue unknown; count 4/30; trend unknown (10 of 30 days watched)
    assert result.value == pytest.approx((0.35 * 0.4 + 0.2 * 4 / 30) / 0.55)
    assert result.confidence == 0.5
    assert result.facts["flow_source"] == "inferred_from_balance_changes"
    assert result.facts["fees_earned_msat"] is None and result.facts["trend"] is None
    assert "inferred from balance changes over 12 syncs in 10.0 days" in result.reason
    assert "net flow only" in result.reason
    # A channel that never moved gets empty inferred stats, not "no history".
    idle = ActivityHeuristic().score(channels[1], context)
    assert idle.value == 0.0 and idle.facts["syncs_compared"] == 12
    # The node's 30-day fee sum is shared out by net outflow, as an estimate.
    with_fees = dataclasses.replace(base, flow_evidence=evidence, node_fees_month_msat=30_000)
    estimated = ActivityHeuristic().score(channels[0], with_fees)
    assert estimated.facts["estimated_revenue_ppm_of_capacity"] == pytest.approx(30.0)


def test_a_less_trusted_score_weighs_less_in_the_total(hand_graph, channels):
    evidence = InferredEvidence(samples=12, observed_days=10.0)
    flow = FlowStats(out_count=30, out_volume_msat=10**9, inferred=evidence)
    context = dataclasses.replace(
        make_context(hand_graph, "us", channels, flows={P_CHAN: flow}), flow_evidence=evidence
    )
    inferred = score_channel(channels[0], context, default_heuristics())
    real = score_channel(
        channels[0], make_context(hand_graph, "us", channels, flows={P_CHAN: FlowStats(out_count=30,
                                                                                    out_volume_msat=10**9)}),
        default_heuristics(),
    )  # fmt: skip
    weight = context.profile.weights["activity"]
    assert inferred.known_weight == pytest.approx(real.known_weight - weight / 2)
    activity = inferred.get("activity")
    assert activity is not None and activity.confidence == 0.5
    assert activity.effective_weight == pytest.approx(weight / 2 / inferred.known_weight, abs=1e-6)
