"""`POST /v1/chanpolicy` with LND's semantics (rpcserver.UpdateChannelPolicy + localchans.Manager).

Request-level problems are errors, checked in LND's order: scope, fee rate, time lock delta, inbound
fees. Per-channel problems (HTLC limits, unknown channel points) come back in `failed_updates` with
HTTP 200. Omitted fee fields mean 0, as in LND; an omitted `inbound_fee` keeps the current one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from app.sandbox.lnd.encoding import failed_update
from app.sandbox.lnd.errors import invalid_argument, unknown
from app.sandbox.lnd.model import UINT32_MAX, LiveChannel, Policy
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.protojson import go_hex

# routing.MinCLTVDelta: 24 at v0.21.2-beta (it was 18 up to v0.20); routing.MaxCLTVDelta is MaxUint16.
MIN_TIME_LOCK_DELTA = 24
MAX_TIME_LOCK_DELTA = 65_535
MIN_FEE_RATE = 1e-6

Verdict = Literal["apply", "fail", "drop"]


@dataclass(frozen=True)
class PolicyUpdate:
    """A request that passed LND's request-level checks; `targets` None means every channel (global)."""

    targets: tuple[tuple[str, int], ...] | None
    base_fee_msat: int
    fee_rate_ppm: int
    time_lock_delta: int
    max_htlc_msat: int  # 0 keeps the current maximum
    min_htlc_msat: int | None  # None keeps the current minimum
    inbound: tuple[int, int] | None  # (base msat, rate ppm); None keeps the current inbound fee


def parse_policy_update(body: dict[str, Any], accept_positive_inbound_fees: bool) -> PolicyUpdate:
    """Validate a parsed `lnrpcPolicyUpdateRequest` as LND does; LndError with LND's message otherwise."""
    if "chan_point" in body:
        point = body["chan_point"]
        targets: tuple[tuple[str, int], ...] | None = ((_funding_txid(point), point.get("output_index", 0)),)
    elif "global" in body:
        targets = None  # LND takes the oneof being set, even to false, as the global scope
    else:
        raise unknown("unknown scope: <nil>")
    fee_rate, fee_rate_ppm = body.get("fee_rate", 0.0), body.get("fee_rate_ppm", 0)
    if fee_rate != 0 and fee_rate_ppm != 0:
        raise invalid_argument("cannot set both FeeRate and FeeRatePpm at the same time")
    if fee_rate != 0:
        if math.isnan(fee_rate) or fee_rate < MIN_FEE_RATE:
            raise unknown(f"fee rate of {_go_float(fee_rate)} is too small, min fee rate is 1e-06")
        fee_rate_ppm = min(math.floor(fee_rate * 1_000_000 + 0.5), UINT32_MAX)  # Go's math.Round
    time_lock_delta = body.get("time_lock_delta", 0)
    if time_lock_delta < MIN_TIME_LOCK_DELTA:
        raise unknown(
            f"time lock delta of {time_lock_delta} is too small, minimum supported is {MIN_TIME_LOCK_DELTA}"
        )
    if time_lock_delta > MAX_TIME_LOCK_DELTA:
        raise unknown(
            f"time lock delta of {time_lock_delta} is too big, maximum supported is {MAX_TIME_LOCK_DELTA}"
        )
    inbound = body.get("inbound_fee")
    if inbound is not None and not accept_positive_inbound_fees:
        if inbound.get("base_fee_msat", 0) > 0:
            raise unknown(
                f"positive values for inbound base fee msat are not supported: {inbound['base_fee_msat']}"
            )
        if inbound.get("fee_rate_ppm", 0) > 0:
            raise unknown(
                f"positive values for inbound fee rate ppm are not supported: {inbound['fee_rate_ppm']}"
            )
    base_fee_msat = body.get("base_fee_msat", 0)
    if base_fee_msat < 0:
        # LND would cast it to an unsigned amount; the simulator refuses rather than guess what follows.
        raise invalid_argument(f"sandbox: base_fee_msat must not be negative, got {base_fee_msat}")
    return PolicyUpdate(
        targets=targets,
        base_fee_msat=base_fee_msat,
        fee_rate_ppm=fee_rate_ppm,
        time_lock_delta=time_lock_delta,
        max_htlc_msat=body.get("max_htlc_msat", 0),
        min_htlc_msat=body.get("min_htlc_msat", 0) if body.get("min_htlc_msat_specified") else None,
        inbound=None
        if inbound is None
        else (inbound.get("base_fee_msat", 0), inbound.get("fee_rate_ppm", 0)),
    )


def apply_policy_update(
    node: SimulatedNode, update: PolicyUpdate, verdict: Callable[[str], Verdict] | None = None
) -> list[dict[str, Any]]:
    """Apply to every targeted channel; return LND's `failed_updates` entries.

    `verdict` lets fault injection report a channel as failed, or answer success without applying.
    """
    if update.targets is None:
        chosen = list(node.channels.values())
        missing: list[tuple[str, int]] = []
    else:
        chosen, missing = [], []
        for txid, index in update.targets:
            live = node.channel_at(txid, index)
            if live is None:
                missing.append((txid, index))
            elif live not in chosen:
                chosen.append(live)
    failed = []
    for live in chosen:
        txid, index = live.channel.funding_txid, live.channel.output_index
        policy, problem = _updated_policy(live, update)
        if problem is not None:
            failed.append(failed_update(txid, index, "UPDATE_FAILURE_INVALID_PARAMETER", problem))
            continue
        decision = verdict(live.chan_id) if verdict else "apply"
        if decision == "fail":
            message = "sandbox fault injection: policy update not applied"
            failed.append(failed_update(txid, index, "UPDATE_FAILURE_INTERNAL_ERR", message))
        elif decision == "apply":
            node.set_policy(live, policy)
    failed.extend(
        failed_update(txid, index, "UPDATE_FAILURE_NOT_FOUND", "not found") for txid, index in missing
    )
    return failed


def _updated_policy(live: LiveChannel, update: PolicyUpdate) -> tuple[Policy, str | None]:
    """localchans.Manager.updateEdge: the new policy, or the reason LND refuses it for this channel."""
    current = live.policy
    ceiling = live.max_pending_msat
    if update.max_htlc_msat:
        max_htlc = update.max_htlc_msat
    elif current.max_htlc_msat == 0 or current.max_htlc_msat > ceiling:
        max_htlc = ceiling  # LND fills in or corrects a maximum the channel cannot carry
    else:
        max_htlc = current.max_htlc_msat
    min_htlc = current.min_htlc_msat if update.min_htlc_msat is None else update.min_htlc_msat
    inbound_base, inbound_rate = update.inbound or (
        current.inbound_base_fee_msat,
        current.inbound_fee_rate_ppm,
    )
    policy = Policy(
        base_fee_msat=update.base_fee_msat,
        fee_rate_ppm=update.fee_rate_ppm,
        time_lock_delta=update.time_lock_delta,
        min_htlc_msat=min_htlc,
        max_htlc_msat=max_htlc,
        inbound_base_fee_msat=inbound_base,
        inbound_fee_rate_ppm=inbound_rate,
        disabled=current.disabled,
    )
    if min_htlc < live.min_htlc_floor_msat:
        floor = live.min_htlc_floor_msat
        return policy, f"min htlc amount of {min_htlc} mSAT is below min htlc parameter of {floor} mSAT"
    if max_htlc > ceiling:
        return policy, f"max htlc size of {max_htlc} mSAT is above max pending amount of {ceiling} mSAT"
    if min_htlc > max_htlc:
        return policy, f"min_htlc {min_htlc} mSAT greater than max_htlc {max_htlc} mSAT"
    return policy, None


def _funding_txid(point: dict[str, Any]) -> str:
    """The funding txid in display hex, from either oneof member (bytes are in LND's reversed order)."""
    if "funding_txid_bytes" in point:
        raw: bytes = point["funding_txid_bytes"]
        if len(raw) != 32:
            raise unknown(f"invalid hash length of {len(raw)}, want 32")
        return raw[::-1].hex()
    if "funding_txid_str" in point:
        text: str = point["funding_txid_str"]
        if len(text) > 64:
            raise unknown("max hash string length is 64 bytes")
        padded = text.rjust(64, "0")  # chainhash pads a short string with leading zeros
        return go_hex(padded).hex()
    raise unknown("invalid hash length of 0, want 32")


def _go_float(value: float) -> str:
    """A float as Go's %v prints it (shortest form, no trailing .0)."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text
