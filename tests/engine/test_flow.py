"""Forwarding history summarised per channel: the vectorised summary equals a plain loop over the events."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.forwarding import ForwardingEvent
from app.engine.flow import DAY_S, NS_PER_S, FlowStats, summarize_forwards
from app.graph.synthetic import generate_graph
from app.sandbox.state import generate_sandbox_state

NOW = 1_770_000_000
WINDOW, RECENT = 30, 7


def reference_summary(events, now_s, window_days, recent_days) -> dict[str, FlowStats]:
    """The definition, one event at a time (the engine's summary before it was vectorised)."""
    window_start_ns = (now_s - window_days * DAY_S) * NS_PER_S
    recent_start_ns = (now_s - recent_days * DAY_S) * NS_PER_S
    midpoint_ns = (now_s - window_days * DAY_S // 2) * NS_PER_S
    stats: dict[str, FlowStats] = {}
    for event in events:
        if event.timestamp_ns < window_start_ns or event.timestamp_ns > now_s * NS_PER_S:
            continue
        outgoing = stats.setdefault(event.chan_id_out, FlowStats())
        outgoing.out_count += 1
        outgoing.out_volume_msat += event.amt_out_msat
        outgoing.out_fee_msat += event.fee_msat
        incoming = stats.setdefault(event.chan_id_in, FlowStats())
        incoming.in_count += 1
        incoming.in_volume_msat += event.amt_in_msat
        if event.timestamp_ns >= recent_start_ns:
            outgoing.recent_out_count += 1
            outgoing.recent_out_volume_msat += event.amt_out_msat
        if event.timestamp_ns >= midpoint_ns:
            outgoing.later_volume_msat += event.amt_out_msat
            incoming.later_volume_msat += event.amt_in_msat
    return stats


def forward(
    seconds_ago: float, chan_in: str, chan_out: str, amount: int = 1_000_000, fee: int = 10
) -> ForwardingEvent:
    return ForwardingEvent(
        timestamp_ns=int((NOW - seconds_ago) * NS_PER_S),
        chan_id_in=chan_in,
        chan_id_out=chan_out,
        amt_in_msat=amount + fee,
        amt_out_msat=amount,
        fee_msat=fee,
    )


def assert_same(events) -> None:
    summary = summarize_forwards(events, NOW, WINDOW, RECENT)
    expected = reference_summary(events, NOW, WINDOW, RECENT)
    assert summary == expected
    assert list(summary) == list(expected)  # same channel order too


def test_a_hub_month_of_forwards_matches_the_loop():
    graph = generate_graph()
    state = generate_sandbox_state(graph, graph.find_node("ACINQ (synthetic)"), seed=42)
    assert len(state.forwards) > 10_000
    summary = summarize_forwards(state.forwards, state.now_s, WINDOW, RECENT)
    assert summary == reference_summary(state.forwards, state.now_s, WINDOW, RECENT)


def test_window_edges_and_a_channel_used_both_ways():
    events = [
        forward(WINDOW * DAY_S, "1", "2"),  # exactly at the window start: inside
        forward(WINDOW * DAY_S + 1, "1", "2"),  # a second earlier: outside
        forward(-1, "2", "3"),  # in the future: outside
        forward(0, "3", "3"),  # in and out through one channel, at now
        forward(RECENT * DAY_S, "2", "1"),  # exactly at the recent start: recent
        forward(WINDOW * DAY_S // 2, "4", "1"),  # exactly at the midpoint: later
    ]
    assert_same(events)
    assert summarize_forwards(iter(events), NOW, WINDOW, RECENT) == summarize_forwards(
        events, NOW, WINDOW, RECENT
    )


def test_no_forwards_or_none_inside_the_window():
    assert summarize_forwards([], NOW, WINDOW, RECENT) == {}
    assert summarize_forwards([forward(WINDOW * DAY_S * 2, "1", "2")], NOW, WINDOW, RECENT) == {}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=-DAY_S, max_value=(WINDOW + 2) * DAY_S),
            st.sampled_from(["11", "12", "13", "14"]),
            st.sampled_from(["11", "12", "13", "14"]),
            st.integers(min_value=0, max_value=2_100_000_000_000_000_000),
            st.integers(min_value=0, max_value=10**9),
        ),
        max_size=40,
    )
)
def test_any_history_matches_the_loop(rows):
    assert_same(
        [forward(ago, chan_in, chan_out, amount, fee) for ago, chan_in, chan_out, amount, fee in rows]
    )
