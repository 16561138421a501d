"""`backups restore`: put a node back to one of its backups, over the API (beside the host-side actions)."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.operator.client import Api, ExitCode, add_connection_arguments, confirm, operator_command
from app.cli.operator.output import show
from app.cli.operator.transactions import render_execution


def add_actions(actions: Any) -> None:
    """Add `restore` to the `backups` command (its other actions work on the database directly)."""
    restore = actions.add_parser(
        "restore",
        help="restore a node to a backup over the API (list them with `nodes backups NODE`)",
    )
    add_connection_arguments(restore)
    restore.add_argument("node", help="node id")
    restore.add_argument("backup", help="backup id")
    restore.add_argument("--reason", help="recorded in the audit trail")
    restore.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    restore.set_defaults(handler=operator_command(restore_backup))


def restore_backup(args: argparse.Namespace, api: Api) -> int:
    """Restore after confirmation; print the restore's transaction."""
    confirm(args, f"restore node {args.node} to backup {args.backup}")
    body = {"backup_id": args.backup, **({"reason": args.reason} if args.reason else {})}
    result = api.post(f"/api/v1/nodes/{args.node}/rollback", body).json()
    show(args, result, lambda: render_execution(result))
    return ExitCode.OK
