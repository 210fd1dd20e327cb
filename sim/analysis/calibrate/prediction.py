"""Prior and posterior predictive runs: each draw on the full horizon, matched to every observation
(fitted, checked and held out), with the monthly stocks kept for the figures."""

from __future__ import annotations

from concurrent.futures import Executor

import numpy as np
import pandas as pd

from ...config import scenario as scenario_mod
from ...model.calendar import Calendar
from .config import Config, parameter_values
from .matching import Matcher
from .progress import Progress
from .simulation import run_sets

SERIES = ("waitlist", "ready_to_leave", "occupied")  # monthly stocks kept from the predictive runs
BAND = (5.0, 95.0)  # the 90% band of predictions and intervals


def predictive(config: Config, draws_x: np.ndarray, stage: str, progress: Progress,
               executor: Executor | None) -> tuple[np.ndarray, np.ndarray]:
    """Draw r on the full horizon with replication r: matched values (draws, obs) and series."""
    data = config.scenario_data
    sc = scenario_mod.from_mapping(data)
    matcher = Matcher.build(config.observations, Calendar(sc.start, sc.end), list(sc.inflow.municipalities))
    tasks = [(data, parameter_values(config, x), config.method.seed, (r,), matcher, SERIES) for r, x in enumerate(draws_x)]
    results = run_sets(tasks, stage, progress, executor)
    return np.concatenate([m for m, _ in results]), np.concatenate([s for _, s in results])


def predictive_table(config: Config, prior: np.ndarray, post: np.ndarray) -> pd.DataFrame:
    rows = []
    for k, o in enumerate(config.observations):
        a = np.nanpercentile(prior[:, k], [BAND[0], 50, BAND[1]])
        b = np.nanpercentile(post[:, k], [BAND[0], 50, BAND[1]])
        rows.append({"observation": o.name, "metric": o.label, "date_or_period": o.period, "match": o.match,
                     "use": o.use, "observed": o.value, "sd": o.sd, "prior_p5": a[0], "prior_p50": a[1],
                     "prior_p95": a[2], "post_mean": float(np.nanmean(post[:, k])), "post_p5": b[0],
                     "post_p50": b[1], "post_p95": b[2], "covered_prior": bool(a[0] <= o.value <= a[2]),
                     "covered": bool(b[0] <= o.value <= b[2]),
                     "error_of_mean": float(np.nanmean(post[:, k])) - o.value})
    return pd.DataFrame(rows)
