"""Budgets against costs for a run: the gap per municipality and year, replication by
replication, so that every gap has a confidence interval and a probability of being negative."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ...config import scenario as sc_mod
from ...record.metrics import MUNICIPAL, YEARLY
from ...experiment.replications import Results, mean_ci, run_replications
from ...model.calendar import Calendar
from .budget import apply_pool, budgets, objective_fraction
from .costs import cohort_costs, paid_costs
from .municipalities import Municipalities, check_against_scenario, read_municipalities
from .settings import Settings, VerdeelError

#: The name of the region's total in tables and in ``verdeel.csv``.
REGION = "Region"

#: People per municipality of origin (stocks on 31 December, flows in the year): name -> MUNICIPAL metric.
PEOPLE = {"in_bw": "occupied", "waiting": "waitlist", "bridging": "bridged", "ambulant": "ambulant",
          "beschermd_thuis": "beschermd_thuis", "arrivals": "arrivals", "admissions": "admissions"}


def probability_short(gap: np.ndarray) -> np.ndarray:
    """Share of replications in which the gap is negative (axis 0: replications)."""
    return np.mean(np.asarray(gap) < 0, axis=0)


def with_region(values: np.ndarray) -> np.ndarray:
    """[replication, municipality, year] with the region's total appended as the last municipality."""
    return np.concatenate([values, values.sum(1, keepdims=True)], axis=1)


@dataclass
class Assessment:
    """Budgets, costs and gaps per municipality and year. Arrays with a replication axis are
    [replication, municipality, year]; ``budget`` is [municipality, year]."""

    settings: Settings
    table: Municipalities
    scenario_name: str
    seed: int
    years: list[int]
    fraction: np.ndarray
    macro: np.ndarray
    budget: np.ndarray
    funds: np.ndarray
    cost: np.ndarray
    existing_cost: np.ndarray
    residents_cost: np.ndarray
    regional_cost: np.ndarray  # [replication, year]
    people: dict[str, np.ndarray]
    notes: list[str] = field(default_factory=list)

    @property
    def municipalities(self) -> list[str]:
        return self.table.names

    @property
    def replications(self) -> int:
        return self.cost.shape[0]

    @property
    def gap(self) -> np.ndarray:
        return self.funds - self.cost

    def p_short(self) -> np.ndarray:
        return probability_short(self.gap)

    def frame(self) -> pd.DataFrame:
        """One row per municipality (and the region) and year; means with 95% CIs."""
        stats = {"cost": self.cost, "residents_cost": self.residents_cost, "existing_cost": self.existing_cost,
                 "funds": self.funds, "gap": self.gap}
        stats.update(self.people)
        budget = np.concatenate([self.budget, self.budget.sum(0, keepdims=True)])
        gap = with_region(self.gap)
        columns = {}
        for name, values in stats.items():
            mean, lo, hi = mean_ci(with_region(values))
            columns[name] = (mean, lo, hi)
        rows = []
        names = self.municipalities + [REGION]  # the region: sums over municipalities, replication by replication
        for m, name in enumerate(names):
            for k, year in enumerate(self.years):
                row = {"municipality": name, "year": year, "regime": self.settings.regime,
                       "objective_fraction": self.fraction[k], "macro_budget": self.macro[k],
                       "budget": budget[m, k]}
                for stat, (mean, lo, hi) in columns.items():
                    row[f"{stat}_mean"], row[f"{stat}_ci_low"], row[f"{stat}_ci_high"] = mean[m, k], lo[m, k], hi[m, k]
                    if stat == "gap":
                        row["p_short"] = float(np.mean(gap[:, m, k] < 0))
                rows.append(row)
        return pd.DataFrame(rows)


def assess(results: Results, settings: Settings, table: Municipalities, notes: list[str] | None = None) -> Assessment:
    """Budgets and gaps for a run; ``table`` must be in the scenario's order (see
    :func:`check_against_scenario`)."""
    if table.names != results.municipalities:
        raise VerdeelError(f"{table.path}: municipalities {table.names} do not match the run's "
                           f"{results.municipalities}")
    years = results.calendar.years
    if settings.regime == "two_track":
        wanted = dt.date(settings.start_year, 1, 1)
        if results.scenario.attribution.cohort_date != wanted:
            raise VerdeelError(f"two_track needs the scenario run with attribution.cohort_date = {wanted} "
                               f"(got {results.scenario.attribution.cohort_date}); see scenario_overrides()")
    existing, new = cohort_costs(results)
    regional = results.yearly[:, YEARLY.index("cost"), :]
    budget = budgets(settings, table, years, regional.mean(0))
    cost = paid_costs(settings, table, results)
    people = {name: results.municipal[:, :, :, MUNICIPAL.index(metric), :].sum(2) for name, metric in PEOPLE.items()}
    return Assessment(
        settings=settings, table=table, scenario_name=results.scenario.name, seed=results.seed, years=years,
        fraction=objective_fraction(settings, years), macro=budget.sum(0), budget=budget,
        funds=apply_pool(budget[None], cost, settings.regional_pool), cost=cost, existing_cost=existing,
        residents_cost=existing + new, regional_cost=regional, people=people, notes=list(notes or []))


# ---------------------------------------------------------------- running


def scenario_overrides(settings: Settings) -> list[str]:
    """The cohort date that splits existing from new clients at the start of the new model."""
    return [f"attribution.cohort_date={settings.start_year}-01-01"]


def prepare(scenario_path: str | Path, settings: Settings, overrides: list[str] | tuple[str, ...] = (),
            year: int | None = None) -> tuple[sc_mod.Scenario, Municipalities, list[str]]:
    """Load the scenario (with the cohort date) and the table, and check them together.
    Raises :class:`sim.config.scenario.ScenarioError` or :class:`VerdeelError` before anything runs."""
    plain = sc_mod.load(scenario_path, overrides)  # the start year is checked before it sets the cohort date
    years = Calendar(plain.start, plain.end).years
    if not years[0] < settings.start_year <= years[-1]:
        raise VerdeelError(f"{settings.source}: start_year: {settings.start_year} must be after the run's first "
                           f"year and within the run ({years[0] + 1}–{years[-1]}; extend it with --set end=YYYY-01-01)")
    scenario = sc_mod.load(scenario_path, [*overrides, *scenario_overrides(settings)])
    if year is not None and year not in years:
        raise VerdeelError(f"--year {year}: not in the run ({years[0]}–{years[-1]})")
    table = read_municipalities(settings.municipalities, settings.objective_column)
    table, notes = check_against_scenario(table, scenario, str(scenario_path))
    if settings.regime in ("phased", "two_track") and settings.full_year > years[-1]:
        notes.append(f"the ingroeipad reaches 100% objective in {settings.full_year}, after the run's last year "
                     f"{years[-1]}; run longer with --set end={settings.full_year + 1}-01-01 to see it")
    return scenario, table, notes


def run(scenario_path: str | Path, settings: Settings, replications: int, seed: int = 1,
        overrides: list[str] | tuple[str, ...] = (), workers: int | None = None,
        progress: Callable[[int], None] | None = None, executor: Executor | None = None) -> Assessment:
    """Prepare, run the replications (on ``executor`` if given) and assess them."""
    scenario, table, notes = prepare(scenario_path, settings, overrides)
    results = run_replications(scenario, replications, seed=seed, workers=workers, progress=progress,
                               executor=executor)
    return assess(results, settings, table, notes)
