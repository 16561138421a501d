"""`ops`: an operator's everyday actions through the running service's API (optimize, rollout, rollback).

Goes through the API rather than the database, so every action takes the node's lease, is journaled and
audited exactly as from curl. The API is MCP_API_URL (default http://127.0.0.1:8000) and the key comes
from MCP_API_KEY or --key-file (default data/demo.key, the key `make run` writes). Answers are printed
as JSON on stdout; an API error is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from app.errors import ConfigError, DomainError
from app.security.private_files import read_private_file

DEFAULT_API = "http://127.0.0.1:8000"
DEFAULT_KEY_FILE = Path("data/demo.key")
TIMEOUT_S = 600.0


class ApiError(DomainError):
    """The API refused the request; the message is its own."""

    code = "api_error"


def add_parser(commands: Any) -> None:
    """Register `ops` and its actions."""
    parser = commands.add_parser(
        "ops",
        help="operator actions through the API: optimize, rollout, transactions, rollback",
        description="Operator actions against a running service, through its API (MCP_API_URL, MCP_API_KEY).",
    )
    parser.add_argument("--api", default=os.environ.get("MCP_API_URL", DEFAULT_API), help="the service's URL")
    parser.add_argument("--key-file", type=Path, help=f"file with the API key (default {DEFAULT_KEY_FILE})")
    actions = parser.add_subparsers(dest="ops_command", required=True)

    optimize = actions.add_parser(
        "optimize", help="run a cycle: shadow, or canary/live when the rollout allows"
    )
    optimize.add_argument("node", help="node id")
    optimize.add_argument("--mode", choices=["shadow", "canary", "live"], help="default: the node's own mode")
    optimize.set_defaults(request=lambda a: ("POST", f"/nodes/{a.node}/optimize", _only(mode=a.mode)))

    rollout = actions.add_parser("rollout", help="show the rollout stage and its gate, or promote / demote")
    rollout.add_argument("node", help="node id")
    move = rollout.add_mutually_exclusive_group()
    move.add_argument("--promote", action="store_true", help="to the next stage (its gate must pass)")
    move.add_argument("--demote", action="store_true", help="one stage back")
    rollout.add_argument("--reason", default="", help="why (kept in the audit trail)")
    rollout.set_defaults(request=_rollout)

    listing = actions.add_parser("transactions", help="the node's batches of policy writes, newest first")
    listing.add_argument("node", help="node id")
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(request=lambda a: ("GET", f"/nodes/{a.node}/transactions?limit={a.limit}", None))

    show = actions.add_parser(
        "transaction", help="one transaction with every channel's backup, target and outcome"
    )
    show.add_argument("transaction", help="transaction id")
    show.set_defaults(request=lambda a: ("GET", f"/transactions/{a.transaction}", None))

    rollback = actions.add_parser(
        "rollback",
        help="undo a transaction (or some of its channels), or put a node back to a backup or moment",
    )
    target = rollback.add_mutually_exclusive_group(required=True)
    target.add_argument("--transaction", help="roll back this transaction")
    target.add_argument("--node", help="restore this node (with --backup or --to)")
    rollback.add_argument(
        "--channel", action="append", dest="channels", help="only this channel (repeatable)"
    )
    rollback.add_argument("--backup", help="backup id to restore the node to")
    rollback.add_argument("--to", help="undo every change the service made after this ISO 8601 time")
    rollback.add_argument("--reason", default="", help="why (kept in the audit trail)")
    rollback.set_defaults(request=_rollback)
    parser.set_defaults(handler=run)


def _only(**fields: Any) -> dict[str, Any]:
    """A body with the fields that were given."""
    return {name: value for name, value in fields.items() if value not in (None, "", [])}


def _rollout(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    if args.promote or args.demote:
        action = "promote" if args.promote else "demote"
        return "POST", f"/nodes/{args.node}/rollout", _only(action=action, reason=args.reason)
    return "GET", f"/nodes/{args.node}/rollout", None


def _rollback(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    if args.transaction:
        body = _only(chan_ids=args.channels, reason=args.reason)
        return "POST", f"/transactions/{args.transaction}/rollback", body
    if (args.backup is None) == (args.to is None):
        raise ConfigError("--node needs exactly one of --backup or --to")
    return (
        "POST",
        f"/nodes/{args.node}/rollback",
        _only(backup_id=args.backup, to=args.to, reason=args.reason),
    )


def api_key(key_file: Path | None) -> str:
    """MCP_API_KEY, else the key file (0600)."""
    from_env = os.environ.get("MCP_API_KEY", "").strip()
    if from_env and key_file is None:
        return from_env
    path = key_file or DEFAULT_KEY_FILE
    key = read_private_file(path, "API key file").decode().strip()
    if not key:
        raise ConfigError(f"API key file {path} is empty")
    return key


def run(args: argparse.Namespace) -> int:
    """Send the action's request and print the answer."""
    method, path, body = args.request(args)
    headers = {"Authorization": f"Bearer {api_key(args.key_file)}"}
    try:
        response = httpx.request(
            method, f"{args.api.rstrip('/')}/api/v1{path}", json=body, headers=headers, timeout=TIMEOUT_S
        )
    except httpx.HTTPError as exc:
        raise ApiError(f"the API at {args.api} did not answer ({type(exc).__name__})") from None
    if not response.is_success:
        try:
            error = response.json()["error"]
            message, details = f"{error['code']}: {error['message']}", error.get("details") or {}
        except (ValueError, KeyError, TypeError):
            message, details = response.text[:300], {}
        raise ApiError(f"HTTP {response.status_code} {message}", details if isinstance(details, dict) else {})
    json.dump(response.json(), sys.stdout, indent=2)
    print()
    return 0
