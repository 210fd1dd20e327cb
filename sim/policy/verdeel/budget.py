"""The money in: the macro budget, divided over the municipalities by the historic and the
objective key along the ingroeipad, and what a regional pool does to it."""

from __future__ import annotations

import numpy as np

from ...config.scenario import value_in_year
from .municipalities import Municipalities
from .settings import SCENARIO_COST, Settings, VerdeelError


def objective_fraction(settings: Settings, years: list[int]) -> np.ndarray:
    """The objective key's fraction of the budget in each year (0 = fully historic)."""
    out = np.zeros(len(years))
    for k, year in enumerate(years):
        step = year - settings.start_year
        if step < 0 or settings.regime == "historic":
            continue
        out[k] = 1.0 if settings.regime == "objective" else settings.phase_in[min(step, len(settings.phase_in) - 1)]
    return out


def macro_budget(settings: Settings, years: list[int], regional_cost: np.ndarray | None = None) -> np.ndarray:
    """Euros for the whole region in each year. ``regional_cost`` (mean per year) is needed for
    ``scenario_cost``."""
    value = settings.macro_budget
    if value == SCENARIO_COST:
        if regional_cost is None:
            raise VerdeelError("macro_budget: scenario_cost needs the run's regional cost")
        return np.asarray(regional_cost, float).copy()
    return np.array([value_in_year(value, y) for y in years])


def budgets(settings: Settings, table: Municipalities, years: list[int],
            regional_cost: np.ndarray | None = None) -> np.ndarray:
    """[municipality, year]: the historic part of the macro budget by the historic key plus the
    objective part by the objective key. Sums to the macro budget in every year."""
    f = objective_fraction(settings, years)
    total = macro_budget(settings, years, regional_cost)
    return np.outer(table.historic, (1 - f) * total) + np.outer(table.objective, f * total)


def apply_pool(budget: np.ndarray, cost: np.ndarray, share: float) -> np.ndarray:
    """[replication, municipality, year] money available after a regional pool.

    Every municipality pays ``share`` of its budget into the pool; the pool covers the
    deficits left (cost above the rest of the budget), all of them or in proportion when it
    is too small; what it does not need goes back in proportion to the contributions.
    """
    budget = np.broadcast_to(budget, cost.shape).astype(float)
    if share <= 0:
        return budget.copy()
    kept = (1 - share) * budget
    contribution = share * budget
    pool = contribution.sum(1, keepdims=True)
    deficit = np.maximum(cost - kept, 0.0)
    need = deficit.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = deficit * np.where(need > pool, pool / need, 1.0)
        left = pool - cover.sum(1, keepdims=True)
        refund = np.where(pool > 0, left * contribution / pool, 0.0)
    return kept + cover + refund
