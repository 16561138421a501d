"""`status`: is the API up and ready, and how each of the tenant's nodes stands (stage, circuit, last sync)."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.operator.client import Api, ExitCode, OperatorError, add_connection_arguments, operator_command
from app.cli.operator.output import fields, show, table
from app.cli.operator.rollout import gate_word


def add_parser(commands: Any) -> None:
    """Register `status`."""
    parser = commands.add_parser(
        "status", help="the API's readiness and each node's stage, circuit and last sync (over the API)"
    )
    add_connection_arguments(parser)
    parser.set_defaults(handler=operator_command(status, key_required=False))


def _ready(api: Api) -> dict[str, Any]:
    """/ready's body; a 503 (still loading, storage down) is a state to show, not an error."""
    try:
        ready: dict[str, Any] = api.get("/ready")
    except OperatorError as exc:
        if exc.code != ExitCode.SERVER_ERROR:
            raise
        response = api.call_unchecked("GET", "/ready")
        ready = response.json() if response.content else {"status": "not ready"}
    return ready


def _node_row(api: Api, node: dict[str, Any]) -> dict[str, Any]:
    rollout = api.get(f"/api/v1/nodes/{node['id']}/rollout")
    health = api.get(f"/api/v1/nodes/{node['id']}/health")
    return {
        "id": node["id"],
        "name": node["name"],
        "mode": node["settings"].get("mode"),
        "stage": rollout["stage"],
        "next_stage": (rollout.get("gate") or {}).get("next_stage"),
        "gate_passed": rollout.get("gate_passed"),
        "circuit": health.get("circuit"),
        "last_sync_at": node["last_sync_at"],
        "last_error": node["last_error"],
    }


def status(args: argparse.Namespace, api: Api) -> int:
    """Readiness always; the nodes when a key is given. Exit 5 when the API is not ready."""
    ready = _ready(api)
    nodes = [_node_row(api, node) for node in api.pages("/api/v1/nodes", None)] if api.has_key else None
    document = {"api": api.url, "ready": ready, "nodes": nodes}

    def render() -> str:
        graph = ready.get("graph") or {}
        head = fields([
            ("api", api.url), ("status", ready.get("status")), ("mode", ready.get("mode")),
            ("cache", ready.get("cache")),
            ("graph", f"{graph.get('nodes')} nodes, {graph.get('channels')} channels" if graph else None),
        ])  # fmt: skip
        if nodes is None:
            return head + "\n\n(no API key given: nodes not shown)"
        return head + "\n\n" + table(nodes, [
            ("NODE", lambda n: n["id"]), ("NAME", lambda n: n["name"]), ("MODE", lambda n: n["mode"]),
            ("STAGE", lambda n: n["stage"]), ("GATE", lambda n: gate_word(n["next_stage"], n["gate_passed"])),
            ("CIRCUIT", lambda n: n["circuit"]), ("LAST SYNC", lambda n: n["last_sync_at"]),
            ("LAST ERROR", lambda n: n["last_error"]),
        ])  # fmt: skip

    show(args, document, render)
    return ExitCode.OK if ready.get("status") == "ready" else ExitCode.SERVER_ERROR
