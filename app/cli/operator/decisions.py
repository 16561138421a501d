"""`decisions list|show|approve|reject`: what the optimizer proposed, and the operator's answer."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.operator.client import Api, ExitCode, add_connection_arguments, operator_command, positive_int
from app.cli.operator.output import fields, show, table


def add_parser(commands: Any) -> None:
    """Register `decisions` and its actions."""
    parser = commands.add_parser(
        "decisions", help="list decisions of a node; approve or reject them (over the API)"
    )
    actions = parser.add_subparsers(dest="decisions_command", required=True)

    listing = actions.add_parser("list", help="the node's decisions, newest first")
    add_connection_arguments(listing)
    listing.add_argument("node", help="node id")
    listing.add_argument("--status", help="e.g. needs_approval, approved, applied, rejected, no_write")
    listing.add_argument("--kind", help="e.g. raise_fee, lower_fee, hold")
    listing.add_argument("--limit", type=positive_int, default=50, help="at most this many (default 50)")
    listing.set_defaults(handler=operator_command(list_decisions))

    detail = actions.add_parser("show", help="one decision with its reasons and validation")
    add_connection_arguments(detail)
    detail.add_argument("decision", help="decision id")
    detail.set_defaults(handler=operator_command(show_decision))

    for name, help_text in (
        ("approve", "approve a decision waiting for an operator (in canary or live it is written at once)"),
        ("reject", "reject a pending or approved decision"),
    ):
        review = actions.add_parser(name, help=help_text)
        add_connection_arguments(review)
        review.add_argument("decision", help="decision id")
        review.set_defaults(handler=operator_command(review_decision), verb=name)


def _fee(policy: dict[str, Any] | None) -> Any:
    return None if policy is None else policy.get("fee_rate_ppm")


def list_decisions(args: argparse.Namespace, api: Api) -> int:
    """A table: id, channel, kind, status, fee now -> proposed, confidence, validator verdict."""
    decisions = api.pages(
        f"/api/v1/nodes/{args.node}/decisions", args.limit, status=args.status, kind=args.kind
    )
    show(args, decisions, lambda: table(decisions, [
        ("ID", lambda d: d["id"]), ("CHANNEL", lambda d: d["chan_id"]), ("KIND", lambda d: d["kind"]),
        ("STATUS", lambda d: d["status"]),
        ("FEE PPM", lambda d: f"{_fee(d['decision']['current_policy'])} -> {_fee(d['decision']['proposed_policy'])}"),
        ("CONF", lambda d: d["decision"].get("confidence")),
        ("VERDICT", lambda d: (d.get("validation") or {}).get("verdict")),
        ("CREATED", lambda d: d["created_at"]),
    ]))  # fmt: skip
    return ExitCode.OK


def _summary(record: dict[str, Any]) -> list[tuple[str, Any]]:
    decision = record["decision"]
    issues = (record.get("validation") or {}).get("issues") or []
    return [
        ("decision", record["id"]), ("channel", record["chan_id"]), ("kind", record["kind"]),
        ("status", record["status"]), ("mode", record["mode"]),
        ("fee ppm", f"{_fee(decision['current_policy'])} -> {_fee(decision['proposed_policy'])}"),
        ("confidence", decision.get("confidence")), ("decided by", record.get("decided_by")),
        ("transaction", record.get("transaction_id")),
        *[("reason", reason) for reason in decision.get("reasons") or []],
        *[("issue", f"{issue['code']}: {issue['message']}") for issue in issues],
    ]  # fmt: skip


def show_decision(args: argparse.Namespace, api: Api) -> int:
    """One decision in full."""
    record = api.get(f"/api/v1/decisions/{args.decision}")
    show(args, record, lambda: fields(_summary(record)))
    return ExitCode.OK


def review_decision(args: argparse.Namespace, api: Api) -> int:
    """Approve or reject; print the decision's new status."""
    record = api.post(f"/api/v1/decisions/{args.decision}/{args.verb}").json()
    show(
        args,
        record,
        lambda: fields([*_summary(record)[:5], ("transaction", record.get("transaction_id"))]),
    )
    return ExitCode.OK
