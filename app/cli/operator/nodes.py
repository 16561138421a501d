"""`nodes list|add|sync|optimize|backups`: the tenant's nodes over the API."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli.operator.client import (
    Api,
    ExitCode,
    OperatorError,
    add_connection_arguments,
    operator_command,
    positive_int,
)
from app.cli.operator.output import fields, show, table

MODES = ("shadow", "canary", "live")


def add_parser(commands: Any) -> None:
    """Register `nodes` and its actions."""
    parser = commands.add_parser("nodes", help="list, register, sync and optimize nodes (over the API)")
    actions = parser.add_subparsers(dest="nodes_command", required=True)

    listing = actions.add_parser("list", help="the tenant's nodes with their mode and last sync")
    add_connection_arguments(listing)
    listing.set_defaults(handler=operator_command(list_nodes))

    add = actions.add_parser("add", help="register a node (its credential is read from files, never argv)")
    add_connection_arguments(add)
    add.add_argument("--name", required=True, help="a name for the node, unique in the tenant")
    add.add_argument("--url", required=True, help="the node's REST URL, e.g. https://10.0.0.5:8080")
    add.add_argument("--backend", choices=("lnd", "lnbits"), default="lnd", help="lnd (default) or lnbits")
    add.add_argument("--macaroon-file", type=Path, help="LND: the macaroon, binary as LND writes it, or hex")
    add.add_argument("--tls-cert-file", type=Path, help="LND: the node's TLS certificate (PEM) to pin")
    add.add_argument("--admin-token-file", type=Path, help="LNbits: file with an admin user's Bearer token")
    add.add_argument("--wallet-key-file", type=Path, help="LNbits: file with a wallet key (for the balance)")
    add.add_argument("--profile", help="decision profile (e.g. conservative, balanced)")
    add.set_defaults(handler=operator_command(add_node))

    for name, help_text in (
        ("sync", "read the node now and score its channels (a job: progress on stderr)"),
        ("optimize", "run a decision cycle; canary or live mode writes approved changes (a job)"),
    ):
        job = actions.add_parser(name, help=help_text)
        add_connection_arguments(job)
        job.add_argument("node", help="node id")
        if name == "optimize":
            job.add_argument("--mode", choices=MODES, help="default: the node's own mode")
        job.set_defaults(handler=operator_command(sync_node if name == "sync" else optimize_node))

    settings = actions.add_parser(
        "settings", help="the node's mode, profile, limit overrides and channel lists"
    )
    add_connection_arguments(settings)
    settings.add_argument("node", help="node id")
    settings.set_defaults(handler=operator_command(show_settings))

    configure = actions.add_parser(
        "configure", help="change some of the node's settings (the others are kept)"
    )
    add_connection_arguments(configure)
    configure.add_argument("node", help="node id")
    configure.add_argument(
        "--mode", choices=MODES, help="the mode cycles run in (the rollout stage must allow it)"
    )
    configure.add_argument("--profile", help="decision profile")
    configure.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a safety-limit override, e.g. daily_cap=30 (repeatable; VALUE 'default' removes the override)",
    )
    configure.add_argument(
        "--auto-promote",
        action=argparse.BooleanOptionalAction,
        help="let the service promote when the gate passes",
    )
    configure.set_defaults(handler=operator_command(configure_node))

    backups = actions.add_parser("backups", help="the node's backups kept by the API, newest first")
    add_connection_arguments(backups)
    backups.add_argument("node", help="node id")
    backups.add_argument("--limit", type=positive_int, default=50, help="at most this many (default 50)")
    backups.set_defaults(handler=operator_command(list_backups))


def list_nodes(args: argparse.Namespace, api: Api) -> int:
    """A table of the tenant's nodes."""
    nodes = api.pages("/api/v1/nodes", None)
    show(args, nodes, lambda: table(nodes, [
        ("ID", lambda n: n["id"]), ("NAME", lambda n: n["name"]), ("BACKEND", lambda n: n["backend"]),
        ("MODE", lambda n: n["settings"].get("mode")), ("PROFILE", lambda n: n["settings"].get("profile")),
        ("LAST SYNC", lambda n: n["last_sync_at"]), ("LAST ERROR", lambda n: n["last_error"]),
    ]))  # fmt: skip
    return ExitCode.OK


def _read(path: Path) -> bytes:
    """A credential file's bytes; an unreadable file is a usage error naming it."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise OperatorError(ExitCode.USAGE, f"cannot read {path}: {exc.strerror}") from None


def _macaroon_hex(path: Path) -> str:
    """The macaroon as hex: LND's files are binary; a file that already holds hex is taken as it is."""
    raw = _read(path)
    text = raw.strip()
    try:
        bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return raw.hex()
    return text.decode("ascii").lower()


def registration(args: argparse.Namespace) -> dict[str, Any]:
    """The registration body, credentials read from their files (LND: macaroon and certificate; LNbits: tokens)."""
    body: dict[str, Any] = {"name": args.name, "backend": args.backend, "url": args.url}
    if args.backend == "lnd":
        if args.macaroon_file is None or args.admin_token_file or args.wallet_key_file:
            raise OperatorError(
                ExitCode.USAGE, "an LND node needs --macaroon-file (and no LNbits token files)"
            )
        body["macaroon"] = _macaroon_hex(args.macaroon_file)
        if args.tls_cert_file is not None:
            body["tls_cert_pem"] = _read(args.tls_cert_file).decode(errors="replace")
    else:
        if args.admin_token_file is None or args.macaroon_file or args.tls_cert_file:
            raise OperatorError(ExitCode.USAGE, "an LNbits node needs --admin-token-file (and no LND files)")
        body["admin_token"] = _read(args.admin_token_file).decode(errors="replace").strip()
        if args.wallet_key_file is not None:
            body["wallet_api_key"] = _read(args.wallet_key_file).decode(errors="replace").strip()
    if args.profile:
        body["settings"] = {"profile": args.profile}
    return body


def add_node(args: argparse.Namespace, api: Api) -> int:
    """Register the node; print its id (and any warning about its credential)."""
    created = api.post("/api/v1/nodes", registration(args)).json()
    node = created["node"]
    show(args, created, lambda: fields([
        ("node id", node["id"]), ("name", node["name"]), ("url", node["url"]),
        ("tls pinned", node["tls_cert_pinned"]), ("mode", node["settings"].get("mode")),
        *[("warning", warning) for warning in created["warnings"]],
    ]))  # fmt: skip
    return ExitCode.OK


def sync_node(args: argparse.Namespace, api: Api) -> int:
    """Sync as a job and print what it read."""
    result = api.run_job(f"/api/v1/nodes/{args.node}/sync", None, "sync")
    show(args, result, lambda: fields([
        ("channels", result.get("channels")), ("external changes", result.get("external_changes")),
        ("seconds", result.get("seconds")), ("cycle", result.get("cycle_id")), ("job", result.get("job_id")),
    ]))  # fmt: skip
    return ExitCode.OK


def _counts(counts: dict[str, int] | None) -> str:
    return ", ".join(f"{name}={count}" for name, count in (counts or {}).items()) or "-"


def optimize_node(args: argparse.Namespace, api: Api) -> int:
    """Run a cycle as a job and print its decisions, verdicts and what was written."""
    result = api.run_job(
        f"/api/v1/nodes/{args.node}/optimize", {"mode": args.mode} if args.mode else {}, "optimize"
    )

    def render() -> str:
        execution = result.get("execution") or {}
        rows = [
            ("cycle", result.get("cycle_id")), ("mode", result.get("mode")), ("profile", result.get("profile")),
            ("channels", result.get("channels")), ("decisions", _counts(result.get("decisions"))),
            ("verdicts", _counts(result.get("verdicts"))),
            ("refused by code", _counts(result.get("rejections_by_code"))),
        ]  # fmt: skip
        if execution:
            rows += [
                ("transaction", execution.get("transaction_id")), ("state", execution.get("state")),
                ("outcomes", _counts(execution.get("outcomes"))),
                ("canary channels", ", ".join(execution.get("canary_channels") or []) or "-"),
            ]  # fmt: skip
        return fields(rows)

    show(args, result, render)
    return ExitCode.OK


def list_backups(args: argparse.Namespace, api: Api) -> int:
    """The node's hot backups (`backups restore NODE ID` puts one back)."""
    backups = api.pages(f"/api/v1/nodes/{args.node}/backups", args.limit)
    show(args, backups, lambda: table(backups, [
        ("ID", lambda b: b["id"]), ("CREATED", lambda b: b["created_at"]), ("KIND", lambda b: b["kind"]),
        ("CHANNELS", lambda b: b["channels"]), ("TRANSACTION", lambda b: b["transaction_id"]),
    ]))  # fmt: skip
    return ExitCode.OK


def render_settings(settings: dict[str, Any]) -> str:
    """Mode, profile, then each limit override and channel list."""
    limits = settings.get("limits") or {}
    return fields([
        ("mode", settings.get("mode")), ("profile", settings.get("profile") or "(the default profile)"),
        ("auto promote", "yes" if settings.get("auto_promote") else "no"),
        *[(f"limit {name}", value) for name, value in sorted(limits.items())],
        *[(name.replace("_", " "), ", ".join(settings.get(name) or []) or None)
          for name in ("pinned_channels", "excluded_channels", "canary_channels")],
    ])  # fmt: skip


def show_settings(args: argparse.Namespace, api: Api) -> int:
    """The node's settings."""
    settings = api.get(f"/api/v1/nodes/{args.node}/settings")
    show(args, settings, lambda: render_settings(settings))
    return ExitCode.OK


def _number(text: str) -> int | float | bool:
    """A limit's value as the API expects it: an integer, a decimal or true/false."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(lowered)
    except ValueError:
        pass
    try:
        return float(lowered)
    except ValueError:
        raise OperatorError(
            ExitCode.USAGE, f"a limit's value must be a number or true/false: {text!r}"
        ) from None


def configure_node(args: argparse.Namespace, api: Api) -> int:
    """Read the settings, change what was asked, write them back whole (PUT replaces every field)."""
    settings = api.get(f"/api/v1/nodes/{args.node}/settings")
    if args.mode:
        settings["mode"] = args.mode
    if args.profile:
        settings["profile"] = args.profile
    if args.auto_promote is not None:
        settings["auto_promote"] = args.auto_promote
    limits = dict(settings.get("limits") or {})
    for assignment in args.limit:
        name, sep, value = assignment.partition("=")
        if not sep or not name.strip():
            raise OperatorError(
                ExitCode.USAGE, f"--limit wants NAME=VALUE, e.g. daily_cap=30: {assignment!r}"
            )
        if value.strip() == "default":
            limits.pop(name.strip(), None)
        else:
            limits[name.strip()] = _number(value)
    settings["limits"] = limits
    changed = api.call("PUT", f"/api/v1/nodes/{args.node}/settings", json=settings).json()
    show(args, changed, lambda: render_settings(changed))
    return ExitCode.OK
