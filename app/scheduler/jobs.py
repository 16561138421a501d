"""The service's background jobs, each a supervised loop: cycles, recovery, health watch and backups."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from app.scheduler.runner import CycleScheduler
from app.scheduler.supervisor import every
from app.services.expiry import DecisionExpiry
from app.services.health_watch import HealthWatch
from app.services.maintenance import BackupMaintenance
from app.services.recovery import RecoveryService
from app.services.rollbacks import RollbackService
from app.services.runtime import ServiceRuntime

Job = Callable[[], Awaitable[None]]
EXPIRY_INTERVAL_S = 600.0  # waiting decisions are looked at every 10 minutes


def background_jobs(runtime: ServiceRuntime) -> dict[str, Job]:
    """Name -> loop; recovery runs once at start-up, then periodically."""
    settings = runtime.settings
    scheduler = CycleScheduler(
        runtime,
        interval_s=settings.schedule_interval_s,
        jitter_s=settings.schedule_jitter_s,
        lease_s=settings.schedule_interval_s / 2,  # outlives any pass, expires before the next
    )
    watch = HealthWatch(runtime, scheduler.cycles.rollouts, RollbackService(runtime))
    jobs: dict[str, Job] = {
        "recovery": partial(
            every, "recovery", settings.recovery_interval_s, RecoveryService(runtime).run_once, run_first=True
        ),
        "rollback-watch": partial(
            every, "rollback-watch", settings.rollback_check_interval_s, watch.check_once
        ),
        "backups": partial(
            every, "backups", settings.maintenance_interval_s, BackupMaintenance(runtime).run_once
        ),
        "decision-expiry": partial(
            every, "decision-expiry", EXPIRY_INTERVAL_S, DecisionExpiry(runtime).run_once, run_first=True
        ),
    }
    if settings.schedule_enabled:
        jobs["cycle-scheduler"] = partial(
            every,
            "cycle-scheduler",
            settings.schedule_interval_s,
            scheduler.tick,
            jitter_s=settings.schedule_jitter_s,
        )
    return jobs
