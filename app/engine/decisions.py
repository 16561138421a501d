"""Decision rules: liquidity proposes, flow confirms, the step is proportional and rounded to a clean value."""

from __future__ import annotations

from app.domain.capabilities import NodeCapabilities
from app.domain.decision import Decision, DecisionKind
from app.domain.policy import ChannelPolicy
from app.domain.trusted import trusted
from app.engine.facts import ChannelFacts
from app.engine.fee_steps import lowered_fee, raised_fee
from app.engine.flow import FlowStats
from app.engine.heuristics.base import clamp
from app.engine.profile import Profile
from app.engine.rounding import clean_ceil, clean_floor, floor_two_significant_sat
from app.policy.answerable import binds_write
from app.policy.limits import ValidationContext
from app.policy.validator import PolicyValidator

INFERRED = "inferred from balance changes between syncs, the backend reports no forwards"


class DecisionEngine:
    """Turns a scored channel into exactly one decision, in a fixed order of precedence."""

    def __init__(
        self,
        profile: Profile,
        capabilities: NodeCapabilities,
        earned_fee_ppm: float | None = None,
        cheapest_exit_ppm: int | None = None,
    ) -> None:
        """Rules of `profile`; what the node's forwards earned per unit and its cheapest enabled fee, if known."""
        self.earned_fee_ppm = earned_fee_ppm
        self.cheapest_exit_ppm = cheapest_exit_ppm
        self.profile = profile
        self.params = profile.decisions
        self.limits = profile.limits
        self.capabilities = capabilities
        self.validator = PolicyValidator(profile.limits)

    def decide(self, facts: ChannelFacts) -> Decision:
        """Raise, lower, inbound discount, max HTLC, advisories, else hold."""
        for rule in (
            self._inactive,
            self._outside_limits,
            self._raise,
            self._lower,
            self._drop_discount,
            self._inbound_discount,
            self._max_htlc,
            self._close,
            self._rebalance,
        ):
            decision = rule(facts)
            if decision is not None:
                return decision
        return self._hold(facts)

    def _make(
        self,
        facts: ChannelFacts,
        kind: DecisionKind,
        proposed: ChannelPolicy,
        strength: float,
        reasons: list[str],
    ) -> Decision:
        # Confidence: how much of the score was known, times how strong and how confirmed the signal is.
        confidence = facts.breakdown.known_weight * (0.4 + 0.6 * clamp(strength))
        supporting = [r for r in (facts.reason_of("liquidity"), facts.reason_of("activity")) if r]
        # Trusted: the confidence and score are products and clamps of values in [0, 1], reasons never empty.
        return trusted(
            Decision,
            chan_id=facts.channel.chan_id,
            kind=kind,
            current_policy=facts.policy,
            proposed_policy=proposed,
            confidence=round(confidence, 4),
            total_score=facts.breakdown.total,
            breakdown=facts.breakdown,
            reasons=reasons + [r for r in supporting if r not in reasons],
        )

    def _inactive(self, facts: ChannelFacts) -> Decision | None:
        if facts.channel.active and not facts.policy.disabled:
            return None
        if (
            not facts.channel.active
            and facts.age_days is not None
            and facts.age_days >= self.params.close_min_age_days
            and facts.channel.lifetime_s > 0
            and facts.channel.uptime_s / facts.channel.lifetime_s < 0.5
        ):
            uptime = facts.channel.uptime_s / facts.channel.lifetime_s
            reasons = [f"inactive and up only {uptime:.0%} of its lifetime: consider closing (advisory only)"]
            return self._make(facts, DecisionKind.SUGGEST_CLOSE, facts.policy, 1.0 - uptime, reasons)
        why = "channel is inactive" if not facts.channel.active else "our policy on this channel is disabled"
        return self._make(facts, DecisionKind.HOLD, facts.policy, 0.5, [f"{why}: no fee change"])

    def _outside_limits(self, facts: ChannelFacts) -> Decision | None:
        """Hold a channel whose policy breaks a limit any fee change answers for: no step from there can pass.

        That is the fee rate's bounds and the rules pairing it with another field (an inbound discount larger
        than the fee). Other fields outside the limits (a min_htlc of 0, say) do not stop a fee change: a
        write is judged only on the fields it moves.
        """
        issues = [
            issue
            for issue in self.validator.policy_issues(
                facts.policy, ValidationContext.of_channel_size(facts.channel)
            )
            if binds_write(issue, {"fee_rate_ppm"})
        ]
        if not issues:
            return None
        reasons = [
            "the current policy breaks a limit every fee change answers for, so no automatic fee change can pass: "
            + "; ".join(issue.message for issue in issues)
            + " (fix it by hand or widen the limits)"
        ]
        return self._make(facts, DecisionKind.HOLD, facts.policy, 0.5, reasons)

    def _drop_discount(self, facts: ChannelFacts) -> Decision | None:
        """Remove an inbound discount from a channel that is now full: it only pulls in more liquidity."""
        discount = -(facts.policy.inbound_fee_rate_ppm or 0)
        if not self.capabilities.inbound_fees or discount <= 0 or facts.ratio <= self.params.excess_ratio:
            return None
        reasons = [
            f"outbound in excess (local ratio {facts.ratio:.2f}): remove the inbound discount of {discount} ppm, "
            "which draws even more liquidity into this channel",
        ]
        proposed = facts.policy.model_copy(update={"inbound_fee_rate_ppm": 0})
        depth = self._excess_depth(facts)
        return self._make(facts, DecisionKind.SET_INBOUND_DISCOUNT, proposed, 0.5 + 0.5 * depth, reasons)

    def _depletion_depth(self, facts: ChannelFacts) -> float:
        """How far the local ratio is below the depleted threshold: 0 at the threshold, 1 when empty."""
        depleted = self.params.depleted_ratio
        return (depleted - facts.ratio) / depleted

    def _excess_depth(self, facts: ChannelFacts) -> float:
        """How far the local ratio is above the excess threshold: 0 at the threshold, 1 when full."""
        excess = self.params.excess_ratio
        return (facts.ratio - excess) / (1.0 - excess)

    def _observed_long_enough(self, facts: ChannelFacts) -> bool:
        """A week without outflow only means something for a channel at least a week old, watched for a week."""
        days = self.profile.activity.recent_days
        covered = facts.flow is not None and facts.flow.covers(days)
        return covered and facts.age_days is not None and facts.age_days >= days

    def _outflow(self, flow: FlowStats) -> str:
        """The recent outflow evidence in words, saying when it is inferred."""
        days = self.profile.activity.recent_days
        if flow.inferred is None:
            return f"{flow.recent_out_count} forwards out in the last {days} days"
        return (
            f"the local balance fell in {flow.recent_out_count} sync intervals of the last {days} days, "
            f"-{flow.recent_out_volume_msat // 1000:,} sat net; {INFERRED}"
        )

    def _no_outflow(self, flow: FlowStats) -> str:
        """The absence of recent outflow in words, saying when it is inferred."""
        days = self.profile.activity.recent_days
        if flow.inferred is None:
            return f"nothing flowed out in {days} days"
        return f"the local balance fell in none of {flow.inferred.samples} syncs over {days} days; {INFERRED}"

    def _raise(self, facts: ChannelFacts) -> Decision | None:
        depleted = self.params.depleted_ratio
        if facts.flow is None or facts.ratio >= depleted:
            return None
        if facts.flow.recent_out_count < self.params.min_recent_forwards:
            return None
        depth = self._depletion_depth(facts)
        step = min(self.params.raise_step * (1.0 + depth), self.limits.max_step_ratio)
        old = facts.policy.fee_rate_ppm
        new = raised_fee(old, step, self.limits)
        if new is None:
            return None
        reasons = [
            f"outbound depleted (local ratio {facts.ratio:.2f} < {depleted:.2f}) and outflow continues "
            f"({self._outflow(facts.flow)}): raise {old} -> {new} ppm",
        ]
        evidence = min(facts.flow.recent_out_count / 5.0, 1.0) * self._trust(facts.flow)
        proposed = facts.policy.model_copy(update={"fee_rate_ppm": new})
        return self._make(facts, DecisionKind.RAISE_FEE, proposed, 0.5 * depth + 0.5 * evidence, reasons)

    def _cut_blocker(self, facts: ChannelFacts) -> str | None:
        """Why an idle full channel's fee may not be cut now (None: it may).

        All three come from the simulator's evidence (README, "Does it earn more?"): cuts made every day on
        the same week of idleness compounded into fees far below the market and below what the node earned,
        which bought forwards at a loss of revenue.
        """
        days = self.profile.activity.recent_days
        if facts.fee_age_days is not None and facts.fee_age_days < days:
            # The idle week predates the current fee: it says nothing yet about the price now charged.
            return (
                f"the fee changed {facts.fee_age_days:.1f} days ago; a cut needs {days} idle days at the "
                "current fee"
            )
        fee = facts.policy.fee_rate_ppm
        median = facts.market_median_ppm()
        if median is not None and fee <= median:
            # Senders already find us at or below the usual price into this peer: a lower fee only gives
            # revenue away, the idleness has another cause (no demand towards that peer).
            return f"{fee} ppm is already at or below the median {median:g} ppm other channels charge into the peer"
        earned = self.earned_fee_ppm
        if earned is not None and fee <= earned:
            # Every forward out of this channel spends inbound liquidity of another one, which the node's
            # other forwards sell for `earned` per unit: cheaper, the channel sells it at a loss (in the
            # simulator such cuts drew many cheap forwards that used up the liquidity of the earning routes).
            return (
                f"{fee} ppm is already at or below what the node's forwards earned on average "
                f"({earned:.0f} ppm over {self.profile.activity.window_days} days)"
            )
        return None

    def _cut_floor(self, facts: ChannelFacts) -> float | None:
        """The lowest fee a cut may reach: the market median into the peer and the node's earned rate."""
        floors = [f for f in (facts.market_median_ppm(), self.earned_fee_ppm) if f is not None]
        return max(floors) if floors else None

    def _cut_to(self, facts: ChannelFacts, step: float) -> int | None:
        """The lowered fee, never below the cut floor; None when no meaningful cut is left above it."""
        old = facts.policy.fee_rate_ppm
        new = lowered_fee(old, step, self.limits)
        floor = self._cut_floor(facts)
        if new is None or floor is None or new >= floor:
            return new
        lowest = clean_ceil(floor)
        return lowest if old - lowest >= self.limits.min_fee_change_ppm(old) else None

    def _lower(self, facts: ChannelFacts) -> Decision | None:
        excess = self.params.excess_ratio
        if facts.flow is None or facts.ratio <= excess or facts.flow.recent_out_count > 0:
            return None
        if not self._observed_long_enough(facts) or self._cut_blocker(facts):
            return None
        depth = self._excess_depth(facts)
        step = min(self.params.lower_step * (1.0 + depth), self.limits.max_step_ratio)
        old = facts.policy.fee_rate_ppm
        new = self._cut_to(facts, step)
        if new is None:
            return None
        reasons = [
            f"outbound in excess (local ratio {facts.ratio:.2f} > {excess:.2f}) and "
            f"{self._no_outflow(facts.flow)}: lower {old} -> {new} ppm",
        ]
        competitiveness = facts.reason_of("competitiveness")
        if competitiveness:
            reasons.append(competitiveness)
        # A channel that was idle for the whole window is stronger evidence than one idle only recently.
        evidence = (1.0 if facts.flow.out_count == 0 else 0.6) * self._trust(facts.flow)
        update: dict[str, int] = {"fee_rate_ppm": new}
        discount = -(facts.policy.inbound_fee_rate_ppm or 0)
        if discount > 0 and self.capabilities.inbound_fees:
            # A discount pulls even more liquidity into a channel that is already full (and could exceed the
            # lowered outbound fee): remove it with the same update.
            update["inbound_fee_rate_ppm"] = 0
            reasons.insert(1, f"also remove the inbound discount of {discount} ppm")
        elif discount > new:
            return None  # the backend cannot touch the discount, and it may not exceed the outbound fee
        proposed = facts.policy.model_copy(update=update)
        return self._make(facts, DecisionKind.LOWER_FEE, proposed, 0.5 * depth + 0.5 * evidence, reasons)

    def _inbound_discount(self, facts: ChannelFacts) -> Decision | None:
        depleted = self.params.depleted_ratio
        policy = facts.policy
        if not self.capabilities.inbound_fees or facts.flow is None or facts.ratio >= depleted:
            return None
        if facts.flow.recent_out_count >= self.params.min_recent_forwards:
            return None  # outflow continues: a raise, not a refill, is the answer
        if policy.inbound_fee_rate_ppm != 0 or policy.inbound_base_fee_msat != 0:
            return None  # leave an existing inbound fee alone while the channel stays depleted
        if not self._observed_long_enough(facts):
            return None
        # LND takes an inbound discount off whichever channel the payment leaves by, so it is sized on the
        # cheapest exit, not on this channel's fee: sized on a 1,700 ppm channel, a 420 ppm discount made
        # every forward out through a 3 ppm channel free, and in the simulator those free forwards used up
        # the liquidity a router earned with (its revenue fell by nine tenths).
        basis = policy.fee_rate_ppm if self.cheapest_exit_ppm is None else self.cheapest_exit_ppm
        discount = min(clean_floor(basis * self.params.inbound_discount_ratio), policy.fee_rate_ppm)
        if discount <= 0:
            return None
        reasons = [
            f"outbound depleted (local ratio {facts.ratio:.2f}) with no recent outflow: an inbound discount of "
            f"{discount} ppm draws payments in through this channel and refills it",
        ]
        proposed = policy.model_copy(update={"inbound_fee_rate_ppm": -discount})
        depth = self._depletion_depth(facts)
        return self._make(facts, DecisionKind.SET_INBOUND_DISCOUNT, proposed, 0.5 * depth, reasons)

    def _max_htlc(self, facts: ChannelFacts) -> Decision | None:
        if not self.params.lower_max_htlc or not self.capabilities.htlc_limits:
            return None
        channel, policy = facts.channel, facts.policy
        if policy.max_htlc_msat is None or policy.min_htlc_msat is None:
            return None  # unknown to this backend: nothing to compare against
        usable_msat = channel.usable_local_sat * 1000
        # Only ever lowered: raising it to the balance would publish our balance and need a gossip update
        # every time the balance moves.
        if facts.ratio >= self.profile.liquidity.target_band[0]:
            return None
        if policy.max_htlc_msat <= self.params.max_htlc_headroom * usable_msat:
            return None
        target = floor_two_significant_sat(usable_msat)
        why = f"max HTLC {policy.max_htlc_msat // 1000} sat exceeds usable outbound {usable_msat // 1000} sat"
        if target < max(policy.min_htlc_msat, 1) or target == policy.max_htlc_msat:
            return None
        reasons = [
            f"{why}: set max HTLC to {target // 1000} sat so senders stop trying payments that must fail"
        ]
        proposed = policy.model_copy(update={"max_htlc_msat": target})
        return self._make(facts, DecisionKind.SET_MAX_HTLC, proposed, 0.6, reasons)

    def _trust(self, flow: FlowStats) -> float:
        """How far flow evidence is trusted: fully from forwards, less when inferred from balances."""
        return 1.0 if flow.inferred is None else self.profile.activity.inferred_confidence

    def _close(self, facts: ChannelFacts) -> Decision | None:
        flow, age = facts.flow, facts.age_days
        if flow is None or age is None or age < self.params.close_min_age_days:
            return None
        if not flow.covers(self.profile.activity.window_days):
            return None  # idle "for the window" needs the whole window watched
        if flow.out_count or flow.in_count or facts.breakdown.total >= self.params.close_max_score:
            return None
        window = self.profile.activity.window_days
        idle = (
            f"no forwards in {window} days"
            if flow.inferred is None
            else (f"no balance change in {window} days ({INFERRED})")
        )
        reasons = [
            f"{idle}, {age:.0f} days old and total score {facts.breakdown.total:.2f} < "
            f"{self.params.close_max_score:.2f}: consider closing and reusing the capital (advisory only)",
        ]
        strength = 1.0 - facts.breakdown.total / max(self.params.close_max_score, 1e-9)
        return self._make(facts, DecisionKind.SUGGEST_CLOSE, facts.policy, strength, reasons)

    def _rebalance(self, facts: ChannelFacts) -> Decision | None:
        activity = facts.value_of("activity")
        unbalanced = facts.ratio < self.params.depleted_ratio or facts.ratio > self.params.excess_ratio
        if activity is None or not unbalanced or activity < self.params.rebalance_min_activity:
            return None
        side = "outbound" if facts.ratio < self.params.depleted_ratio else "inbound"
        reasons = [
            f"busy channel (activity {activity:.2f}) short of {side} liquidity (local ratio {facts.ratio:.2f}): "
            "consider a rebalance (advisory only)",
        ]
        return self._make(facts, DecisionKind.SUGGEST_REBALANCE, facts.policy, activity, reasons)

    def _hold(self, facts: ChannelFacts) -> Decision:
        low, high = self.profile.liquidity.target_band
        flow = facts.flow
        if flow is None:
            reason = f"{facts.flow_unknown_reason}: fee changes need flow confirmation, so hold"
        elif (
            facts.ratio < self.params.depleted_ratio
            and flow.recent_out_count >= self.params.min_recent_forwards
        ):
            reason = (
                f"outbound depleted and still flowing, but {facts.policy.fee_rate_ppm} ppm cannot be raised "
                "within the fee bounds and step cap"
            )
        elif facts.ratio < self.params.depleted_ratio:
            reason = f"outbound depleted (local ratio {facts.ratio:.2f}) but no outflow confirms a raise"
        elif facts.ratio > self.params.excess_ratio and flow.recent_out_count == 0:
            blocker = self._cut_blocker(facts) if self._observed_long_enough(facts) else None
            if blocker:
                reason = f"outbound in excess and idle, but {blocker}: keep the fee"
            elif self._observed_long_enough(facts):
                reason = (
                    f"outbound in excess and idle, but {facts.policy.fee_rate_ppm} ppm cannot be lowered by a "
                    "meaningful step within the fee bounds"
                )
            else:
                days = self.profile.activity.recent_days
                age = "unknown" if facts.age_days is None else f"{facts.age_days:.1f} days"
                watched = f", watched {flow.inferred.observed_days:.1f} days" if flow.inferred else ""
                reason = (
                    f"outbound in excess and idle so far, but idleness needs {days} days of evidence "
                    f"(channel age {age}{watched})"
                )
        elif facts.ratio > self.params.excess_ratio:
            reason = (
                f"outbound in excess (local ratio {facts.ratio:.2f}) but it still flows out: keep the fee"
            )
        elif low <= facts.ratio <= high:
            reason = f"local ratio {facts.ratio:.2f} is inside the target band {low:.2f}-{high:.2f}"
        else:
            reason = f"local ratio {facts.ratio:.2f} is not far enough from the band to act"
        if flow is not None and flow.inferred is not None:
            reason += f" (flow {INFERRED})"
        return self._make(facts, DecisionKind.HOLD, facts.policy, 0.5, [reason])
