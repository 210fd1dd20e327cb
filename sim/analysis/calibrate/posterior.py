"""The posterior: the kept parameter sets with their weights, their summary, and using it later
(drawing sets by weight, turning a set into ``--set`` overrides)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import yaml

from ..abc_smc import Generation
from .config import Config, prior_box
from .errors import CalibrationError


def posterior_frame(config: Config, gen: Generation) -> pd.DataFrame:
    """One row per kept set: the parameter values, the normalised weight and the distance."""
    x = prior_box(config).to_x(gen.u)
    frame = pd.DataFrame({p.key: [p.value(v) for v in x[:, i]] for i, p in enumerate(config.parameters)})
    frame["weight"] = gen.normalised
    frame["distance"] = gen.distances
    return frame


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """Quantiles (0-1) of a weighted sample, interpolating the weighted empirical CDF at mid-points."""
    order = np.argsort(values, kind="stable")
    v, w = np.asarray(values, float)[order], np.asarray(weights, float)[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(q, cdf, v)


def fitted_table(config: Config, posterior: pd.DataFrame) -> pd.DataFrame:
    """Per parameter: prior range, weighted mean, median, 90% interval and its width against the prior."""
    rows = []
    w = posterior["weight"].to_numpy()
    for p in config.parameters:
        x = posterior[p.key].to_numpy(float)
        p5, p50, p95 = weighted_quantile(x, w, [0.05, 0.5, 0.95])
        rows.append({"parameter": p.key, "prior_low": p.low, "prior_high": p.high, "mean": float(np.average(x, weights=w)),
                     "median": p50, "p5": p5, "p95": p95, "width_vs_prior": (p95 - p5) / (0.9 * (p.high - p.low))})
    return pd.DataFrame(rows)


def read_posterior(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(f"{path}: posterior file not found")
    frame = pd.read_csv(path)
    if "weight" not in frame.columns or len(frame) == 0:
        raise CalibrationError(f"{path}: not a posterior (needs parameter columns and a 'weight' column)")
    if (frame["weight"] < 0).any() or frame["weight"].sum() <= 0:
        raise CalibrationError(f"{path}: weights must be non-negative and not all zero")
    return frame


def sample_posterior(path: str | Path, n: int, seed: int) -> list[dict[str, float]]:
    """``n`` parameter sets drawn by weight (with replacement) from a posterior.csv."""
    frame = read_posterior(path)
    keys = [c for c in frame.columns if c not in ("weight", "distance")]
    w = frame["weight"].to_numpy(float)
    rows = np.random.default_rng(seed).choice(len(frame), size=n, p=w / w.sum())
    return [{k: frame[k].iloc[i].item() for k in keys} for i in rows]


def posterior_overrides(row: dict[str, float]) -> list[str]:
    """A posterior row as ``--set key.path=value`` assignments (values written as YAML numbers)."""
    return [f"{key}={yaml.safe_dump(value).splitlines()[0]}" for key, value in row.items()]
