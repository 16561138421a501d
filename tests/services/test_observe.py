"""A sync counts the node's fees and forwards per day from the history it reads, for pages to show."""

from __future__ import annotations

from datetime import timedelta

from app.services.cycles import CycleService
from app.services.flow import FLOW_METRIC, DailyFlow, count_daily
from app.services.runtime import ServiceRuntime
from tests.api.conftest import Service
from tests.services.test_channel_pages import registered_node


async def test_a_sync_stores_the_flow_per_day_of_the_forwards_it_read(live_service: Service):
    runtime: ServiceRuntime = live_service.app.state.runtime
    node = await registered_node(live_service, "flow")
    assert await runtime.storage.metrics.latest(node.tenant_id, node.id, FLOW_METRIC) is None
    synced = await CycleService(runtime).sync(node, actor="test")
    point = await runtime.storage.metrics.latest(node.tenant_id, node.id, FLOW_METRIC)
    assert point is not None
    flow = DailyFlow.from_labels(point.labels)
    assert flow is not None and len(flow.days) == 14  # the shipped 30-day window covers two weeks
    # The same count from the node's own history over the same window.
    client = await runtime.clients.get(node, "test")
    window = timedelta(days=30)
    start = point.timestamp - window
    events = await client.forwarding_history(int(start.timestamp()), int(point.timestamp.timestamp()) + 1)
    assert flow == count_daily(events, point.timestamp, start)
    assert sum(flow.forwards) > 0 and point.value == sum(flow.fees_msat) / 1000
    assert point.timestamp == (await runtime.storage.nodes.get(node.tenant_id, node.id)).last_sync_at
    assert synced["cycle_id"]
