"""Nodes: register, list, read, delete, settings."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from app.api.deps import (
    AdministeredNode,
    CurrentPrincipal,
    Cursor,
    Limit,
    Nodes,
    OperatedNode,
    Runtime,
    ViewedNode,
)
from app.api.links import links
from app.api.schemas import NodeHealthOut, NodeOut, PageOut, RegisteredNodeOut
from app.domain.access import ApiKeyRole
from app.services.node_settings import NodeSettings
from app.services.nodes import NodeChange, NodeRegistration

router = APIRouter(prefix="/api/v1/nodes", tags=["nodes"])


NODE_LINKS = links(
    201, "the new node's id",
    *((op, {"node_id": "$response.body#/node/id"}) for op in (
        "get_node_api_v1_nodes__node_id__get", "change_node_api_v1_nodes__node_id__patch",
        "node_health_api_v1_nodes__node_id__health_get", "get_settings_api_v1_nodes__node_id__settings_get",
        "delete_node_api_v1_nodes__node_id__delete",
    )),
)  # fmt: skip


@router.post("", status_code=status.HTTP_201_CREATED, responses=NODE_LINKS)
async def register_node(
    body: NodeRegistration, principal: CurrentPrincipal, nodes: Nodes, request: Request
) -> RegisteredNodeOut:
    """Register a node; its credential goes into the vault and is never returned."""
    tenant_id = principal.require(ApiKeyRole.ADMIN)
    node, warnings = await nodes.register(tenant_id, body, serving_port(request))
    return RegisteredNodeOut(node=NodeOut.of(node), warnings=warnings)


def serving_port(request: Request) -> int | None:
    """The port this request reached the API on: a node URL pointing back at it is refused."""
    server = request.scope.get("server")
    return int(server[1]) if server and server[1] is not None else None


@router.get("")
async def list_nodes(
    principal: CurrentPrincipal, nodes: Nodes, limit: Limit = 50, cursor: Cursor = None
) -> PageOut[NodeOut]:
    """The tenant's nodes."""
    tenant_id = principal.require(ApiKeyRole.VIEWER)
    page = await nodes.list(tenant_id, limit, cursor)
    return PageOut(items=[NodeOut.of(n) for n in page.items], next_cursor=page.next_cursor)


# The two hot reads below answer with bytes they serialise themselves (the response_model stays for the
# OpenAPI): FastAPI's validate-then-serialise of the returned model was a fifth of such a request.
@router.get("/{node_id}", response_model=NodeOut)
async def get_node(node: ViewedNode) -> Response:
    """One node."""
    return Response(NodeOut.of(node).model_dump_json(), media_type="application/json")


@router.patch("/{node_id}")
async def change_node(
    node: AdministeredNode, body: NodeChange, principal: CurrentPrincipal, nodes: Nodes, request: Request
) -> RegisteredNodeOut:
    """Change the name, URL, pinned certificate or credential; a new credential replaces the old in the vault."""
    updated, warnings = await nodes.change(node, body, principal.key_id, serving_port(request))
    return RegisteredNodeOut(node=NodeOut.of(updated), warnings=warnings)


@router.get("/{node_id}/health")
async def node_health(node: ViewedNode, runtime: Runtime) -> NodeHealthOut:
    """The node's circuit (closed, open, half-open) and its last sync, for this tenant only."""
    return NodeHealthOut.of(node, runtime.clients.circuit_state(node.id))


@router.delete("/{node_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_node(node: AdministeredNode, nodes: Nodes) -> Response:
    """Remove a node and its credential."""
    await nodes.delete(node)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{node_id}/settings", response_model=NodeSettings)
async def get_settings(node: ViewedNode) -> Response:
    """Mode, profile, limit overrides, pinned and excluded channels (checked against the profile when set)."""
    return Response(
        NodeSettings.model_validate(node.settings).model_dump_json(), media_type="application/json"
    )


@router.put("/{node_id}/settings")
async def put_settings(
    node: OperatedNode, principal: CurrentPrincipal, nodes: Nodes, body: NodeSettings
) -> NodeSettings:
    """Replace the settings; limits are checked with the validator's own bounds, the mode against the rollout."""
    return await nodes.update_settings(node, body.model_dump(mode="json"), principal.key_id)
