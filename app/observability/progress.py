"""Progress of long work (a sync, an optimize), reported from wherever the work is, read by its job.

A context variable rather than a parameter: the node clients and the cycle report progress without every
signature between the API route and the per-channel read carrying a reporter. Outside a job it does nothing.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


@dataclass
class Progress:
    """The current phase and, when countable, how far into it the work is."""

    phase: str = "queued"
    done: int | None = None
    total: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """For the job record."""
        return {"phase": self.phase, "done": self.done, "total": self.total}


_current: ContextVar[Progress | None] = ContextVar("progress", default=None)


def track(progress: Progress) -> None:
    """Report into `progress` from this context on (a job's task sets it once at its start)."""
    _current.set(progress)


def report(phase: str, done: int | None = None, total: int | None = None) -> None:
    """Say where the current work is; a no-op outside a job."""
    progress = _current.get()
    if progress is not None:
        progress.phase, progress.done, progress.total = phase, done, total
