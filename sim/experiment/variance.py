"""How much of a result's spread comes from parameter uncertainty and how much from chance.

When replications draw their parameters from a calibration's posterior (``bwsim run
--posterior``, replication r taking draw ``r // per_draw``), the law of total variance splits
the variance of each yearly metric into a parameter part and a stochastic part.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from ..record.metrics import YEARLY_ROW
from .replications import Results

#: The metrics split by default: the stocks the policy questions are about and the flows.
METRICS = ("waitlist", "occupied", "ready_to_leave", "admissions", "exits")


def variance_split(results: Results, per_draw: int, metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """Law of total variance over replications grouped by parameter draw, per metric and year.

    ``parameter`` = Var(E[Y | draw]) (between-draw variance of the draw means, minus
    its stochastic share), ``stochastic`` = E[Var(Y | draw)] (within-draw variance).
    With one replication per draw the two cannot be told apart (NaN). When the replications are
    not a multiple of ``per_draw``, the last, incomplete draw is left out.
    """
    years = results.calendar.years
    rows = []
    for metric in metrics:
        values = results.yearly[:, YEARLY_ROW[metric], :]
        values = values[:len(values) // per_draw * per_draw]
        groups = values.reshape(-1, per_draw, len(years))
        for k, year in enumerate(years):
            y = groups[:, :, k]
            total = float(np.nanvar(y, ddof=1)) if y.size > 1 else math.nan
            if per_draw > 1 and len(y) > 1:
                within = float(np.nanmean(np.nanvar(y, axis=1, ddof=1)))
                between = float(np.nanvar(np.nanmean(y, axis=1), ddof=1))
                parameter = max(between - within / per_draw, 0.0)
            else:
                within = parameter = math.nan
            explained = parameter + within
            rows.append({"metric": metric, "year": year, "mean": float(np.nanmean(y)), "total_var": total,
                         "parameter_var": parameter, "stochastic_var": within,
                         "parameter_share": parameter / explained if explained > 0 else math.nan})
    return pd.DataFrame(rows)
