"""Execution vocabulary: modes, rollout stages, journaled transactions and per-channel write outcomes."""

from __future__ import annotations

from enum import StrEnum


class ExecutionMode(StrEnum):
    """How a cycle acts on its decisions."""

    SHADOW = "shadow"  # record what would have happened; never write
    CANARY = "canary"  # write, but only on the node's canary channels
    LIVE = "live"  # write every approved decision


class RolloutStage(StrEnum):
    """Progressive activation of a node: each stage allows more than the one before."""

    SHADOW = "shadow"
    CANARY_1 = "canary_1"
    CANARY_5 = "canary_5"
    LIVE = "live"

    @property
    def allowed_modes(self) -> tuple[ExecutionMode, ...]:
        """Execution modes a node at this stage may run."""
        if self is RolloutStage.SHADOW:
            return (ExecutionMode.SHADOW,)
        if self is RolloutStage.LIVE:
            return (ExecutionMode.SHADOW, ExecutionMode.CANARY, ExecutionMode.LIVE)
        return (ExecutionMode.SHADOW, ExecutionMode.CANARY)

    @property
    def canary_size(self) -> int:
        """How many channels a canary run may write at this stage (a live node's canary keeps canary(5)'s)."""
        return {RolloutStage.CANARY_1: 1, RolloutStage.CANARY_5: 5, RolloutStage.LIVE: 5}.get(self, 0)

    @property
    def next(self) -> RolloutStage | None:
        """The stage a promotion leads to (None from live)."""
        order = list(RolloutStage)
        index = order.index(self)
        return order[index + 1] if index + 1 < len(order) else None

    @property
    def previous(self) -> RolloutStage | None:
        """The stage a demotion leads to (None from shadow)."""
        order = list(RolloutStage)
        index = order.index(self)
        return order[index - 1] if index > 0 else None


class TransactionKind(StrEnum):
    """Why a batch of policy writes exists."""

    APPLY = "apply"  # decisions of a cycle or an approval
    ROLLBACK = "rollback"  # restores the backup of (part of) an earlier transaction
    RESTORE = "restore"  # writes a node back to a backup or to a moment


class TransactionState(StrEnum):
    """A batch's state; it only moves forward along NEXT_STATES, by compare-and-set."""

    PLANNED = "planned"  # journaled; nothing sent
    BACKED_UP = "backed_up"  # every channel's current policy is in a checksummed backup
    APPLYING = "applying"  # writes are being sent and read back
    COMMITTED = "committed"  # every channel is proven applied, not applied or refused
    COMPENSATING = "compensating"  # restoring the backup of the channels that changed
    ROLLED_BACK = "rolled_back"  # every changed channel is proven back at its backup
    PARTIAL = "partial"  # some channels could not be restored; each one's outcome says where it is

    @property
    def terminal(self) -> bool:
        """Nothing more will happen to a batch in this state."""
        return not NEXT_STATES[self]


NEXT_STATES: dict[TransactionState, frozenset[TransactionState]] = {
    TransactionState.PLANNED: frozenset({TransactionState.BACKED_UP, TransactionState.COMPENSATING}),
    TransactionState.BACKED_UP: frozenset({TransactionState.APPLYING, TransactionState.COMPENSATING}),
    TransactionState.APPLYING: frozenset({TransactionState.COMMITTED, TransactionState.COMPENSATING}),
    TransactionState.COMPENSATING: frozenset({TransactionState.ROLLED_BACK, TransactionState.PARTIAL}),
    TransactionState.COMMITTED: frozenset(),
    TransactionState.ROLLED_BACK: frozenset(),
    TransactionState.PARTIAL: frozenset(),
}


class ChannelOutcome(StrEnum):
    """Where one channel of a batch stands; recorded before each send and again after each read-back."""

    PENDING = "pending"  # not sent yet
    SENT = "sent"  # sent (recorded first); the node's answer or the read-back is not in yet
    APPLIED = "applied"  # read back equal to the target
    NOT_APPLIED = "not_applied"  # read back equal to the backup after the node said yes (or never sent)
    # Refused by the node (read back at the backup), never sent, closed, or changed by another writer
    # meanwhile (left as they set it): in every case the service no longer touches the channel.
    FAILED = "failed"
    UNKNOWN = "unknown"  # a send or read-back did not answer: resolved by reading back later
    RESTORED = "restored"  # was applied, then written back to its backup and proven by read-back

    @property
    def settled(self) -> bool:
        """The outcome is proven (or the channel left alone): nothing is waiting for a send or a read-back."""
        return self in SETTLED_OUTCOMES


SETTLED_OUTCOMES = frozenset(
    {ChannelOutcome.APPLIED, ChannelOutcome.NOT_APPLIED, ChannelOutcome.FAILED, ChannelOutcome.RESTORED}
)
# Every outcome change the executor may make; anything else is a bug and is refused by the journal.
NEXT_OUTCOMES: dict[ChannelOutcome, frozenset[ChannelOutcome]] = {
    ChannelOutcome.PENDING: frozenset({ChannelOutcome.SENT, ChannelOutcome.FAILED}),
    ChannelOutcome.SENT: frozenset(
        {
            ChannelOutcome.SENT,
            ChannelOutcome.APPLIED,
            ChannelOutcome.NOT_APPLIED,
            ChannelOutcome.FAILED,
            ChannelOutcome.UNKNOWN,
        }
    ),
    ChannelOutcome.UNKNOWN: frozenset(
        {
            ChannelOutcome.UNKNOWN,
            ChannelOutcome.APPLIED,
            ChannelOutcome.NOT_APPLIED,
            ChannelOutcome.RESTORED,
            ChannelOutcome.FAILED,
        }
    ),
    # Compensation: a restore whose answer is lost makes an applied channel unknown again; a channel
    # closed or changed by another writer before its restore is left alone.
    ChannelOutcome.APPLIED: frozenset(
        {ChannelOutcome.UNKNOWN, ChannelOutcome.RESTORED, ChannelOutcome.APPLIED, ChannelOutcome.FAILED}
    ),
    ChannelOutcome.NOT_APPLIED: frozenset(),
    ChannelOutcome.FAILED: frozenset(),
    ChannelOutcome.RESTORED: frozenset(),
}
