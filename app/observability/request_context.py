"""The id of the request being served, for log lines written far below the API (node calls, jobs)."""

from __future__ import annotations

from contextvars import ContextVar

# Set by the request-id middleware; jobs started by a request inherit it (tasks copy the context).
current_request_id: ContextVar[str] = ContextVar("request_id", default="-")
