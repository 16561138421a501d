"""The hard safety gate: every proposed policy write is checked here before it may reach a node."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from app.domain.decision import Decision, DecisionKind
from app.domain.policy import UNKNOWABLE_FIELDS, ChannelPolicy
from app.domain.trusted import trusted
from app.domain.validation import IssueCode, ValidationIssue, ValidationResult, Verdict
from app.errors import InvalidInputError
from app.policy.answerable import binds_write
from app.policy.limits import SECONDS_PER_HOUR, SafetyLimits, ValidationContext, ceil_of_share

WRITING_VERDICTS = frozenset({Verdict.APPROVED, Verdict.NEEDS_APPROVAL})
POLICY_FIELDS = tuple(ChannelPolicy.model_fields)


def _utc(seconds: int) -> str:
    """Unix seconds as a readable UTC timestamp for operator messages."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _pct(ratio: float) -> str:
    """A ratio as a percentage without misleading rounding (0.025 -> '2.5 %')."""
    return f"{ratio * 100:g} %"


def _issue(code: IssueCode, message: str, field: str | None = None) -> ValidationIssue:
    """Shorthand for one issue (trusted: the validator writes every code and message itself)."""
    return trusted(ValidationIssue, code=code, message=message, field=field)


def _verdict(chan_id: str, verdict: Verdict, issues: list[ValidationIssue]) -> ValidationResult:
    """A verdict on a proposal whose chan_id was validated with it (trusted, as every result is built here)."""
    return trusted(ValidationResult, chan_id=chan_id, verdict=verdict, issues=issues)


class PolicyValidator:
    """Checks proposals against SafetyLimits; a pure function of its inputs (no clock, no I/O)."""

    def __init__(self, limits: SafetyLimits) -> None:
        """Bind the validator to one set of limits."""
        self.limits = limits

    def validate(self, decision: Decision, context: ValidationContext) -> ValidationResult:
        """Verdict on one decision, with every broken rule listed (not just the first)."""
        chan_id = decision.chan_id
        if decision.kind.is_advisory:
            return self._result(
                chan_id,
                Verdict.NO_WRITE,
                _issue(IssueCode.ADVISORY_ONLY, f"{decision.kind.value} is advisory: it is never written"),
            )
        if decision.kind is DecisionKind.HOLD:
            return self._result(
                chan_id, Verdict.NO_WRITE, _issue(IssueCode.NO_CHANGE, "hold: the policy stays as it is")
            )
        if decision.proposed_policy == decision.current_policy:
            return self._result(
                chan_id,
                Verdict.NO_WRITE,
                _issue(IssueCode.NO_CHANGE, "the proposed policy equals the current one: nothing to write"),
            )
        issues = self.check(decision, context)
        if issues:
            return _verdict(chan_id, Verdict.REJECTED, issues)
        if self.limits.require_manual_approval:
            return self._result(
                chan_id,
                Verdict.NEEDS_APPROVAL,
                _issue(IssueCode.MANUAL_APPROVAL_REQUIRED, "the safety limits require manual approval"),
            )
        return _verdict(chan_id, Verdict.APPROVED, [])

    def check(self, decision: Decision, context: ValidationContext) -> list[ValidationIssue]:
        """Every hard-limit issue of a writing decision (empty when it is within all limits)."""
        old, new = decision.current_policy, decision.proposed_policy
        changed = {name for name in POLICY_FIELDS if getattr(old, name) != getattr(new, name)}
        # A write is judged on what it moves: a field it sends back as the node already has it (a min_htlc
        # of 0, a hand-set fee above the bound) is not its doing, and refusing every fee change on such a
        # channel left it unmanaged for good (224 of ACINQ's channels in the simulator).
        breaks = [
            issue
            for issue in (
                *self._check_bounds(new),
                *self._check_htlc(old, new, context),
                *self._check_inbound(new),
            )
            if binds_write(issue, changed)
        ]
        return [
            *self._check_channel(decision.chan_id),
            *self._check_unknown(old, new),
            *breaks,
            *self._check_fee_step(old.fee_rate_ppm, new.fee_rate_ppm),
            *self._check_timing(decision.chan_id, context),
            *self._check_capabilities(old, new, context),
        ]

    def validate_batch(
        self,
        decisions: Sequence[Decision],
        contexts: Mapping[str, ValidationContext],
        node_updates_last_24h: int,
    ) -> list[ValidationResult]:
        """Validate one node's proposals against a shared daily cap; results come back in input order.

        Raises claim the remaining daily budget first, then the most confident of the rest (ties keep
        input order): a raise answers a channel that is draining while it is still paid for, a cut or a
        discount only hopes to draw flow, and the simulator showed raises starved by the cap while a
        hub's many cuts, each more confident, took every slot.
        Every APPROVED or NEEDS_APPROVAL proposal uses one slot, so with a cap of 5 the 6th writing
        proposal is rejected with DAILY_CAP_REACHED. `node_updates_last_24h` (updates already made
        today) overrides the field of the same name in each context. A second writing proposal for
        a channel already approved in this batch meets that channel's cooldown, because applying
        both would send two updates in a row (and the second was computed from a stale policy).
        """
        missing = sorted({decision.chan_id for decision in decisions} - set(contexts))
        if missing:
            raise InvalidInputError(
                f"no validation context for channel(s) {', '.join(missing)}", {"chan_ids": missing}
            )
        used = node_updates_last_24h
        written: set[str] = set()
        results: dict[int, ValidationResult] = {}
        order = sorted(
            range(len(decisions)),
            key=lambda index: (
                decisions[index].kind is not DecisionKind.RAISE_FEE,
                -decisions[index].confidence,
            ),
        )
        for index in order:
            decision = decisions[index]
            context = contexts[decision.chan_id]
            # Only a writing proposal reads its context; copy it only when the batch changes something in it.
            if decision.kind.writes_policy and decision.chan_id in written:
                context = context.model_copy(
                    update={"node_updates_last_24h": used, "last_change_s": context.now_s}
                )
            elif decision.kind.writes_policy and context.node_updates_last_24h != used:
                context = context.model_copy(update={"node_updates_last_24h": used})
            result = self.validate(decision, context)
            if result.verdict in WRITING_VERDICTS:
                used += 1
                written.add(decision.chan_id)
            results[index] = result
        return [results[index] for index in range(len(decisions))]

    def policy_issues(self, policy: ChannelPolicy, context: ValidationContext) -> list[ValidationIssue]:
        """Limits a policy breaks on its own (bounds, HTLC limits, inbound rules), whatever changes it."""
        return [
            *self._check_bounds(policy),
            *self._check_htlc(policy, policy, context),
            *self._check_inbound(policy),
        ]

    def reserve_sat(self, context: ValidationContext) -> int:
        """Our channel reserve, or max_htlc_reserve_ratio of the capacity (rounded up) when unknown (0)."""
        if context.local_reserve_sat:
            return context.local_reserve_sat
        return ceil_of_share(self.limits.max_htlc_reserve_ratio, context.capacity_sat)

    def max_htlc_limit_msat(self, context: ValidationContext) -> int:
        """Largest allowed max_htlc_msat: capacity minus reserve, in msat."""
        return (context.capacity_sat - self.reserve_sat(context)) * 1_000

    @staticmethod
    def _result(chan_id: str, verdict: Verdict, issue: ValidationIssue) -> ValidationResult:
        """A result with a single explanatory issue."""
        return _verdict(chan_id, verdict, [issue])

    def _check_channel(self, chan_id: str) -> list[ValidationIssue]:
        """Pinned and excluded channels are never written."""
        issues = []
        if chan_id in self.limits.pinned_channels:
            issues.append(
                _issue(IssueCode.CHANNEL_PINNED, f"channel {chan_id} is pinned: its policy never changes")
            )
        if chan_id in self.limits.excluded_channels:
            issues.append(
                _issue(IssueCode.CHANNEL_EXCLUDED, f"channel {chan_id} is excluded from optimization")
            )
        return issues

    def _check_bounds(self, new: ChannelPolicy) -> list[ValidationIssue]:
        """Fee rate, base fee and time lock within their configured ranges (every known field, always)."""
        limits = self.limits
        ranges = (
            ("fee_rate_ppm", new.fee_rate_ppm, limits.fee_rate_min_ppm, limits.fee_rate_max_ppm,
             IssueCode.FEE_RATE_OUT_OF_BOUNDS),
            ("base_fee_msat", new.base_fee_msat, limits.base_fee_min_msat, limits.base_fee_max_msat,
             IssueCode.BASE_FEE_OUT_OF_BOUNDS),
            ("time_lock_delta", new.time_lock_delta, limits.time_lock_delta_min, limits.time_lock_delta_max,
             IssueCode.TIME_LOCK_OUT_OF_BOUNDS),
        )  # fmt: skip
        issues = []
        for name, value, low, high, code in ranges:
            if value is None:
                continue  # unknown to this backend and, by _check_unknown, left untouched
            if value < low:
                issues.append(_issue(code, f"{name} {value} is below the minimum {low}", name))
            elif value > high:
                issues.append(_issue(code, f"{name} {value} is above the maximum {high}", name))
        return issues

    @staticmethod
    def _check_unknown(old: ChannelPolicy, new: ChannelPolicy) -> list[ValidationIssue]:
        """A field the backend does not report (None) cannot be cleared: a proposal must not erase a value."""
        issues = []
        for name in UNKNOWABLE_FIELDS:
            if getattr(new, name) is None and getattr(old, name) is not None:
                issues.append(
                    _issue(
                        IssueCode.UNSUPPORTED_BY_BACKEND,
                        f"{name} {getattr(old, name)} -> unknown: a proposal cannot erase a known value",
                        name,
                    )
                )
        return issues

    def _check_htlc(
        self, old: ChannelPolicy, new: ChannelPolicy, context: ValidationContext
    ) -> list[ValidationIssue]:
        """min_htlc positive, max_htlc within capacity minus reserve, and min <= max (for known values)."""
        issues = []
        low, high = new.min_htlc_msat, new.max_htlc_msat
        if low is not None and low <= 0:
            issues.append(
                _issue(
                    IssueCode.MIN_HTLC_NOT_POSITIVE, f"min_htlc_msat {low} must be positive", "min_htlc_msat"
                )
            )
        if high is None:
            return issues
        if high == 0:
            if old.max_htlc_msat:
                # LND ignores a max_htlc of 0, so the write would silently keep the old value.
                issues.append(
                    _issue(
                        IssueCode.MAX_HTLC_UNSET,
                        f"max_htlc_msat 0 would be ignored by LND, leaving the current {old.max_htlc_msat}; "
                        "propose an explicit value",
                        "max_htlc_msat",
                    )
                )
            return issues  # 0 -> 0: max_htlc stays unset, nothing to compare
        limit = self.max_htlc_limit_msat(context)
        if high > limit:
            issues.append(
                _issue(
                    IssueCode.MAX_HTLC_ABOVE_CAPACITY,
                    f"max_htlc_msat {high} is above the limit {limit} (capacity "
                    f"{context.capacity_sat} sat minus reserve {self.reserve_sat(context)} sat, in msat)",
                    "max_htlc_msat",
                )
            )
        if low is not None and low > high:
            issues.append(
                _issue(
                    IssueCode.MIN_HTLC_ABOVE_MAX_HTLC,
                    f"min_htlc_msat {low} is above max_htlc_msat {high}",
                    "min_htlc_msat",
                )
            )
        return issues

    def _check_fee_step(self, old: int, new: int) -> list[ValidationIssue]:
        """A fee-rate change must be small enough (step cap) and large enough (worth the gossip)."""
        if old == new:
            return []
        limits, delta = self.limits, abs(new - old)
        issues = []
        step_cap = limits.max_fee_step_ppm(old)
        if delta > step_cap:
            issues.append(
                _issue(
                    IssueCode.STEP_TOO_LARGE,
                    f"fee_rate_ppm {old} -> {new} moves {delta} ppm, above the step cap of {step_cap} ppm "
                    f"(max of {_pct(limits.max_step_ratio)} of {old} and {limits.step_floor_ppm} ppm)",
                    "fee_rate_ppm",
                )
            )
        # From 0 ppm the ratio part is 0, so only min_change_ppm applies, as documented.
        needed = limits.min_fee_change_ppm(old)
        if delta < needed:
            issues.append(
                _issue(
                    IssueCode.CHANGE_TOO_SMALL,
                    f"fee_rate_ppm {old} -> {new} moves only {delta} ppm; a change must be at least {needed} "
                    f"ppm (both {limits.min_change_ppm} ppm and {_pct(limits.min_change_ratio)} of {old})",
                    "fee_rate_ppm",
                )
            )
        return issues

    def _check_timing(self, chan_id: str, context: ValidationContext) -> list[ValidationIssue]:
        """Per-channel cooldown (gossip relays about 2 updates a day) and the node's daily cap."""
        limits, issues = self.limits, []
        if not context.change_history_known:
            issues.append(
                _issue(
                    IssueCode.COOLDOWN_UNKNOWN,
                    f"the policy history of channel {chan_id} is unknown, so its {limits.cooldown_hours:g} h "
                    "cooldown cannot be shown to have passed",
                )
            )
        elif context.last_change_s is not None:
            ends_s = context.last_change_s + limits.cooldown_s
            if context.now_s < ends_s:
                remaining_h = (ends_s - context.now_s) / SECONDS_PER_HOUR
                issues.append(
                    _issue(
                        IssueCode.COOLDOWN_ACTIVE,
                        f"channel {chan_id} was updated at {_utc(context.last_change_s)}; "
                        f"its {limits.cooldown_hours:g} h cooldown ends at {_utc(ends_s)} "
                        f"(in {remaining_h:.1f} h)",
                    )
                )
        if context.external_change_s is not None:
            hold_ends_s = context.external_change_s + limits.external_hold_s
            if context.now_s < hold_ends_s:
                issues.append(
                    _issue(
                        IssueCode.EXTERNAL_CHANGE_HOLD,
                        f"channel {chan_id} was changed outside the service at "
                        f"{_utc(context.external_change_s)}; it is left alone until {_utc(hold_ends_s)} "
                        f"({limits.external_hold_hours:g} h hold)",
                    )
                )
        if context.node_updates_last_24h >= limits.daily_cap:
            issues.append(
                _issue(
                    IssueCode.DAILY_CAP_REACHED,
                    f"the node already made {context.node_updates_last_24h} policy updates in the last 24 h; "
                    f"the daily cap is {limits.daily_cap}",
                )
            )
        return issues

    def _check_inbound(self, new: ChannelPolicy) -> list[ValidationIssue]:
        """Inbound fees are discounts only (unless allowed) and never larger than the outbound fee."""
        issues = []
        pairs = (
            ("inbound_fee_rate_ppm", new.inbound_fee_rate_ppm, "fee_rate_ppm", new.fee_rate_ppm),
            ("inbound_base_fee_msat", new.inbound_base_fee_msat, "base_fee_msat", new.base_fee_msat),
        )
        for name, inbound, outbound_name, outbound in pairs:
            if inbound is None:
                continue  # not reported by this backend, and unchanged (see _check_unknown)
            if inbound > 0 and not self.limits.allow_positive_inbound:
                issues.append(
                    _issue(
                        IssueCode.INBOUND_FEE_POSITIVE,
                        f"{name} {inbound} is positive; only discounts (<= 0) are allowed "
                        "(LND also rejects positive inbound fees by default)",
                        name,
                    )
                )
            if -inbound > outbound:
                # The sender would pay less than nothing on this hop: a subsidy, not a discount.
                issues.append(
                    _issue(
                        IssueCode.INBOUND_DISCOUNT_EXCEEDS_OUTBOUND,
                        f"{name} {inbound} is a discount of {-inbound}, "
                        f"larger than {outbound_name} {outbound}",
                        name,
                    )
                )
        return issues

    def _check_capabilities(
        self, old: ChannelPolicy, new: ChannelPolicy, context: ValidationContext
    ) -> list[ValidationIssue]:
        """Changed fields the backend cannot write (a write would silently drop them)."""
        writable = context.capabilities.writable_fields()
        issues = []
        # Field by field rather than ChannelPolicy.changed_fields (two model_dumps): same names, same order.
        changed = [name for name in POLICY_FIELDS if getattr(old, name) != getattr(new, name)]
        for name in changed:
            # Enabling/disabling is a separate call (LND updatechanstatus), never part of a policy update.
            if name in writable:
                continue
            change = f"{name} {getattr(old, name)} -> {getattr(new, name)}"
            why = (
                "is not part of a policy update"
                if name == "disabled"
                else "cannot be written by this backend"
            )
            issues.append(_issue(IssueCode.UNSUPPORTED_BY_BACKEND, f"{change} {why}", name))
        return issues
