"""`vault`: create a master key, rotate the key of a secret store, inspect a macaroon; never prints a secret."""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import stat
from pathlib import Path
from typing import Any

from app.cli.progress import note, step
from app.errors import ConfigError, InvalidInputError
from app.security.audit import JsonLinesAuditSink
from app.security.keys import generate_key_file, read_key_file
from app.security.macaroons import macaroon_bytes, parse_macaroon
from app.security.rotation import Progress, RotationReport, rotate
from app.security.secret_store import JsonFileSecretStore
from app.security.vault import Vault, load_keyring
from app.settings import get_settings

ROTATION_ACTOR = "cli:vault-rotate"


def add_parser(commands: Any) -> None:
    """Register the `vault` subcommand and its actions."""
    parser = commands.add_parser(
        "vault",
        help="vault master key and credential tools (never prints a secret)",
        description="Create and rotate the vault master key; inspect a macaroon's permissions.",
    )
    actions = parser.add_subparsers(dest="vault_command", required=True)

    genkey = actions.add_parser(
        "genkey",
        help="write a new random master key to a 0600 file",
        description="Write a new random 256-bit vault master key to a file readable only by you (mode 0600) "
        "and print its key id, never the key. The service seals node credentials (macaroons, tokens) with "
        "it: point MCP_MASTER_KEY_FILE at the file and back it up, since without it every sealed credential "
        "is lost. An existing file is never overwritten. To replace the key of a secret store, create a new "
        "one with this command and use `vault rotate`.",
    )
    genkey.add_argument("--out", type=Path, required=True, help="key file to create (never overwritten)")
    genkey.set_defaults(handler=run_genkey)

    rotation = actions.add_parser(
        "rotate",
        help="re-encrypt every record of a secret store under a new master key",
        description=(
            "Re-encrypt every record under the key in --new-key-file; the current key comes from MCP_MASTER_KEY, "
            "MCP_MASTER_KEY_FILE or MCP_MASTER_PASSPHRASE (plus MCP_EXTRA_MASTER_KEY_FILE). If a running service "
            "reads this store, first restart it with MCP_EXTRA_MASTER_KEY_FILE set to the new key file so it can "
            "read records as they are re-encrypted."
        ),
    )
    rotation.add_argument("--store", type=Path, required=True, help="JSON secret store file")
    rotation.add_argument("--new-key-file", type=Path, required=True, help="new key (from `vault genkey`)")
    rotation.add_argument(
        "--audit-log",
        type=Path,
        help="JSON-lines audit trail of the decryptions (default: <store>.audit.jsonl)",
    )
    rotation.set_defaults(handler=run_rotate)

    inspect = actions.add_parser("inspect-macaroon", help="show a macaroon's permissions and warnings")
    source = inspect.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", type=Path, help="macaroon file (binary, hex or base64)")
    source.add_argument("--hex-env", metavar="VAR", help="environment variable holding the macaroon")
    inspect.set_defaults(handler=run_inspect_macaroon)


def run_genkey(args: argparse.Namespace) -> int:
    """Create the key file and print its id and how to use it (the key itself is never printed)."""
    path: Path = args.out
    key = generate_key_file(path)
    print(f"wrote a new master key to {path} (mode 0600)")
    print(f"key id: {key.key_id}")
    print("use it:")
    print(f"  export MCP_MASTER_KEY_FILE={shlex.quote(str(path.expanduser().resolve()))}")
    print("back it up somewhere safe: without it, every secret sealed under it is lost")
    return 0


def run_rotate(args: argparse.Namespace) -> int:
    """Rotate the store to the new key; progress and counts on stderr; exit 1 if any record was left behind."""
    store_path: Path = args.store
    if not store_path.is_file():
        raise ConfigError(f"secret store {store_path} does not exist")
    with step("loading master keys"):
        keyring = load_keyring(get_settings())
        new_key = read_key_file(args.new_key_file)
    if new_key.key_id == keyring.active.key_id:
        raise ConfigError(
            f"{args.new_key_file} holds the current master key ({new_key.key_id}); nothing to rotate"
        )
    previous_id = keyring.active.key_id
    audit_path: Path = args.audit_log or store_path.with_name(f"{store_path.name}.audit.jsonl")
    note(f"rotating {store_path} from key {previous_id} to key {new_key.key_id}; audit trail: {audit_path}")
    vault = Vault(keyring, JsonLinesAuditSink(audit_path))
    store = JsonFileSecretStore(store_path)
    report = asyncio.run(rotate(store, vault, new_key, actor=ROTATION_ACTOR, progress=_progress_printer()))
    _print_report(report, args.new_key_file, previous_id)
    return 0 if report.complete else 1


def run_inspect_macaroon(args: argparse.Namespace) -> int:
    """Print where the macaroon is valid, its permissions and warnings; never the macaroon."""
    notes: list[str] = []
    if args.file is not None:
        path: Path = args.file
        raw = macaroon_bytes(path)
        if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
            notes.append(f"{path} is readable by other users; run: chmod 600 {path}")
        label = str(path)
    else:
        value = os.environ.get(args.hex_env)
        if value is None:
            raise InvalidInputError(f"environment variable {args.hex_env} is not set")
        raw = macaroon_bytes(value)
        label = f"${args.hex_env}"
    macaroon = parse_macaroon(raw)
    print(f"macaroon: {label}")
    print(f"location: {macaroon.location or '-'}")
    print(f"first-party caveats: {len(macaroon.caveats)}")
    if macaroon.permissions is None:
        print("permissions: unknown (the identifier is not in LND's format)")
    else:
        print(f"permissions: {', '.join(sorted(macaroon.permissions)) or '(none)'}")
    for warning in [*macaroon.warnings(), *notes]:
        print(f"warning: {warning}")
    return 0


def _progress_printer() -> Progress:
    """Progress callback printing about ten lines per run, whatever the store size."""

    def report(done: int, total: int) -> None:
        if done == total or done % max(1, total // 10) == 0:
            note(f"  re-encrypted {done}/{total}")

    return report


def _print_report(report: RotationReport, new_key_file: Path, previous_id: str) -> None:
    note(
        f"done: {report.total} records, {report.rotated} re-encrypted, {report.already_current} already under "
        f"the new key, {report.vanished} deleted meanwhile, {report.conflicts} concurrent-write retries"
    )
    new_key_path = shlex.quote(str(new_key_file.expanduser().resolve()))
    if not report.complete:
        for record_id in report.failed:
            note(f"  failed: {record_id}")
        for record_id in report.stale:
            note(f"  still under an old key: {record_id}")
        note(f"incomplete: keep key {previous_id}; fix the records above, then run this command again")
        return
    note(f"every record is now sealed under key {report.new_key_id}. next:")
    note(f"  export MCP_MASTER_KEY_FILE={new_key_path}   # and unset MCP_MASTER_KEY / MCP_MASTER_PASSPHRASE")
    note(
        "  export MCP_EXTRA_MASTER_KEY_FILE=<old key file>   # only while some instance still runs on the old key"
    )
    note(
        f"  restart the service, then destroy the old key {previous_id} (and unset MCP_EXTRA_MASTER_KEY_FILE)"
    )
