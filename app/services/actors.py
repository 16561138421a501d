"""Who acts when no API key does: recorded as the actor of transactions, decisions and audit records."""

from __future__ import annotations

SCHEDULER_ACTOR = "scheduler"
HEALTH_ACTOR = "health-watch"  # automatic rollbacks
RECOVERY_ACTOR = "recovery"
MAINTENANCE_ACTOR = "maintenance"  # daily backups, export and retention
