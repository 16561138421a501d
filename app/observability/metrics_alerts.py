"""Prometheus metrics of alert delivery; recorded by the sink and the dispatcher in the service process."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

ALERTS_RAISED = Counter("mcp_alerts_raised_total", "Alerts raised by the service, by kind", ["kind"])
ALERT_DELIVERIES = Counter(
    "mcp_alert_deliveries_total",
    "Outcomes of delivery attempts: sent, retry (Telegram failed), rate_limited, quiet, unrouted (no chat "
    "set), dropped (too old)",
    ["outcome"],
)
ALERT_OUTBOX_DEPTH = Gauge("mcp_alert_outbox_depth", "Alerts in the outbox waiting to be delivered")
ALERT_OLDEST_PENDING_SECONDS = Gauge(
    "mcp_alert_oldest_pending_seconds",
    "Age of the oldest alert waiting in the outbox after a delivery pass (0 when none waits)",
)
