"""Results as JSON documents and as plain-text tables, including the calibration figures beside their sources."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from app.simulation.simulator import RunResult

# Published figures the demand is calibrated against (see README "Does it earn more?").
CALIBRATION = {
    "mean_amount_sat": (44_700, "River Lightning Report (Oct 2023): mean payment Aug 2023 ~44.7k sat"),
    "median_forward_sat": (47_298, "Diamond Hands routing report (Jan 2022): median forward, 3 months"),
    "median_fee_ppm": (50, "Diamond Hands (Jan 2022): median fee rate of its forwards (one hop)"),
    "success_rate": (0.997, "River Lightning Report (Oct 2023): 99.7 % of River's payments, Aug 2023"),
    "annualised_turnover": (7.0, "River (Oct 2023): yearly routed volume ~7x public capacity (network)"),
    "annualised_return_pct": (5.5, "vendor-reported routing returns, 5-6 % a year (not verified)"),
}
T_95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def result_document(result: RunResult) -> dict[str, Any]:
    """One run as a JSON-ready dict."""
    return asdict(result)


def mean_ci(values: Sequence[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95 % confidence interval (Student t; 0 for a single value)."""
    array = np.asarray(values, dtype=float)
    if len(array) < 2:
        return (float(array.mean()) if len(array) else 0.0), 0.0
    t = T_95.get(len(array) - 1, 1.96)
    return float(array.mean()), float(t * array.std(ddof=1) / math.sqrt(len(array)))


def run_table(results: Sequence[RunResult]) -> str:
    """One line per run."""
    header = (
        f"{'strategy':<24} {'node':<18} {'seed':>4} {'revenue sat':>12} {'fwds':>6} {'ann.%':>7} "
        f"{'depl.':>6} {'full':>6} {'upd/ch/d':>8} {'net ok':>7} {'att/s':>7}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        f, n = r.metrics["focal"], r.metrics["network"]
        lines.append(
            f"{r.strategy:<24} {r.focal_alias[:18]:<18} {r.seed:>4} {f['revenue_msat'] / 1000:>12,.0f} "
            f"{f['forwards']:>6} {f['annualised_return_pct']:>7.3f} {f['depleted_share']:>6.1%} "
            f"{f['full_share']:>6.1%} {f['updates_per_channel_day']:>8.3f} {n['success_rate']:>7.1%} "
            f"{n['attempts'] / max(r.seconds, 1e-9):>7.0f}"
        )
    return "\n".join(lines) + "\n"


def calibration_table(results: Sequence[RunResult]) -> str:
    """Network-wide and focal figures the model produced, beside the published figures and their source."""
    lines = [f"{'figure':<24} {'simulated':>12} {'published':>10}  source"]
    for name, (published, source) in CALIBRATION.items():
        scope = (
            "focal"
            if name in ("median_forward_sat", "annualised_turnover", "annualised_return_pct")
            else "network"
        )
        simulated, _ = mean_ci([r.metrics[scope][name] for r in results])
        lines.append(f"{name:<24} {simulated:>12,.3f} {published:>10,}  {source}")
    return "\n".join(lines) + "\n"
