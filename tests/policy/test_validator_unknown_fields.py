"""Fields a backend does not report (None, e.g. on LNbits) stay unknown: never bound-checked, never erased."""

from __future__ import annotations

from app.domain.capabilities import NodeCapabilities
from app.domain.validation import IssueCode, Verdict
from app.policy.limits import SafetyLimits
from app.policy.validator import PolicyValidator
from tests.policy.conftest import build_context, build_decision, build_policy

VALIDATOR = PolicyValidator(SafetyLimits())
UNKNOWN = {
    "time_lock_delta": None,
    "min_htlc_msat": None,
    "max_htlc_msat": None,
    "inbound_base_fee_msat": None,
    "inbound_fee_rate_ppm": None,
}
LNBITS_LIKE = {"capabilities": NodeCapabilities(inbound_fees=False, htlc_limits=False, time_lock=False)}


def test_fee_change_with_unknown_other_fields_is_approved():
    current = build_policy(**UNKNOWN)
    result = VALIDATOR.validate(build_decision(current, fee_rate_ppm=140), build_context(**LNBITS_LIKE))
    assert result.verdict is Verdict.APPROVED, result.issues


def test_unknown_fields_still_leave_fee_bounds_enforced():
    current = build_policy(**UNKNOWN, fee_rate_ppm=2_400)
    result = VALIDATOR.validate(build_decision(current, fee_rate_ppm=2_600), build_context(**LNBITS_LIKE))
    assert result.verdict is Verdict.REJECTED
    assert IssueCode.FEE_RATE_OUT_OF_BOUNDS in result.codes


def test_erasing_a_known_value_is_refused():
    current = build_policy()
    result = VALIDATOR.validate(
        build_decision(current, fee_rate_ppm=140, time_lock_delta=None), build_context()
    )
    assert result.verdict is Verdict.REJECTED
    assert result.codes == [IssueCode.UNSUPPORTED_BY_BACKEND]
    assert "cannot erase" in result.issues[0].message


def test_setting_an_unknown_field_on_a_backend_that_cannot_write_it_is_refused():
    current = build_policy(**UNKNOWN)
    result = VALIDATOR.validate(
        build_decision(current, fee_rate_ppm=140, max_htlc_msat=100_000_000), build_context(**LNBITS_LIKE)
    )
    assert result.verdict is Verdict.REJECTED
    assert result.codes == [IssueCode.UNSUPPORTED_BY_BACKEND]


def test_unknown_policy_history_refuses_the_write():
    result = VALIDATOR.validate(
        build_decision(build_policy(), fee_rate_ppm=140), build_context(change_history_known=False)
    )
    assert result.verdict is Verdict.REJECTED
    assert result.codes == [IssueCode.COOLDOWN_UNKNOWN]
    assert "cannot be shown to have passed" in result.issues[0].message
