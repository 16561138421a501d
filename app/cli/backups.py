"""`backups`: list, export, verify and import policy backups (hot in MongoDB, cold as gzip JSON files).

Talks to the database directly (MCP_MONGODB_URL, or the embedded one under MCP_DATA_DIR when the
service is not running: one embedded server per data directory), and to the cold files under
MCP_BACKUP_DIR (default <data dir>/backups). Results on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from app.cli.operator.backups import add_actions as add_restore_action
from app.cli.progress import note, step
from app.errors import InvalidInputError
from app.policy.backups import BackupStore, checksum_ok, read_cold
from app.settings import get_settings
from app.storage.database import Storage, open_storage
from app.storage.execution_records import BackupRecord

MAX_LISTED = 10_000
_DAY = timedelta(days=1)


def add_parser(commands: Any) -> None:
    """Register the `backups` subcommand and its actions."""
    parser = commands.add_parser(
        "backups",
        help="list, export, verify and import policy backups",
        description="Policy backups: hot copies in MongoDB, cold gzip JSON files under the backup directory.",
    )
    actions = parser.add_subparsers(dest="backups_command", required=True)
    listing = actions.add_parser("list", help="hot and cold backups, newest first")
    listing.add_argument("--tenant", help="only this tenant's backups")
    listing.add_argument("--node", help="only this node's backups")
    listing.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    listing.set_defaults(handler=lambda args: _run(lambda store, storage: _list(args, store)))
    export = actions.add_parser("export", help="write pending cold copies, then apply the retention of both")
    export.set_defaults(handler=lambda args: _run(_export))
    verify = actions.add_parser(
        "verify", help="check the SHA-256 of every hot backup and cold file (exit 1 if any fails)"
    )
    verify.set_defaults(handler=lambda args: _run(_verify))
    load = actions.add_parser(
        "import", help="load a cold backup file back into MongoDB, so it can be restored"
    )
    load.add_argument("file", type=Path, help="a .json.gz file written by `backups export`")
    load.set_defaults(handler=lambda args: _run(lambda store, storage: _import(args.file, store)))
    add_restore_action(actions)  # over the API, with a key: app/cli/operator/backups.py


def _run(action: Callable[[BackupStore, Storage], Awaitable[int]]) -> int:
    settings = get_settings()

    async def main() -> int:
        with step("opening the database"):
            storage = await open_storage(settings)
        try:
            return await action(BackupStore.from_settings(storage.backups, settings), storage)
        finally:
            await storage.close()

    return asyncio.run(main())


async def _list(args: argparse.Namespace, store: BackupStore) -> int:
    hot = [
        record
        for record in await store.repository.created_before(store.clock() + _DAY, limit=MAX_LISTED)
        if args.tenant in (None, record.tenant_id) and args.node in (None, record.node_id)
    ]
    rows = [_row(record, "hot") for record in hot]
    hot_ids = {record.id for record in hot}
    for path in store.cold_files(args.tenant, args.node):
        try:
            record = read_cold(path)
        except InvalidInputError as exc:  # a damaged file is listed as such, not hidden
            rows.append({"where": "cold", "file": path.name, "error": str(exc)})
            continue
        if record.id not in hot_ids:
            rows.append({**_row(record, "cold"), "file": str(path)})
    rows.sort(key=lambda row: row.get("created_at", ""), reverse=True)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'where':5} {'created_at':24} {'kind':7} {'channels':>8} {'node':34} id")
    for row in rows:
        if "error" in row:
            print(f"{row['where']:5} {'?':24} {'?':7} {'?':>8} {'?':34} {row['file']}: {row['error']}")
            continue
        print(
            f"{row['where']:5} {row['created_at']:24} {row['kind']:7} {row['channels']:>8} "
            f"{row['node_id']:34} {row['id']}"
        )
    note(f"{len(rows)} backups ({len(hot)} hot)")
    return 0


def _row(record: BackupRecord, where: str) -> dict[str, Any]:
    return {
        "where": where,
        "id": record.id,
        "tenant_id": record.tenant_id,
        "node_id": record.node_id,
        "kind": record.kind.value,
        "created_at": record.created_at.isoformat(timespec="seconds"),
        "channels": len(record.policies),
        "checksum_ok": checksum_ok(record),
    }


async def _export(store: BackupStore, storage: Storage) -> int:
    with step("exporting and applying retention"):
        report = await store.enforce_retention()
    print(
        json.dumps(
            {
                "exported": len(report.exported),
                "hot_deleted": len(report.hot_deleted),
                "cold_deleted": len(report.cold_deleted),
                "directory": str(store.directory),
            }
        )
    )
    return 0


async def _verify(store: BackupStore, storage: Storage) -> int:
    with step("verifying checksums"):
        report = await store.verify()
    print(json.dumps({"hot_ok": report.hot_ok, "cold_ok": report.cold_ok, "bad": report.bad}))
    if report.bad:
        note(f"error: {len(report.bad)} backup(s) fail their checksum")
        return 1
    return 0


async def _import(path: Path, store: BackupStore) -> int:
    with step(f"importing {path.name}"):
        record = await store.import_file(path)
    print(json.dumps({"backup_id": record.id, "node_id": record.node_id, "channels": len(record.policies)}))
    note(f'restore it with POST /api/v1/nodes/{record.node_id}/rollback {{"backup_id": "{record.id}"}}')
    return 0
