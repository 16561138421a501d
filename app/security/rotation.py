"""Master-key rotation while the service runs: activate the new key, re-seal every record with compare-and-swap.

Order matters. The new key becomes active first, so any record written during the rotation is already sealed
under it; the old key stays loaded, so readers keep working on records not yet re-sealed. Each record is
re-sealed with version + 1 and written only if nobody changed it meanwhile (compare-and-swap); on a conflict
the fresh record is re-read and, if a writer already sealed it under the new key, left alone. A final scan
lists any record still under another key: only when `RotationReport.complete` may the old key be retired.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from app.security.keys import MasterKey
from app.security.vault import EncryptedSecret, Vault, VaultError

ROTATION_ACTOR = "key-rotation"


class SecretStore(Protocol):
    """Persistence the rotation needs: list, read, and an atomic versioned replace."""

    async def list_ids(self) -> list[str]:
        """Ids of every stored record."""
        ...

    async def get(self, record_id: str) -> EncryptedSecret | None:
        """The record, or None when it does not exist (e.g. deleted meanwhile)."""
        ...

    async def compare_and_swap(
        self, record_id: str, expected_version: int, new_secret: EncryptedSecret
    ) -> bool:
        """Replace the record only if its stored version is `expected_version`; False otherwise."""
        ...


@dataclass(frozen=True)
class RotationReport:
    """What a rotation did; `complete` tells whether the old keys may be retired."""

    new_key_id: str
    total: int
    rotated: int
    already_current: int
    vanished: int
    conflicts: int
    failed: tuple[str, ...]
    stale: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """Every record is now sealed under the new key."""
        return not self.failed and not self.stale


Progress = Callable[[int, int], None]


async def rotate(
    store: SecretStore,
    vault: Vault,
    new_key: MasterKey,
    *,
    actor: str = ROTATION_ACTOR,
    max_attempts: int = 10,
    progress: Progress | None = None,
) -> RotationReport:
    """Make `new_key` active and re-seal every record under it; old keys stay loaded for the caller to retire."""
    vault.keyring.add(new_key, activate=True)
    record_ids = await store.list_ids()
    rotated = already_current = vanished = conflicts = 0
    failed: list[str] = []
    for done, record_id in enumerate(record_ids, start=1):
        for _attempt in range(max_attempts):
            secret = await store.get(record_id)
            if secret is None:
                vanished += 1
                break
            if secret.key_id == new_key.key_id:
                already_current += 1
                break
            try:
                resealed = await vault.reencrypt(
                    secret, actor=actor, purpose=f"key rotation to {new_key.key_id}"
                )
            except VaultError:
                # Audited by the vault; the record keeps its old sealing and the report says so.
                failed.append(record_id)
                break
            if await store.compare_and_swap(record_id, secret.version, resealed):
                rotated += 1
                break
            conflicts += 1
        else:
            failed.append(record_id)
        if progress is not None:
            progress(done, len(record_ids))
    stale = await records_not_under(store, new_key.key_id)
    return RotationReport(
        new_key_id=new_key.key_id,
        total=len(record_ids),
        rotated=rotated,
        already_current=already_current,
        vanished=vanished,
        conflicts=conflicts,
        failed=tuple(failed),
        stale=tuple(record_id for record_id in stale if record_id not in failed),
    )


async def records_not_under(store: SecretStore, key_id: str) -> list[str]:
    """Ids of records sealed under any key other than `key_id` (check before retiring a key)."""
    stale = []
    for record_id in await store.list_ids():
        secret = await store.get(record_id)
        if secret is not None and secret.key_id != key_id:
            stale.append(record_id)
    return stale
