"""Which limits a write answers for: those on the fields it moves, and rules pairing such a field with another."""

from __future__ import annotations

from app.domain.validation import IssueCode, ValidationIssue

# Rules between two fields: a write that moves either side is answerable for the pair.
_PAIRED = {
    IssueCode.INBOUND_DISCOUNT_EXCEEDS_OUTBOUND: {
        "inbound_fee_rate_ppm": "fee_rate_ppm",
        "inbound_base_fee_msat": "base_fee_msat",
    },
    IssueCode.MIN_HTLC_ABOVE_MAX_HTLC: {"min_htlc_msat": "max_htlc_msat"},
}


def binds_write(issue: ValidationIssue, changed: set[str]) -> bool:
    """Whether a write that changes `changed` is answerable for `issue` (an issue without a field always is)."""
    if issue.field is None or issue.field in changed:
        return True
    partner = _PAIRED.get(issue.code, {}).get(issue.field)
    return partner is not None and partner in changed
