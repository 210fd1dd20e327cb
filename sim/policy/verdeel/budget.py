"""The money in: the macro budget along its path (indexation, the 2021 Wlz reduction), divided by
the historic and the objective key along the ingroeipad — or the published amounts of each key —,
what the centrumgemeente passes on for new clients under two tracks, and a regional pool."""

from __future__ import annotations

import numpy as np

from ...config.scenario import value_in_year
from .amounts import Amounts
from .municipalities import Municipalities
from .settings import EXPECTED_COST, SCENARIO_COST, Settings, VerdeelError


def objective_fraction(settings: Settings, years: list[int]) -> np.ndarray:
    """The objective key's fraction of the budget in each year (0 = fully historic)."""
    out = np.zeros(len(years))
    for k, year in enumerate(years):
        step = year - settings.start_year
        if step < 0 or settings.regime == "historic":
            continue
        out[k] = 1.0 if settings.regime == "objective" else settings.phase_in[min(step, len(settings.phase_in) - 1)]
    return out


def index_factor(rate, base_year: int | None, years: list[int]) -> np.ndarray:
    """Prices of each year relative to ``base_year``, from yearly rates (a number, or {year: rate}
    as a step function; the rate of year y is the growth from y − 1 to y)."""
    out = np.ones(len(years))
    if base_year is None or not rate:
        return out
    for k, year in enumerate(years):
        if year >= base_year:
            out[k] = np.prod([1 + value_in_year(rate, t) for t in range(base_year + 1, year + 1)])
        else:
            out[k] = 1 / np.prod([1 + value_in_year(rate, t) for t in range(year + 1, base_year + 1)])
    return out


def budget_path(settings: Settings, years: list[int]) -> np.ndarray:
    """The macro budget of each year relative to ``macro_budget`` (and published amounts relative to
    the listed year's): the budget index from ``price_year``, and the Wlz reduction from its year."""
    wlz = settings.wlz
    cut = np.where(np.array(years) >= wlz.year, 1 - wlz.budget_share, 1.0)
    return index_factor(settings.budget_index, settings.price_year, years) * cut


def cost_path(settings: Settings, years: list[int]) -> np.ndarray:
    """The cost of care of each year relative to the scenario's prices (``price_year``)."""
    return index_factor(settings.cost_index, settings.price_year, years)


def macro_budget(settings: Settings, years: list[int], regional_cost: np.ndarray | None = None) -> np.ndarray:
    """Euros for the whole region in each year, in that year's prices. ``regional_cost`` (the mean
    regional cost per year, in the same prices) is needed for ``scenario_cost``, which takes it as
    it is (no index or Wlz reduction on top: it follows the cost)."""
    value = settings.macro_budget
    if value == SCENARIO_COST:
        if regional_cost is None:
            raise VerdeelError("macro_budget: scenario_cost needs the run's regional cost")
        return np.asarray(regional_cost, float).copy()
    if value is None:
        raise VerdeelError(f"{settings.source}: macro_budget: missing (published amounts give no macro budget)")
    return np.array([value_in_year(value, y) for y in years]) * budget_path(settings, years)


def key_amounts(settings: Settings, table: Municipalities, years: list[int], regional_cost: np.ndarray | None = None,
                amounts: Amounts | None = None) -> tuple[np.ndarray, np.ndarray]:
    """[municipality, year]: the whole budget each municipality would receive by the historic key
    and by the objective key. From regional shares, both divide the macro budget (they sum to the
    same total: the region is budget-neutral by construction); from national shares (of the national
    macro budget) or published ``amounts``, they need not."""
    if amounts is not None:
        return amounts.at(years, lambda year: budget_path(settings, [year])[0])
    total = macro_budget(settings, years, regional_cost)
    return np.outer(table.historic, total), np.outer(table.column(settings.objective_column), total)


def budgets(settings: Settings, table: Municipalities, years: list[int], regional_cost: np.ndarray | None = None,
            amounts: Amounts | None = None) -> np.ndarray:
    """[municipality, year]: the historic part of the budget by the historic key plus the objective
    part by the objective key (before anything is passed on)."""
    historic, objective = key_amounts(settings, table, years, regional_cost, amounts)
    f = objective_fraction(settings, years)
    return (1 - f) * historic + f * objective


def pass_on(settings: Settings, table: Municipalities, years: list[int], historic: np.ndarray, objective: np.ndarray,
            expected_cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[municipality, year] money passed on under two tracks (sums to 0 every year), and [year]
    the amount passed on in all (the holders' own share of it included).

    From the responsibility year the member municipalities pay for their new clients, but the
    money follows the historic key until the ingroeipad has moved enough of it. The rule: each
    year the holders of the historic budget (in proportion to it) pass on the part of ``amount``
    (the region's expected cost of those clients, or a number of euros in price_year prices,
    indexed with budget_index) that the objective part of the budget does not yet cover,
    ``max(0, amount − f·Σ objective)``, at most the whole historic part; each municipality gets
    its share of it by ``pass_on.key``.
    """
    rule = settings.pass_on
    if settings.regime != "two_track" or (rule.amount != EXPECTED_COST and not rule.amount):
        return np.zeros((len(table.names), len(years))), np.zeros(len(years))
    if rule.amount == EXPECTED_COST:
        amount = np.asarray(expected_cost, float)
    else:
        amount = np.array([value_in_year(rule.amount, y) for y in years]) \
            * index_factor(settings.budget_index, settings.price_year, years)
    f = objective_fraction(settings, years)
    historic_part = (1 - f) * historic.sum(0)
    passed = np.clip(amount - f * objective.sum(0), 0, historic_part)
    passed = np.where(np.array(years) >= settings.responsibility, passed, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        holders = np.where(historic.sum(0) > 0, historic / historic.sum(0), 0.0)
    return np.outer(table.column(rule.key), passed) - holders * passed, passed


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
