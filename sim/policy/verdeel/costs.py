"""The money out: what each municipality pays under the regime, from the simulated cost of
every client by municipality of origin (woonplaats) and cohort (placed before the cohort date
or not), :attr:`sim.experiment.replications.Results.municipal`, in each year's prices.

What is computed here from the municipal metrics, without a change of the model:

- the **cost index**: the scenario's prices (``price_year``) moved to each year's;
- the **woonplaats key** (``woonplaats_column``): the simulated municipalities reweighted to
  other shares. The model draws each client's municipality from a stream of its own, which
  changes nothing else in the journey, so the expected cost of a municipality is its share times
  the region's; reweighting by new share / simulated share, renormalised so that every
  replication keeps its regional total, gives the expected costs under the other shares
  (the spread between replications is the simulated municipality's, scaled);
- the **Wlz move** (``wlz.client_share``): that share of the clients in care on 1 January of
  ``wlz.year`` leaves BW with all its later cost (ambulant care included), taken from a second
  cohort split of the same run (``attribution.cohort_date`` = that date: the same clients, the
  same numbers, only the split differs). The places they held are taken to go with them (they
  become Wlz places), so nobody on the list gets them earlier;
- the **cohort rule** ``ambulant_after_exit``: existing clients' ambulant support after they
  leave BW, to the centrumgemeente with their stay, or to their woonplaats (taken to be their
  municipality of origin: the model does not move people between municipalities).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from ...experiment.replications import Results
from ...record.metrics import MUNICIPAL_ROW
from .budget import cost_path, objective_fraction
from .municipalities import Municipalities
from .settings import Settings, VerdeelError


def cohort_costs(results: Results) -> tuple[np.ndarray, np.ndarray]:
    """[replication, municipality, year] cost of existing clients (cohort 0) and of new clients,
    as simulated (the scenario's prices, its woonplaats shares)."""
    cost = results.municipal[:, :, :, MUNICIPAL_ROW["cost"], :]
    return cost[:, :, 0], cost[:, :, 1]


def woonplaats_weights(settings: Settings, table: Municipalities, results: Results) -> np.ndarray | None:
    """New share / simulated share per municipality, or None when the simulated shares are kept."""
    if settings.woonplaats_column is None:
        return None
    wanted = table.column(settings.woonplaats_column)
    simulated = np.array([results.scenario.inflow.municipalities[n] for n in results.municipalities])
    impossible = [n for n, w, s in zip(table.names, wanted, simulated) if w > 0 and s == 0]
    if impossible:
        raise VerdeelError(f"{settings.source}: woonplaats_column {settings.woonplaats_column}: {impossible[0]} has "
                           "no simulated clients (inflow share 0), so its share cannot be reweighted")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(simulated > 0, wanted / simulated, 0.0)


def municipal(settings: Settings, table: Municipalities, results: Results) -> np.ndarray:
    """The run's [replication, municipality, cohort, metric, year] array, reweighted to
    ``woonplaats_column`` if set (every regional total kept, replication by replication)."""
    values = results.municipal
    weights = woonplaats_weights(settings, table, results)
    if weights is None:
        return values
    scaled = values * weights[None, :, None, None, None]
    total, new_total = values.sum(1, keepdims=True), scaled.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(new_total > 0, scaled * total / new_total, scaled)


@dataclass(frozen=True)
class Costs:
    """[replication, municipality, year] euros in each year's prices, after the Wlz move."""

    existing: np.ndarray  # clients placed before the responsibility date (their later ambulant care included)
    new: np.ndarray  # everyone else
    existing_ambulant: np.ndarray  # the part of ``existing`` that is ambulant support after the stay
    wlz_moved: np.ndarray  # the cost that left BW with the clients who moved to the Wlz

    @property
    def own(self) -> np.ndarray:
        """The cost of each municipality's residents (woonplaatsbeginsel)."""
        return self.existing + self.new

    @property
    def regional(self) -> np.ndarray:
        """[replication, year] the region's cost."""
        return self.own.sum(1)


def _parts(settings: Settings, table: Municipalities, results: Results) -> tuple[np.ndarray, ...]:
    """Existing cost, new cost, existing ambulant cost, as simulated, reweighted, in the year's prices."""
    values = municipal(settings, table, results)
    prices = cost_path(settings, results.calendar.years)[None, None, :]
    cost = values[:, :, :, MUNICIPAL_ROW["cost"], :] * prices
    ambulant = values[:, :, 0, MUNICIPAL_ROW["ambulant_days"], :] * results.scenario.costs.ambulant_day * prices
    return cost[:, :, 0], cost[:, :, 1], ambulant


def wlz_split_date(settings: Settings, years: list[int]) -> dt.date | None:
    """The cohort date of the second split that the Wlz move needs, or None: no clients move, or
    the move is not within the run (a run that starts after it has only the clients who stayed)."""
    wlz = settings.wlz
    return dt.date(wlz.year, 1, 1) if wlz.client_share > 0 and years[0] < wlz.year <= years[-1] else None


def simulated_costs(settings: Settings, table: Municipalities, results: Results,
                    wlz_results: Results | None = None) -> Costs:
    """The costs the regimes divide: see the module's docstring."""
    existing, new, ambulant = _parts(settings, table, results)
    moved = np.zeros_like(existing)
    date = wlz_split_date(settings, results.calendar.years)
    if date is not None:
        if results.scenario.attribution.cohort_date == date:  # this run is split at the Wlz date itself
            wlz_results = results
        if wlz_results is None or wlz_results.scenario.attribution.cohort_date != date:
            raise VerdeelError(f"{settings.source}: wlz.client_share needs the run split at {date} too "
                               "(attribution.cohort_date); see wlz_scenario()")
        if wlz_results.yearly.shape != results.yearly.shape or not np.allclose(wlz_results.yearly, results.yearly,
                                                                                equal_nan=True):
            raise VerdeelError("the run split at the Wlz date is not the same run (seed, replications, scenario)")
        before, _, before_ambulant = _parts(settings, table, wlz_results)
        after = (np.array(results.calendar.years) >= settings.wlz.year)[None, None, :]
        share = settings.wlz.client_share
        moved = np.where(after, share * before, 0.0)
        if results.scenario.attribution.cohort_date is None:  # no split: everyone is in the new cohort
            new = new - moved
        else:  # the clients in care on the Wlz date were placed before the (later) cohort date
            existing = existing - moved
            ambulant = ambulant - np.where(after, share * before_ambulant, 0.0)
    return Costs(existing, new, ambulant, moved)


def paid_costs(settings: Settings, table: Municipalities, costs: Costs, years: list[int]) -> np.ndarray:
    """[replication, municipality, year]: what each municipality pays under the regime. Adds up
    to the region's cost in every replication and year."""
    own = costs.own
    f = objective_fraction(settings, years)[None, None, :]
    h = (table.historic / table.historic.sum())[None, :, None]  # national shares too: who in the region pays
    pooled = h * own.sum(1, keepdims=True)  # the centrumgemeente pays for the whole region
    if settings.regime == "historic":
        return pooled
    if settings.regime == "objective":
        return np.where((np.array(years) >= settings.start_year)[None, None, :], own, pooled)
    if settings.regime == "phased":
        return (1 - f) * pooled + f * own
    # two_track: from the responsibility year, existing clients with the centrumgemeente, new ones with their woonplaats
    local = costs.existing_ambulant if settings.cohort.ambulant_after_exit == "woonplaats" else 0.0
    centre = h * (costs.existing - local).sum(1, keepdims=True)
    after = (np.array(years) >= settings.responsibility)[None, None, :]
    return np.where(after, centre + costs.new + local, pooled)
