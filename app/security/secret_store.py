"""JsonFileSecretStore: sealed records in one JSON file (0600), replaced atomically, safe across processes.

The first store implementation (MongoDB follows): used by the CLI and for single-host installs. Every write
takes an asyncio lock (tasks of this process) and an flock on a sidecar lock file (other processes, e.g. the
rotation CLI beside the running service), re-reads the file, changes it, writes a temporary file, fsyncs it and
os.replace()s it over the old one, so a reader sees either the old or the new document, never a torn one.
File work runs in a worker thread so the event loop never blocks on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import ValidationError

from app.security.vault import EncryptedSecret, VaultError

FORMAT = "mcp-secret-store-v1"
Records = dict[str, EncryptedSecret]


class JsonFileSecretStore:
    """Encrypted records keyed by `tenant/node/kind` in a JSON file; implements the SecretStore protocol."""

    def __init__(self, path: Path) -> None:
        self.path = path.expanduser()
        self._lock = asyncio.Lock()
        self._lock_path = self.path.with_name(f"{self.path.name}.lock")
        # Parsed records of the bytes last read: reading is cheap, validating every record is not. Keyed by the
        # content itself because inode, size and a coarse mtime can all repeat across two quick rewrites.
        self._cache: tuple[bytes, Records] | None = None

    async def list_ids(self) -> list[str]:
        """Ids of every stored record, sorted."""
        return sorted(await asyncio.to_thread(self._read))

    async def get(self, record_id: str) -> EncryptedSecret | None:
        """The record, or None when absent."""
        return (await asyncio.to_thread(self._read)).get(record_id)

    async def add(self, secret: EncryptedSecret) -> str:
        """Insert a new record and return its id; VaultError if one already exists for its context."""

        def insert(records: Records) -> bool:
            if secret.record_id in records:
                return False
            records[secret.record_id] = secret
            return True

        if not await self._update(insert):
            raise VaultError(f"a record for ({secret.context.describe()}) already exists")
        return secret.record_id

    async def compare_and_swap(
        self, record_id: str, expected_version: int, new_secret: EncryptedSecret
    ) -> bool:
        """Replace the record only if it exists with version `expected_version`."""
        if new_secret.record_id != record_id:
            raise VaultError(f"record {record_id} cannot be replaced by a record for {new_secret.record_id}")

        def swap(records: Records) -> bool:
            current = records.get(record_id)
            if current is None or current.version != expected_version:
                return False
            records[record_id] = new_secret
            return True

        return await self._update(swap)

    async def delete(self, record_id: str) -> bool:
        """Remove a record; False when it did not exist."""
        return await self._update(lambda records: records.pop(record_id, None) is not None)

    async def _update(self, change: Callable[[Records], bool]) -> bool:
        async with self._lock:
            return await asyncio.to_thread(self._locked_update, change)

    def _locked_update(self, change: Callable[[Records], bool]) -> bool:
        with self._file_lock():
            records = dict(self._read())
            if not change(records):
                return False
            self._write(records)
            return True

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _read(self) -> Records:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        cached = self._cache
        if cached is not None and cached[0] == raw:
            return cached[1]
        records = self._parse(raw)
        self._cache = (raw, records)
        return records

    def _parse(self, raw: bytes) -> Records:
        try:
            document = json.loads(raw)
            if document.get("format") != FORMAT:
                raise VaultError(f"secret store {self.path} is not in format {FORMAT}")
            items = document["records"].items()
        except (ValueError, AttributeError, KeyError):
            raise VaultError(f"secret store {self.path} is not valid JSON in format {FORMAT}") from None
        records: Records = {}
        for record_id, fields in items:
            try:
                secret = EncryptedSecret.model_validate(fields)
            except ValidationError as exc:
                # Pydantic's message echoes field values; name only the record and the fields.
                bad = sorted({".".join(str(part) for part in error["loc"]) for error in exc.errors()})
                raise VaultError(f"secret store {self.path}: record {record_id} has invalid {bad}") from None
            if secret.record_id != record_id:
                raise VaultError(f"secret store {self.path}: record {record_id} holds {secret.record_id}")
            records[record_id] = secret
        return records

    def _write(self, records: Records) -> None:
        document = {
            "format": FORMAT,
            "records": {rid: records[rid].model_dump(mode="json") for rid in sorted(records)},
        }
        payload = json.dumps(document, indent=1).encode("utf-8") + b"\n"
        temporary = self.path.with_name(f".{self.path.name}.{os.urandom(6).hex()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), 0o600)  # a leftover temporary file would keep its old mode
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
            self._cache = (payload, records)
        finally:
            temporary.unlink(missing_ok=True)
        # The rename is durable only once the directory entry is: a rotation must not be undone by a crash
        # after the old key was destroyed.
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def __repr__(self) -> str:
        return f"JsonFileSecretStore(path={str(self.path)!r})"
