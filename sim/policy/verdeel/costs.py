"""The money out: what each municipality pays under the regime, from the simulated cost of
every client by municipality of origin (woonplaats) and cohort (in care before the start
year or not), :attr:`sim.experiment.replications.Results.municipal`."""

from __future__ import annotations

import numpy as np

from ...record.metrics import MUNICIPAL
from ...experiment.replications import Results
from .budget import objective_fraction
from .municipalities import Municipalities
from .settings import Settings


def cohort_costs(results: Results) -> tuple[np.ndarray, np.ndarray]:
    """[replication, municipality, year] cost of existing clients (cohort 0) and of new clients."""
    cost = results.municipal[:, :, :, MUNICIPAL.index("cost"), :]
    return cost[:, :, 0], cost[:, :, 1]


def paid_costs(settings: Settings, table: Municipalities, results: Results) -> np.ndarray:
    """[replication, municipality, year]: what each municipality pays under the regime. Adds up
    to the region's cost in every replication and year."""
    existing, new = cohort_costs(results)
    own = existing + new
    years = results.calendar.years
    f = objective_fraction(settings, years)[None, None, :]
    h = table.historic[None, :, None]
    pooled = h * own.sum(1, keepdims=True)  # the centrumgemeente pays for the whole region
    after = (np.array(years) >= settings.start_year)[None, None, :]
    if settings.regime == "historic":
        return pooled
    if settings.regime == "objective":
        return np.where(after, own, pooled)
    if settings.regime == "phased":
        return (1 - f) * pooled + f * own
    return np.where(after, h * existing.sum(1, keepdims=True) + new, pooled)  # two_track
