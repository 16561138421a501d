"""Annotated dependencies: the runtime, the authenticated principal, and tenant-scoped node lookup."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.domain.access import ApiKeyRole
from app.errors import AuthenticationError, StorageUnavailableError
from app.observability.request_context import bind_caller
from app.services.accounts import AccountService, Principal
from app.services.cycles import CycleService
from app.services.nodes import NodeService
from app.services.runtime import ServiceRuntime
from app.storage.records import NodeRecord

MAX_PAGE = 500


# The providers are `async def` though they never await: FastAPI runs a plain `def` dependency in a worker
# thread, and four thread hops per request cost more than the whole cached read.
async def get_runtime(request: Request) -> ServiceRuntime:
    """The shared runtime built by the lifespan."""
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


Runtime = Annotated[ServiceRuntime, Depends(get_runtime)]


async def get_accounts(request: Request) -> AccountService:
    """Tenants, keys and authentication."""
    accounts: AccountService = request.app.state.accounts
    return accounts


Accounts = Annotated[AccountService, Depends(get_accounts)]


# Declares the scheme in the OpenAPI (the Authorize button of /docs); the check and its error are ours.
bearer_scheme = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer <key>`")


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The caller behind `Authorization: Bearer <key>`, rate-limited per key, and per address once it fails.

    The runtime and the accounts come from the app's state directly, not as dependencies of their own:
    every dependency costs FastAPI a solve per request, and this one runs on every authenticated call.
    """
    state = request.app.state
    runtime: ServiceRuntime = state.runtime
    accounts: AccountService = state.accounts
    token = credentials.credentials.strip() if credentials is not None else ""
    address = request.client.host if request.client else "-"  # the proxy's unless uvicorn trusts its headers
    await runtime.auth_failures.check(address)
    try:  # an empty token is refused by authenticate, with the same message as an absent header
        principal = await accounts.authenticate(token)
    except StorageUnavailableError:
        raise StorageUnavailableError("storage is unavailable, so API keys cannot be checked") from None
    except AuthenticationError:
        if token:  # a guess; a missing header is a client's mistake, not an attempt on a key
            await runtime.auth_failures.failed(address)
        raise
    await runtime.limiter.check(principal.key_id)
    bind_caller(principal.tenant_id, token)  # the tenant on every log line; the key redacted from them
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_node_service(runtime: Runtime) -> NodeService:
    """Node registration and settings."""
    return NodeService(runtime)


async def get_cycle_service(request: Request) -> CycleService:
    """Sync, optimize and the reads built on them (the runtime read directly: one solve less per read)."""
    return CycleService(request.app.state.runtime)


Nodes = Annotated[NodeService, Depends(get_node_service)]
Cycles = Annotated[CycleService, Depends(get_cycle_service)]
NodeId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="page size")]
Cursor = Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")]


def node_reader(needed: ApiKeyRole) -> object:
    """A dependency resolving `node_id` inside the caller's tenant after checking the role."""

    async def resolve(node_id: NodeId, principal: CurrentPrincipal, request: Request) -> NodeRecord:
        tenant_id = principal.require(needed)
        return await NodeService(request.app.state.runtime).get(tenant_id, node_id)

    return Depends(resolve)


ViewedNode = Annotated[NodeRecord, node_reader(ApiKeyRole.VIEWER)]
OperatedNode = Annotated[NodeRecord, node_reader(ApiKeyRole.OPERATOR)]
AdministeredNode = Annotated[NodeRecord, node_reader(ApiKeyRole.ADMIN)]
