"""The shadow report's arithmetic: only accepted proposals would have changed a policy; refusals apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.domain.decision import DecisionStatus
from app.domain.validation import IssueCode, Verdict
from app.storage.shadow_report import REJECTED_BY_OPERATOR, summarize

SINCE = datetime(2026, 3, 1, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=2)


def document(chan_id: str, status: DecisionStatus, verdict: Verdict, *codes: IssueCode) -> dict[str, Any]:
    """A decision document as the report's query projects it."""
    issues = [{"code": code.value, "message": code.value, "field": None} for code in codes]
    return {
        "chan_id": chan_id,
        "kind": "raise_fee",
        "status": status.value,
        "created_at": SINCE + timedelta(hours=1),
        "validation": {"chan_id": chan_id, "verdict": verdict.value, "issues": issues},
    }


def test_refused_proposals_are_counted_apart_with_their_codes():
    report = summarize(
        [
            document("1", DecisionStatus.APPROVED, Verdict.APPROVED),
            document("2", DecisionStatus.REJECTED, Verdict.REJECTED, IssueCode.DAILY_CAP_REACHED),
            document("3", DecisionStatus.REJECTED, Verdict.REJECTED, IssueCode.DAILY_CAP_REACHED),
            document(
                "4",
                DecisionStatus.REJECTED,
                Verdict.REJECTED,
                IssueCode.STEP_TOO_LARGE,
                IssueCode.COOLDOWN_ACTIVE,
            ),
        ],
        since=SINCE,
        until=UNTIL,
        truncated=False,
    )
    assert report.total == 1 and report.by_channel == {"1": 1} and report.by_kind == {"raise_fee": 1}
    assert report.by_day[SINCE.date()] == 1 and sum(report.by_day.values()) == 1
    assert report.refused == 3
    assert report.refused_by_code == {"daily_cap_reached": 2, "step_too_large": 1, "cooldown_active": 1}
    assert report.by_status == {"approved": 1, "rejected": 3}


def test_only_accepted_proposals_would_have_changed_a_policy():
    report = summarize(
        [
            document("approved-by-operator", DecisionStatus.APPROVED, Verdict.NEEDS_APPROVAL),
            document("applied", DecisionStatus.APPLIED, Verdict.APPROVED),
            document("rolled-back", DecisionStatus.ROLLED_BACK, Verdict.APPROVED),
            document("waiting", DecisionStatus.NEEDS_APPROVAL, Verdict.NEEDS_APPROVAL),
            document("never-approved", DecisionStatus.EXPIRED, Verdict.NEEDS_APPROVAL),
            document("write-failed", DecisionStatus.FAILED, Verdict.APPROVED),
        ],
        since=SINCE,
        until=UNTIL,
        truncated=False,
    )
    assert set(report.by_channel) == {"approved-by-operator", "applied", "rolled-back"}
    assert report.total == 3 and report.refused == 0 and report.refused_by_code == {}
    assert sum(report.by_status.values()) == 6


def test_an_operator_s_refusal_of_an_accepted_proposal_has_its_own_code():
    report = summarize(
        [
            document("1", DecisionStatus.REJECTED, Verdict.APPROVED),
            document(
                "2", DecisionStatus.REJECTED, Verdict.NEEDS_APPROVAL, IssueCode.MANUAL_APPROVAL_REQUIRED
            ),
        ],
        since=SINCE,
        until=UNTIL,
        truncated=False,
    )
    assert report.total == 0 and report.refused == 2
    assert report.refused_by_code == {REJECTED_BY_OPERATOR: 2}
