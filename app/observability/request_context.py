"""The request and tenant being served, for log lines written far below the API (node calls, jobs)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def background_pass(job: str) -> Iterator[str]:
    """One pass of a background job: its log lines share a fresh id naming the job (there is no request)."""
    pass_id = f"{job}-{secrets.token_hex(4)}"
    token = current_request_id.set(pass_id)
    try:
        yield pass_id
    finally:
        current_request_id.reset(token)


@contextmanager
def working_for(tenant_id: str) -> Iterator[None]:
    """Background work on one tenant's node: its log lines carry that tenant, as a request's do."""
    token = current_tenant_id.set(tenant_id)
    try:
        yield
    finally:
        current_tenant_id.reset(token)
