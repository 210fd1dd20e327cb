"""Turning a replication's records into one simulated number per observation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ...record.metrics import FINANCED, FINANCINGS, MONTHLY, MUNICIPAL
from ...model.calendar import Calendar
from .observations import Observation, record_indices


@dataclass(frozen=True)
class Matcher:
    """Turns a replication's records into one number per observation.

    Regional observations read the monthly matrix; a municipality's read the yearly
    per-municipality array (summed over both cohorts); a financing's the monthly
    per-financing array.
    """

    rows: tuple[int, ...]
    indices: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]
    groups: tuple[int, ...] = ()  # municipality index per observation, -1 for the region
    financings: tuple[int, ...] = ()  # index in FINANCINGS per observation, -1 for all places

    @classmethod
    def build(cls, observations: Sequence[Observation], calendar: Calendar,
              municipalities: Sequence[str] = ()) -> "Matcher":
        names = list(municipalities)
        return cls(tuple(MUNICIPAL.index(o.metric) if o.municipality else FINANCED.index(o.metric) if o.financing
                         else MONTHLY.index(o.metric) for o in observations),
                   tuple(tuple(record_indices(o, calendar)) for o in observations),
                   tuple(o.match for o in observations),
                   tuple(names.index(o.municipality) if o.municipality else -1 for o in observations),
                   tuple(FINANCINGS.index(o.financing) if o.financing else -1 for o in observations))

    def __call__(self, monthly: np.ndarray, municipal: np.ndarray | None = None,
                 financed: np.ndarray | None = None) -> np.ndarray:
        out = np.empty(len(self.rows))
        groups = self.groups or (-1,) * len(self.rows)
        financings = self.financings or (-1,) * len(self.rows)
        for k, (row, idx, op, group, fin) in enumerate(zip(self.rows, self.indices, self.ops, groups, financings)):
            if group >= 0:
                out[k] = municipal[group, :, row, idx[0]].sum()
                continue
            values = (financed[fin] if fin >= 0 else monthly)[row, list(idx)]
            out[k] = values.sum() if op == "total" else values.mean()
        return out
