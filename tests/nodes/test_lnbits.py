"""LNbits backend against a stand-in of its node API: shapes, capability flags and clear errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.domain.execution import ChannelOutcome, ExecutionMode, TransactionKind, TransactionState
from app.errors import CapabilityError, UpstreamAuthError, UpstreamUnavailableError
from app.nodes.lnbits import LnbitsClient, scid_to_uint64
from app.nodes.transport import TransportSettings
from app.policy.effects import TransactionEffects
from app.policy.executor import BatchIntent, Executor, Proposal
from app.policy.gate import ChangeHistory
from app.policy.limits import SafetyLimits
from app.resilience.retry import RetrySettings
from app.storage.database import Storage
from tests.nodes.fake_lnbits import ADMIN_TOKEN, OUR_PUBKEY, SUPER_TOKEN, WALLET_KEY, FakeLnbits
from tests.policy.conftest import build_decision
from tests.policy.execution_env import FakeClock
from tests.storage.conftest import mongo_url, storage  # noqa: F401

FAST = TransportSettings(retry=RetrySettings(attempts=2, initial_s=0.0, jitter_s=0.0))


def client(fake: FakeLnbits, token: str = SUPER_TOKEN, wallet_key: str | None = WALLET_KEY) -> LnbitsClient:
    return LnbitsClient(
        "lnb", "http://lnbits.test", token, wallet_key, settings=FAST, transport=fake.transport()
    )


async def test_info_channels_and_unknown_fields():
    fake = FakeLnbits()
    lnbits = client(fake)
    info = await lnbits.get_info()
    assert info.pubkey == OUR_PUBKEY
    assert info.block_height == 930_000
    channels = await lnbits.list_channels()
    assert [c.local_policy.fee_rate_ppm for c in channels] == [100, 250]  # the pending channel is skipped
    first = channels[0]
    assert first.chan_id == str(800_000 << 40)
    assert first.capacity_sat == 1_000_000 and first.local_balance_sat == 400_000
    assert first.channel_point == "00" * 32 + ":0"
    assert first.local_policy.time_lock_delta is None  # LNbits does not report it: unknown, not guessed
    assert first.local_policy.max_htlc_msat is None
    assert channels[1].active is False
    # fees are only on the per-channel endpoint: one list call plus one call per open channel
    paths = [r.url.path for r in fake.requests if r.url.path.startswith("/node/api/v1/channels")]
    assert len(paths) == 3


async def test_capabilities_say_what_lnbits_cannot_do():
    lnbits = client(FakeLnbits())
    caps = lnbits.capabilities
    assert not (caps.forwarding_history or caps.inbound_fees or caps.htlc_limits or caps.time_lock)
    with pytest.raises(CapabilityError, match="no forwarding history"):
        await lnbits.forwarding_history(0, 10)


async def test_a_fee_update_goes_through_the_journal_and_is_proven_by_read_back(storage: Storage):  # noqa: F811
    fake = FakeLnbits()
    lnbits = client(fake)
    channel = (await lnbits.list_channels())[0]
    clock = FakeClock(datetime.now(UTC))
    proposal = Proposal(
        channel, build_decision(channel.local_policy, chan_id=channel.chan_id, fee_rate_ppm=150)
    )
    executor = Executor(storage, lnbits, SafetyLimits(), clock, effects=TransactionEffects(storage, clock))
    intent = BatchIntent("t", "n", "test", TransactionKind.APPLY, "lnbits batch", ExecutionMode.LIVE)
    report = await executor.apply(intent, [proposal], ChangeHistory(times={}, external={}))
    assert report.transaction is not None and report.transaction.state is TransactionState.COMMITTED
    [entry] = await storage.journal.for_transaction("t", report.transaction.id)
    assert entry.outcome is ChannelOutcome.APPLIED and entry.observed is not None
    assert entry.observed.fee_rate_ppm == 150 and entry.observed.time_lock_delta is None  # still unknown
    assert fake.channels[channel.chan_id]["fee_ppm"] == 150
    put = next(r for r in fake.requests if r.method == "PUT")
    assert put.read() == b'{"fee_ppm":150,"fee_base_msat":1000}'


async def test_admin_token_cannot_update_fees_and_says_why():
    fake = FakeLnbits()
    lnbits = client(fake, token=ADMIN_TOKEN)
    channel = (await lnbits.list_channels())[0]
    with pytest.raises(UpstreamAuthError, match="super user"):
        await lnbits.update_channel_policy(
            channel, channel.local_policy.model_copy(update={"fee_rate_ppm": 150})
        )


@pytest.mark.parametrize(
    ("switch", "expected"),
    [
        ("node_api_implemented", "LND or Core Lightning funding source"),
        ("node_ui_enabled", "LNBITS_NODE_UI=true"),
    ],
)
async def test_disabled_node_api_is_a_clear_error(switch, expected):
    fake = FakeLnbits()
    setattr(fake, switch, False)
    with pytest.raises(UpstreamUnavailableError, match=expected):
        await client(fake).get_info()


async def test_wallet_balance_uses_the_wallet_key():
    fake = FakeLnbits()
    assert await client(fake).wallet_balance_msat() == 123_456_000
    wallet_request = next(r for r in fake.requests if r.url.path == "/api/v1/wallet")
    assert wallet_request.headers["x-api-key"] == WALLET_KEY
    with pytest.raises(CapabilityError):
        await client(fake, wallet_key=None).wallet_balance_msat()


def test_core_lightning_short_ids_become_uint64():
    assert scid_to_uint64("800000x1x0") == str(800_000 << 40 | 1 << 16)
    assert scid_to_uint64("123456") == "123456"


def test_repr_hides_the_token():
    assert SUPER_TOKEN not in repr(client(FakeLnbits()))
