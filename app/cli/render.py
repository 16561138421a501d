"""Render a cycle report as a fixed-width table or as one JSON document."""

from __future__ import annotations

from typing import Any

import orjson

from app.domain.channel import scid_to_string
from app.engine.cycle import ChannelEvaluation, CycleReport
from app.engine.heuristics import HEURISTIC_CLASSES

SHORT_NAMES = {
    "centrality": "cen",
    "liquidity": "liq",
    "activity": "act",
    "competitiveness": "cmp",
    "reliability": "rel",
    "age_stability": "age",
    "peer_quality": "peer",
    "network_position": "pos",
}


def evaluation_document(evaluation: ChannelEvaluation) -> dict[str, Any]:
    """One channel's entry of the JSON output."""
    decision = evaluation.decision
    return {
        "chan_id": evaluation.channel.chan_id,
        "scid": scid_to_string(evaluation.channel.chan_id),
        "peer": {"pubkey": evaluation.channel.remote_pubkey, "alias": evaluation.peer_alias},
        "local_ratio": round(evaluation.channel.local_ratio, 4),
        "decision": {
            "kind": decision.kind.value,
            "advisory": decision.kind.is_advisory,
            "confidence": decision.confidence,
            "total_score": decision.total_score,
            "current_policy": decision.current_policy.model_dump(),
            "proposed_policy": decision.proposed_policy.model_dump(),
            "changed_fields": decision.changed_fields,
            "reasons": decision.reasons,
            "breakdown": decision.breakdown.model_dump(mode="json")["scores"],
        },
        "scores": decision.breakdown.values(),
        "validation": evaluation.validation.model_dump(mode="json", exclude={"chan_id"}),
    }


def render_json(report: CycleReport, meta: dict[str, Any]) -> bytes:
    """The whole report as one JSON document."""
    document = {
        "node": {**report.node.model_dump(), **meta},
        "profile": report.profile,
        "channels": [evaluation_document(e) for e in report.evaluations],
        "summary": report.summary(),
    }
    return orjson.dumps(document)


def render_table(report: CycleReport, meta: dict[str, Any]) -> str:
    """A table an operator can scan, one row per channel, then the summary."""
    names = [cls.name for cls in HEURISTIC_CLASSES]
    header = (
        f"{'scid':<18} {'peer':<20} {'local':>5} {'fee':>5} {'decision':<20} {'new':>5} {'conf':>4} {'total':>5} "
        + " ".join(f"{SHORT_NAMES[n]:>4}" for n in names)
        + "  verdict"
    )
    lines = [
        f"node {report.node.alias} {report.node.pubkey} (profile {report.profile}; {meta['sandbox_label']})",
        f"graph {meta['graph_source']}" + (" [SYNTHETIC]" if meta["synthetic_graph"] else ""),
        header,
        "-" * len(header),
    ]
    for evaluation in report.evaluations:
        decision = evaluation.decision
        values = decision.breakdown.values()
        scores = " ".join("   -" if values.get(n) is None else f"{values[n]:4.2f}" for n in names)
        verdict = evaluation.validation.verdict.value
        codes = [code.value for code in evaluation.validation.codes if verdict == "rejected"]
        lines.append(
            f"{scid_to_string(evaluation.channel.chan_id):<18} {evaluation.peer_alias[:20]:<20} "
            f"{evaluation.channel.local_ratio:5.2f} {decision.current_policy.fee_rate_ppm:>5} "
            f"{decision.kind.value:<20} {decision.proposed_policy.fee_rate_ppm:>5} {decision.confidence:4.2f} "
            f"{decision.total_score:5.2f} {scores}  {verdict}{' ' + ','.join(codes) if codes else ''}"
        )
    summary = report.summary()
    lines.append("")
    lines.append(f"channels: {summary['channels']}")
    lines.append("decisions: " + ", ".join(f"{k}={v}" for k, v in summary["decisions"].items()))
    lines.append("verdicts: " + ", ".join(f"{k}={v}" for k, v in summary["verdicts"].items()))
    rejections = summary["rejections_by_code"]
    lines.append("rejections by code: " + (", ".join(f"{k}={v}" for k, v in rejections.items()) or "none"))
    return "\n".join(lines) + "\n"
