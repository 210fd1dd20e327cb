"""Rolling validation: forecast skill measured the way it will be used.

For each cut-off, the model is fitted on the observations up to it and forecasts the fitted
observations that end within each horizon after it (6 and 12 months by default). A forecast
is the posterior predictive: each draw of the fit's posterior on the full horizon, one
replication each, so it holds parameter and stochastic uncertainty. Each forecast is scored by

* whether the observed value falls in the central 50% and 90% bands, and
* the CRPS (continuous ranked probability score, in the observation's unit; lower is better):
  E|X - y| - E|X - X'| / 2 over the predictive draws X, X'. It rewards a forecast that is both
  close and sharp, and equals the absolute error for a point forecast.

Coverage near 50% and 90% says the bands are honest; a band that covers far more is too wide,
far less too narrow.
"""

from __future__ import annotations

import datetime as dt
from typing import Sequence

import numpy as np
import pandas as pd

from .config import Config
from .observations import HOLDOUT, Observation

HORIZONS = (6, 12)  # months ahead
SLACK = 0.5  # months: a year-end a year after a year-end (12.02 months) is 12 months ahead
COLUMNS = ("cutoff", "observation", "metric", "months_ahead", "horizon", "observed", "sd", "mean", "p5", "p25",
           "p75", "p95", "in_50", "in_90", "crps")


def months_between(start: dt.date, end: dt.date) -> float:
    return (end - start).days / (365.25 / 12)


def default_cutoffs(observations: Sequence[Observation], horizon: int = max(HORIZONS)) -> list[dt.date]:
    """The dates on which fitted observations end, when another fitted observation ends after it within
    ``horizon`` months; a date within a month after the previous cut-off is skipped (it would
    repeat that fit)."""
    ends = sorted({o.end for o in observations if o.use == "fit"})
    cutoffs: list[dt.date] = []
    for d in ends:
        if cutoffs and months_between(cutoffs[-1], d) < 1:
            continue
        if any(0 < months_between(d, e) <= horizon + SLACK for e in ends):
            cutoffs.append(d)
    return cutoffs


def crps(draws: np.ndarray, y: float) -> float:
    """CRPS of the empirical distribution of ``draws`` at ``y`` (NaN draws left out)."""
    x = np.sort(np.asarray(draws, float)[np.isfinite(draws)])
    n = len(x)
    if n == 0:
        return float("nan")
    # E|X - X'| from the sorted sample: 2 / n^2 * sum_i (2i - n - 1) x_i
    spread = 2.0 * np.sum((2 * np.arange(1, n + 1) - n - 1) * x) / n**2
    return float(np.mean(np.abs(x - y)) - 0.5 * spread)


def score_cutoff(config: Config, matched_posterior: np.ndarray, horizons: Sequence[int] = HORIZONS) -> pd.DataFrame:
    """One row per held-out observation ending within the longest horizon after ``config.cutoff``."""
    rows = []
    for k, o in enumerate(config.observations):
        if o.use != HOLDOUT:
            continue
        ahead = months_between(config.cutoff, o.end)
        horizon = next((h for h in sorted(horizons) if ahead <= h + SLACK), None)
        if horizon is None:
            continue
        x = matched_posterior[:, k]
        x = x[np.isfinite(x)]
        p5, p25, p75, p95 = np.percentile(x, [5, 25, 75, 95])
        rows.append({"cutoff": config.cutoff.isoformat(), "observation": o.name, "metric": o.label,
                     "months_ahead": round(ahead, 1), "horizon": horizon, "observed": o.value, "sd": o.sd,
                     "mean": float(x.mean()), "p5": p5, "p25": p25, "p75": p75, "p95": p95,
                     "in_50": bool(p25 <= o.value <= p75), "in_90": bool(p5 <= o.value <= p95),
                     "crps": crps(x, o.value)})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def summary(scores: pd.DataFrame, horizons: Sequence[int] = HORIZONS) -> pd.DataFrame:
    """Per horizon (forecasts up to that many months ahead, so 12 includes 6): how many forecasts,
    the coverage of the 50% and 90% bands, and the mean CRPS relative to the observation's sd."""
    rows = []
    for h in sorted(horizons):
        part = scores[scores["horizon"] <= h]
        rows.append({"horizon_months": h, "forecasts": len(part),
                     "coverage_50": float(part["in_50"].mean()) if len(part) else np.nan,
                     "coverage_90": float(part["in_90"].mean()) if len(part) else np.nan,
                     "mean_crps_over_sd": float((part["crps"] / part["sd"]).mean()) if len(part) else np.nan})
    return pd.DataFrame(rows)
