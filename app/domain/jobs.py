"""Background jobs: long work (sync, optimize) a client starts and then polls."""

from __future__ import annotations

from enum import StrEnum


class JobKind(StrEnum):
    """What a job runs."""

    SYNC = "sync"
    OPTIMIZE = "optimize"


class JobState(StrEnum):
    """Where a job stands; every state but RUNNING is final."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # its process stopped (shutdown, crash) before the work ended
