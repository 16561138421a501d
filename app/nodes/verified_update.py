"""Apply one policy and prove it by reading it back; re-send only when the read-back shows it did not take."""

from __future__ import annotations

import logging

from app.domain.channel import Channel
from app.domain.policy import ChannelPolicy
from app.domain.updates import PolicyUpdateResult, UpdateOutcome
from app.errors import UpstreamTemporaryError
from app.nodes.base import NodeClient

log = logging.getLogger(__name__)


async def apply_verified(
    client: NodeClient, channel: Channel, target: ChannelPolicy, max_sends: int = 2
) -> PolicyUpdateResult:
    """Send, read back, and re-send only if the read-back proves the node did not apply the policy.

    A timeout on the write leaves its effect unknown, so it is followed by a read-back too, never by a
    blind re-send. An explicit refusal (failed_updates, validation error) is final.
    """
    observed: ChannelPolicy | None = None
    last_error: str | None = None
    for attempt in range(1, max_sends + 1):
        try:
            result = await client.update_channel_policy(channel, target)
        except UpstreamTemporaryError as exc:
            last_error = exc.message
            log.warning(
                "policy write to %s for %s had an unknown outcome: %s", client.backend, channel.chan_id, exc
            )
        else:
            if result.outcome is UpdateOutcome.FAILED:
                return result.model_copy(update={"attempts": attempt})
        observed = await client.get_channel_policy(channel)
        if client.capabilities.policy_matches(observed, target):
            return PolicyUpdateResult(
                chan_id=channel.chan_id, outcome=UpdateOutcome.APPLIED, attempts=attempt, observed=observed
            )
        log.warning(
            "read-back of %s shows the policy was not applied (send %d of %d)",
            channel.chan_id,
            attempt,
            max_sends,
        )
    return PolicyUpdateResult(
        chan_id=channel.chan_id,
        outcome=UpdateOutcome.NOT_APPLIED,
        attempts=max_sends,
        error=last_error or "the node accepted the update but the read-back still shows the previous policy",
        observed=observed,
    )
