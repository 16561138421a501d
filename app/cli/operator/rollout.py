"""`rollout status|promote|demote`: the node's rollout stage and the gate to the next one."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.operator.client import Api, ExitCode, add_connection_arguments, operator_command
from app.cli.operator.output import fields, show, table


def add_parser(commands: Any) -> None:
    """Register `rollout` and its actions."""
    parser = commands.add_parser(
        "rollout", help="a node's rollout stage and its gate; promote or demote (over the API)"
    )
    actions = parser.add_subparsers(dest="rollout_command", required=True)
    status = actions.add_parser("status", help="stage, allowed modes and each check of the gate")
    add_connection_arguments(status)
    status.add_argument("node", help="node id")
    status.set_defaults(handler=operator_command(rollout_status))
    for name, help_text in (
        ("promote", "move the node one stage on (its gate must pass)"),
        ("demote", "move the node one stage back"),
    ):
        change = actions.add_parser(name, help=help_text)
        add_connection_arguments(change)
        change.add_argument("node", help="node id")
        change.add_argument("--reason", help="recorded in the audit trail")
        change.set_defaults(handler=operator_command(change_stage), action=name)


def gate_word(next_stage: str | None, passed: bool | None) -> str:
    """`passed`, `not passed`, or `-` at the last stage (no gate is left to pass)."""
    if not next_stage:
        return "-"
    return "passed" if passed else "not passed"


def render(status: dict[str, Any]) -> str:
    """The stage, then the gate's checks as a table."""
    gate = status.get("gate") or {}
    head = fields([
        ("stage", status["stage"]), ("since", status.get("entered_at")),
        ("allowed modes", ", ".join(status.get("allowed_modes") or [])),
        ("canary channels", ", ".join(status.get("canary_channels") or []) or "-"),
        ("next stage", gate.get("next_stage") or "- (last stage)"),
        ("gate", gate_word(gate.get("next_stage"), status.get("gate_passed"))),
        ("may promote", "yes" if status.get("operator_may_promote") else "no"),
    ])  # fmt: skip
    checks = gate.get("checks") or []
    if not checks:
        return head
    return head + "\n\n" + table(checks, [
        ("CHECK", lambda c: c["name"]), ("STATUS", lambda c: c["status"]), ("DETAIL", lambda c: c.get("detail")),
    ])  # fmt: skip


def rollout_status(args: argparse.Namespace, api: Api) -> int:
    """The rollout of one node."""
    status = api.get(f"/api/v1/nodes/{args.node}/rollout")
    show(args, status, lambda: render(status))
    return ExitCode.OK


def change_stage(args: argparse.Namespace, api: Api) -> int:
    """Promote or demote; a gate that does not pass is a refusal (exit 1) with the failing checks."""
    body = {"action": args.action, **({"reason": args.reason} if args.reason else {})}
    status = api.post(f"/api/v1/nodes/{args.node}/rollout", body).json()
    show(args, status, lambda: render(status))
    return ExitCode.OK
