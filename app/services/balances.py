"""Balance history for nodes without forwarding history: record the moves of each sync, read them back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from app.domain.balance import BalanceInterval
from app.domain.channel import Channel
from app.errors import ConflictError
from app.storage.balances import BalanceMovesRecord
from app.storage.database import Storage
from app.storage.records import NodeRecord


async def record_balances(
    storage: Storage, node: NodeRecord, channels: Sequence[Channel], now: datetime
) -> None:
    """Store the moves since the node's last sync (a first sync only sets the baseline).

    The caller holds the node's lease, so no other sync of the node runs between the read and the write.
    """
    now_s = int(now.timestamp())
    balances = {channel.chan_id: channel.local_balance_sat for channel in channels}
    state = await storage.balance_states.load(node.tenant_id, node.id)
    if state.version and now_s > state.taken_at_s:
        moves = {
            chan_id: balance - state.balances_sat[chan_id]
            for chan_id, balance in balances.items()
            if chan_id in state.balances_sat and balance != state.balances_sat[chan_id]
        }  # a channel opened since the last sync has nothing to compare with
        await storage.balance_moves.add(
            BalanceMovesRecord(
                tenant_id=node.tenant_id,
                node_id=node.id,
                taken_at=now,
                previous_s=state.taken_at_s,
                moves_sat=moves,
            )
        )
    updated = state.model_copy(update={"taken_at_s": now_s, "balances_sat": balances})
    if not await storage.balance_states.save(state, updated):  # one reader and writer per lease
        raise ConflictError(f"the balances of node {node.id} changed under its lease", {"node_id": node.id})


async def balance_history(
    storage: Storage, node: NodeRecord, now: datetime, window_days: int
) -> list[BalanceInterval]:
    """The intervals that ended inside the activity window, oldest first."""
    return await storage.balance_moves.since(node.tenant_id, node.id, now - timedelta(days=window_days))
