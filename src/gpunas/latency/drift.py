"""Latency verdicts that hold across time: the machine's drift since the LUT, and budget verdicts
from intervals.

The LUT and the fidelity networks are measured early in a run; the hub models are validated hours
later, when the machine may be faster or slower (clocks, thermal state, other work) or in a burst
of other work. Validation therefore re-times a few of the fidelity networks (``references``,
spread over the latency range) in the same interleaved rounds as the hub models, and compares
each with its fidelity measurement:

- ``ratio = now / then`` per reference; the drift is the median ratio;
- the drift is **uniform** when every ratio lies within ``tolerance`` of the median ratio (the
  machine as a whole got slower or faster); then, if it exceeds ``threshold``, each hub model's
  prediction is rescaled by it (``predicted_now_ms``) and the reason recorded; a drift that is
  not uniform is reported and not applied (it would mean the LUT's shape, not its scale, changed);
- a hub model's latency is the median of its round medians with a distribution-free interval of
  that median (Hettmansperger and Sheather 1986, ``scipy.stats.mstats.median_cihs``); it is
  ``inside_budget: yes`` when the whole interval, in the LUT's time (divided by the applied drift),
  lies below the budget, ``no`` when the whole interval lies at or above it, ``undecided`` otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import mstats

from gpunas.errors import GpunasError

# validation.drift's defaults (the config schema states the same): references re-timed, the
# largest relative spread of their ratios that still counts as uniform, the smallest drift applied
DEFAULTS = {"references": 3, "tolerance": 0.1, "threshold": 0.05}


def pick_references(rows: Sequence[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """``count`` fidelity rows (dicts with ``arch`` and ``measured_ms``) spread over the latency
    range: the fastest, the slowest and evenly spaced ranks between (fewer if there are fewer)."""
    if count <= 0 or not rows:
        return []
    ordered = sorted(rows, key=lambda r: float(r["measured_ms"]))
    idx = np.unique(np.round(np.linspace(0, len(ordered) - 1, min(count, len(ordered)))).astype(int))
    return [ordered[i] for i in idx]


def median_interval(rounds: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free ``confidence`` interval (ms) of the median of ``rounds`` (an item's round
    medians), by Hettmansperger-Sheather interpolation of order statistics (scipy's
    ``mstats.median_cihs``). With fewer than 3 rounds: their range.

    Raises:
        GpunasError: ``rounds`` is empty or ``confidence`` is outside (0, 1).
    """
    r = np.sort(np.asarray(rounds, dtype=float))
    if r.size == 0:
        raise GpunasError("median_interval: no rounds")
    if not 0 < confidence < 1:
        raise GpunasError(f"median_interval: confidence must be in (0, 1), got {confidence}")
    if 1 - 2 * 0.5**r.size < confidence:
        return float(r[0]), float(r[-1])
    low, high = mstats.median_cihs(r, alpha=1 - confidence)
    return float(low), float(high)


def budget_verdict(low_ms: float, high_ms: float, budget_ms: float, drift: float = 1.0) -> str:
    """``yes`` / ``no`` / ``undecided``: the latency interval [low, high] (ms, measured now) in
    the LUT's time (divided by the applied ``drift``) against the budget (ms, strict: < budget)."""
    low, high = low_ms / drift, high_ms / drift
    if high < budget_ms:
        return "yes"
    if low >= budget_ms:
        return "no"
    return "undecided"


def drift_summary(
    then_ms: Sequence[float],
    now_ms: Sequence[float],
    tolerance: float = DEFAULTS["tolerance"],
    threshold: float = DEFAULTS["threshold"],
) -> dict[str, Any]:
    """The drift of the machine from references measured ``then`` (fidelity) and ``now``
    (validation), ms each, same order: ``ratios`` (now / then), ``drift`` (their median),
    ``spread`` (largest |ratio / drift - 1|), ``uniform``, ``applied`` (the factor the
    predictions are multiplied by: the drift, or 1.0) and ``reason``.

    Raises:
        GpunasError: the two sequences differ in length or hold a non-positive latency.
    """
    then, now = np.asarray(then_ms, dtype=float), np.asarray(now_ms, dtype=float)
    if then.shape != now.shape:
        raise GpunasError(f"drift: {then.size} reference latencies then, {now.size} now")
    if then.size == 0:
        return {
            "references": 0,
            "ratios": [],
            "drift": None,
            "spread": None,
            "uniform": None,
            "applied": 1.0,
            "reason": "no reference networks re-timed: predictions as the LUT made them",
        }
    if (then <= 0).any() or (now <= 0).any():
        raise GpunasError(f"drift: reference latencies must be positive, got then {then}, now {now}")
    ratios = now / then
    drift = float(np.median(ratios))
    spread = float(np.max(np.abs(ratios / drift - 1)))
    uniform = spread <= tolerance
    pct = f"{100 * (drift - 1):+.1f}%"
    if not uniform:
        applied, reason = (
            1.0,
            (
                f"drift {pct} not uniform over {then.size} references (ratios {ratios.min():.3f}..{ratios.max():.3f}, "
                f"spread {100 * spread:.1f}% > {100 * tolerance:.0f}%): not applied; the errors below mix "
                "the machine's change with the prediction's"
            ),
        )
    elif abs(drift - 1) <= threshold:
        applied, reason = (
            1.0,
            (
                f"no drift: {pct} over {then.size} references (within {100 * threshold:.0f}%, uniform to "
                f"{100 * spread:.1f}%); predictions as the LUT made them"
            ),
        )
    else:
        applied, reason = (
            drift,
            (
                f"uniform drift {pct} over {then.size} references (spread {100 * spread:.1f}% <= "
                f"{100 * tolerance:.0f}%): the machine changed since the LUT; predictions and budgets "
                f"rescaled by {drift:.3f}"
            ),
        )
    return {
        "references": int(then.size),
        "ratios": [float(x) for x in ratios],
        "drift": drift,
        "spread": spread,
        "uniform": bool(uniform),
        "applied": float(applied),
        "reason": reason,
    }
