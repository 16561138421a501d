"""Judging read-backs: what each channel's policy, read back from the node, says about its write.

Judged on the fields the batch moves (where its target differs from its backup), so a field someone
else changed meanwhile never makes a write look failed, and is never written back. Pure: no I/O, the
time is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from app.domain.capabilities import NodeCapabilities
from app.domain.execution import ChannelOutcome
from app.domain.policy import ChannelPolicy, PolicyReading
from app.storage.execution_records import JournalEntry

MISMATCH = "changed on the node by someone else while the service wrote it; left as they set it"
GONE = "the node no longer has this channel"
ACCEPTED_NOT_APPLIED = "the node accepted the update but the read-back still shows the backup"
TARGET, BACKUP, OTHER = "target", "backup", "other"


class ReadbackJudge:
    """Outcomes from read-backs, for one backend's writable fields."""

    def __init__(
        self, capabilities: NodeCapabilities, max_sends: int, max_restores: int, settle_s: float
    ) -> None:
        self.capabilities = capabilities
        self.max_sends = max_sends
        self.max_restores = max_restores
        self.settle_s = settle_s

    def judge_writes(
        self,
        waiting: Iterable[JournalEntry],
        readings: dict[str, PolicyReading],
        now: datetime,
        resume: bool = False,
    ) -> tuple[list[tuple[JournalEntry, JournalEntry]], list[JournalEntry]]:
        """Each channel's outcome from its read-back, and the ones to send again."""
        changes: list[tuple[JournalEntry, JournalEntry]] = []
        resend: list[JournalEntry] = []
        for entry in waiting:
            reading = readings.get(entry.chan_id)
            observed = reading.policy if reading else None
            update: dict[str, object] = {"observed": observed}
            where = self.where(entry, observed)
            if observed is None:
                update |= {"outcome": ChannelOutcome.FAILED, "error": GONE}
            elif where == TARGET:
                update |= {"outcome": ChannelOutcome.APPLIED, "error": None}
            elif where == OTHER:
                update |= {"outcome": ChannelOutcome.FAILED, "error": MISMATCH}
            elif entry.outcome is ChannelOutcome.SENT and entry.refusal is not None:
                update |= {"outcome": ChannelOutcome.FAILED, "error": entry.refusal}
            elif entry.outcome is ChannelOutcome.SENT and resume:
                # Its answer died with the process that sent it: unknown from now, judged after the settle time.
                update |= {"outcome": ChannelOutcome.UNKNOWN, "sent_at": now, "error": "its answer was lost"}
            elif entry.outcome is ChannelOutcome.UNKNOWN:
                if not self.settled(entry, now):
                    continue  # a late send may still land: decide after the settle time
                update |= {"outcome": ChannelOutcome.NOT_APPLIED}
            elif entry.attempts < self.max_sends:
                resend.append(entry)  # the node said yes, yet nothing changed: send once more
                continue
            else:
                update |= {"outcome": ChannelOutcome.NOT_APPLIED, "error": ACCEPTED_NOT_APPLIED}
            changes.append((entry, entry.model_copy(update=update)))
        return changes, resend

    def judge_restores(
        self, waiting: Iterable[JournalEntry], readings: dict[str, PolicyReading], now: datetime
    ) -> tuple[list[tuple[JournalEntry, JournalEntry]], list[JournalEntry]]:
        """While compensating: which channels are back at their backup, and which need a restore sent."""
        changes: list[tuple[JournalEntry, JournalEntry]] = []
        restore: list[JournalEntry] = []
        for entry in waiting:
            reading = readings.get(entry.chan_id)
            observed = reading.policy if reading else None
            where = self.where(entry, observed)
            update: dict[str, object] = {"observed": observed}
            if observed is None:
                update |= {
                    "outcome": ChannelOutcome.FAILED,
                    "error": GONE + " (closed before it was restored)",
                }
            elif where == OTHER:
                update |= {"outcome": ChannelOutcome.FAILED, "error": MISMATCH}
            elif where == BACKUP:
                never_written = entry.outcome is ChannelOutcome.UNKNOWN and entry.restore_attempts == 0
                if never_written and not self.settled(entry, now):
                    continue  # its first write may still land
                outcome = ChannelOutcome.NOT_APPLIED if never_written else ChannelOutcome.RESTORED
                update |= {"outcome": outcome, "error": None}
            else:  # at the target: a restore is needed (once a lost restore could no longer land)
                update |= {"outcome": ChannelOutcome.APPLIED}
                ready = entry.outcome is ChannelOutcome.APPLIED or self.settled(entry, now)
                if ready and entry.restore_attempts < self.max_restores:
                    restore.append(entry)
            updated = entry.model_copy(update=update)
            if updated != entry:
                changes.append((entry, updated))
        return changes, restore

    def moving(self, entry: JournalEntry) -> tuple[str, ...]:
        """The writable fields this batch changes on the channel (target differs from backup)."""
        return tuple(
            name
            for name in self.capabilities.writable_fields()
            if getattr(entry.target, name) != getattr(entry.before, name)
        )

    def where(self, entry: JournalEntry, observed: ChannelPolicy | None) -> str:
        """Whether the read-back shows the target, the backup or something else, on the moved fields."""
        if observed is None:
            return OTHER
        fields = self.moving(entry)
        if all(getattr(observed, name) == getattr(entry.target, name) for name in fields):
            return TARGET
        if all(getattr(observed, name) == getattr(entry.before, name) for name in fields):
            return BACKUP
        return OTHER

    def settled(self, entry: JournalEntry, now: datetime) -> bool:
        """Whether a request of this entry still in flight could no longer land."""
        return entry.sent_at is None or (now - entry.sent_at).total_seconds() >= self.settle_s
