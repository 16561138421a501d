"""The request and tenant being served, for log lines written far below the API (node calls, jobs)."""

from __future__ import annotations

from contextvars import ContextVar

# Set by the request-id middleware; jobs started by a request inherit it (tasks copy the context).
current_request_id: ContextVar[str] = ContextVar("request_id", default="-")
# Set once the caller's key is known (app/api/deps.py); "-" before that and for the platform admin.
current_tenant_id: ContextVar[str] = ContextVar("tenant_id", default="-")
# The caller's API key, so the log redacts it verbatim wherever it turns up while serving the request.
current_credential: ContextVar[str | None] = ContextVar("credential", default=None)


def bind_caller(tenant_id: str | None, credential: str) -> None:
    """Remember who is being served: the tenant for every log line, the key for the redaction filter."""
    current_tenant_id.set(tenant_id or "-")
    current_credential.set(credential or None)
