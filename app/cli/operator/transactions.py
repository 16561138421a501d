"""`transactions list|show|rollback`: the node's batches of policy writes and how to undo them."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.operator.client import (
    Api,
    ExitCode,
    add_connection_arguments,
    confirm,
    operator_command,
    positive_int,
)
from app.cli.operator.output import fields, show, table


def add_parser(commands: Any) -> None:
    """Register `transactions` and its actions."""
    parser = commands.add_parser(
        "transactions", help="a node's write transactions; show and roll back (over the API)"
    )
    actions = parser.add_subparsers(dest="transactions_command", required=True)
    listing = actions.add_parser("list", help="the node's transactions, newest first")
    add_connection_arguments(listing)
    listing.add_argument("node", help="node id")
    listing.add_argument("--state", help="e.g. committed, partial, failed, rolled_back")
    listing.add_argument("--kind", help="e.g. apply, rollback, restore")
    listing.add_argument("--limit", type=positive_int, default=50, help="at most this many (default 50)")
    listing.set_defaults(handler=operator_command(list_transactions))
    detail = actions.add_parser("show", help="one transaction with each channel's backup, target and outcome")
    add_connection_arguments(detail)
    detail.add_argument("transaction", help="transaction id")
    detail.set_defaults(handler=operator_command(show_transaction))
    rollback = actions.add_parser(
        "rollback", help="restore the backup of every applied channel of a transaction"
    )
    add_connection_arguments(rollback)
    rollback.add_argument("transaction", help="transaction id")
    rollback.add_argument("--chan", action="append", dest="chan_ids", help="only this channel (repeatable)")
    rollback.add_argument("--reason", help="recorded in the audit trail")
    rollback.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rollback.set_defaults(handler=operator_command(rollback_transaction))


def _counts(counts: dict[str, int] | None) -> str:
    return ", ".join(f"{name}={count}" for name, count in (counts or {}).items()) or "-"


def list_transactions(args: argparse.Namespace, api: Api) -> int:
    """A table of the node's transactions."""
    items = api.pages(f"/api/v1/nodes/{args.node}/transactions", args.limit, state=args.state, kind=args.kind)
    show(args, items, lambda: table(items, [
        ("ID", lambda t: t["id"]), ("CREATED", lambda t: t["created_at"]), ("KIND", lambda t: t["kind"]),
        ("MODE", lambda t: t["mode"]), ("STATE", lambda t: t["state"]), ("CHANNELS", lambda t: t["channel_count"]),
        ("OUTCOMES", lambda t: _counts(t["outcomes"])),
        ("ROLLED BACK BY", lambda t: ", ".join(t["rolled_back_by"]) or None),
    ]))  # fmt: skip
    return ExitCode.OK


def changes(before: dict[str, Any] | None, target: dict[str, Any] | None) -> str | None:
    """The fields a write changes: `fee_rate_ppm 1 -> 11; disabled False -> True`."""
    before, target = before or {}, target or {}
    changed = [
        f"{name} {before.get(name)} -> {value}" for name, value in target.items() if before.get(name) != value
    ]
    return "; ".join(changed) or None


def render_execution(result: dict[str, Any]) -> str:
    """A rollback's or restore's answer: its transaction, outcomes, refusals and skipped channels."""
    return fields([
        ("transaction", result.get("transaction_id")), ("state", result.get("state")),
        ("outcomes", _counts(result.get("outcomes"))), ("refused", result.get("refused_at_write_time")),
        ("refused by code", _counts(result.get("refused_by_code"))),
        *[("skipped", f"{chan}: {why}") for chan, why in (result.get("skipped") or {}).items()],
    ])  # fmt: skip


def show_transaction(args: argparse.Namespace, api: Api) -> int:
    """The transaction, then one row per channel: before -> target (base msat/ppm), outcome."""
    record = api.get(f"/api/v1/transactions/{args.transaction}")

    def render() -> str:
        head = fields([
            ("transaction", record["id"]), ("node", record["node_id"]), ("kind", record["kind"]),
            ("mode", record["mode"]), ("state", record["state"]), ("created", record["created_at"]),
            ("actor", record["actor"]), ("reason", record["reason"]), ("outcomes", _counts(record["outcomes"])),
            ("backup", record["backup_id"]), ("rolls back", record["rolls_back"]),
            ("rolled back by", ", ".join(record["rolled_back_by"]) or None),
            *[("note", note) for note in record["notes"]],
        ])  # fmt: skip
        channels = record.get("channels") or []
        return head + "\n\n" + table(channels, [
            ("CHANNEL", lambda e: e.get("chan_id")), ("OUTCOME", lambda e: e.get("outcome")),
            ("CHANGE", lambda e: changes(e.get("before"), e.get("target"))),
        ])  # fmt: skip

    show(args, record, render)
    return ExitCode.OK


def rollback_transaction(args: argparse.Namespace, api: Api) -> int:
    """Roll back after confirmation; print the rollback's own transaction."""
    confirm(args, f"roll back transaction {args.transaction}")
    body: dict[str, Any] = {}
    if args.chan_ids:
        body["chan_ids"] = args.chan_ids
    if args.reason:
        body["reason"] = args.reason
    result = api.post(f"/api/v1/transactions/{args.transaction}/rollback", body or None).json()
    show(args, result, lambda: render_execution(result))
    return ExitCode.OK
