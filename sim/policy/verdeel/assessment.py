"""Budgets against costs for a run: the gap per municipality and year, replication by
replication, so that every gap has a confidence interval and a probability of being negative —
under the settings and under each of their key and budget variants (the sensitivity)."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ...config import scenario as sc_mod
from ...experiment.replications import Results, mean_ci, run_replications
from ...model.calendar import Calendar
from ...record.metrics import MUNICIPAL_ROW
from .amounts import read_amounts
from .budget import apply_pool, key_amounts, objective_fraction, pass_on
from .costs import municipal, paid_costs, simulated_costs, wlz_split_date
from .municipalities import Municipalities, check_against_scenario, read_municipalities
from .settings import COHORT_ATTRIBUTION, EXPECTED_COST, Settings, VerdeelError

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


def conclusion(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """What a 95% CI of a gap says: 'short', 'surplus' or 'either'."""
    return np.where(np.asarray(high) < 0, "short", np.where(np.asarray(low) > 0, "surplus", "either"))


def price_label(settings: Settings) -> str:
    """The prices every euro is in, for tables and figures."""
    if not settings.budget_index and not settings.cost_index:
        return f"{settings.price_year} prices" if settings.price_year else "the scenario's prices"
    return f"current prices, base {settings.price_year}"


@dataclass
class Assessment:
    """Budgets, costs and gaps per municipality and year, in each year's prices. Arrays with a
    replication axis are [replication, municipality, year]; ``budget`` and the key amounts are
    [municipality, year]."""

    settings: Settings
    table: Municipalities
    scenario_name: str
    seed: int
    years: list[int]
    fraction: np.ndarray
    macro: np.ndarray  # [year] the region's budget (the sum of ``budget``)
    historic_amount: np.ndarray  # what each would receive by the historic key alone
    objective_amount: np.ndarray  # ... by the objective key alone
    transfers: np.ndarray  # passed on under two tracks (sums to 0 each year)
    passed_on: np.ndarray  # [year] what the holders of the historic part pass on, in all (their own share included)
    budget: np.ndarray  # historic part + objective part + transfers (before a regional pool)
    funds: np.ndarray  # the budget after the regional pool
    cost: np.ndarray  # what each municipality pays under the regime
    existing_cost: np.ndarray  # its clients placed before the responsibility date
    residents_cost: np.ndarray  # all its residents' care (woonplaatsbeginsel)
    regional_cost: np.ndarray  # [replication, year]
    centre_existing: np.ndarray  # [replication, year] the existing clients' cost the centrumgemeente pays
    wlz_moved: np.ndarray  # the cost that left BW with the clients who moved to the Wlz
    people: dict[str, np.ndarray]
    notes: list[str] = field(default_factory=list)
    variants: dict[str, Assessment] = field(default_factory=dict)

    @property
    def municipalities(self) -> list[str]:
        return self.table.names

    @property
    def replications(self) -> int:
        return self.cost.shape[0]

    @property
    def gap(self) -> np.ndarray:
        return self.funds - self.cost

    @property
    def prices(self) -> str:
        return price_label(self.settings)

    @property
    def historic_part(self) -> np.ndarray:
        """[year] the part of the budget divided by the historic key, (1 − f)·Σ historic."""
        return (1 - self.fraction) * self.historic_amount.sum(0)

    @property
    def herverdeeleffect(self) -> np.ndarray:
        """[municipality, year] objective − historic amount: what the full objective key gives or takes."""
        return self.objective_amount - self.historic_amount

    def p_short(self) -> np.ndarray:
        return probability_short(self.gap)

    def all_assessments(self) -> dict[str, Assessment]:
        """The settings (named 'as set') and every variant."""
        return {"as set": self, **self.variants}

    def band(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """[municipality + region, year]: the lowest CI bound and the highest over the settings and
        every variant, and P(short) over all their replications together (each variant weighs the same)."""
        lows, highs, shorts = [], [], []
        for a in self.all_assessments().values():
            _, lo, hi = mean_ci(with_region(a.gap))
            lows.append(lo)
            highs.append(hi)
            shorts.append(probability_short(with_region(a.gap)))
        return np.min(lows, 0), np.max(highs, 0), np.mean(shorts, 0)

    def frame(self) -> pd.DataFrame:
        """One row per municipality (and the region) and year; means with 95% CIs."""
        stats = {"cost": self.cost, "residents_cost": self.residents_cost, "existing_cost": self.existing_cost,
                 "wlz_moved": self.wlz_moved, "funds": self.funds, "gap": self.gap}
        stats.update(self.people)
        fixed = {name: np.concatenate([v, v.sum(0, keepdims=True)]) for name, v in
                 (("budget", self.budget), ("historic_amount", self.historic_amount),
                  ("objective_amount", self.objective_amount), ("herverdeeleffect", self.herverdeeleffect),
                  ("transfer", self.transfers))}
        gap = with_region(self.gap)
        band_low, band_high, band_short = self.band()
        columns = {name: mean_ci(with_region(values)) for name, values in stats.items()}
        rows = []
        names = self.municipalities + [REGION]  # the region: sums over municipalities, replication by replication
        for m, name in enumerate(names):
            for k, year in enumerate(self.years):
                row = {"municipality": name, "year": year, "regime": self.settings.regime, "prices": self.prices,
                       "objective_fraction": self.fraction[k], "macro_budget": self.macro[k],
                       **{stat: v[m, k] for stat, v in fixed.items()}}
                for stat, (mean, lo, hi) in columns.items():
                    row[f"{stat}_mean"], row[f"{stat}_ci_low"], row[f"{stat}_ci_high"] = mean[m, k], lo[m, k], hi[m, k]
                    if stat == "gap":
                        row["p_short"] = float(np.mean(gap[:, m, k] < 0))
                        row["gap_band_low"], row["gap_band_high"] = band_low[m, k], band_high[m, k]
                        row["p_short_band"] = band_short[m, k]
                rows.append(row)
        return pd.DataFrame(rows)

    def sensitivity_frame(self) -> pd.DataFrame:
        """One row per variant (the settings first, as 'as set'), municipality (and the region) and
        year: budget, cost paid and gap with their CIs, P(short) and what the CI concludes."""
        rows = []
        for variant, a in self.all_assessments().items():
            budget = np.concatenate([a.budget, a.budget.sum(0, keepdims=True)])
            mean, lo, hi = mean_ci(with_region(a.gap))
            cost, _, _ = mean_ci(with_region(a.cost))
            short = probability_short(with_region(a.gap))
            said = conclusion(lo, hi)
            for m, name in enumerate(a.municipalities + [REGION]):
                for k, year in enumerate(a.years):
                    rows.append({"variant": variant, "municipality": name, "year": year, "budget": budget[m, k],
                                 "cost_mean": cost[m, k], "gap_mean": mean[m, k], "gap_ci_low": lo[m, k],
                                 "gap_ci_high": hi[m, k], "p_short": short[m, k], "conclusion": said[m, k]})
        return pd.DataFrame(rows)

    def robustness(self, year: int) -> pd.DataFrame:
        """Per municipality (and the region) in ``year``: the conclusion as set, and the variants
        under which it changes (empty: it survives every variant)."""
        frame = self.sensitivity_frame()
        frame = frame[frame.year == year]
        rows = []
        for name in self.municipalities + [REGION]:
            sub = frame[frame.municipality == name].set_index("variant")
            base = sub.loc["as set", "conclusion"]
            changed = [v for v in sub.index if sub.loc[v, "conclusion"] != base]
            rows.append({"municipality": name, "conclusion": base, "changes_under": changed,
                         "gap_low": sub.gap_mean.min(), "gap_high": sub.gap_mean.max()})
        return pd.DataFrame(rows)


def _assess_one(results: Results, settings: Settings, table: Municipalities, notes: list[str],
                wlz_results: Results | None) -> Assessment:
    years = results.calendar.years
    costs = simulated_costs(settings, table, results, wlz_results)
    regional = costs.regional
    amounts = None
    if settings.amounts is not None:
        amounts = read_amounts(settings.amounts, table.names)
    historic, objective = key_amounts(settings, table, years, regional.mean(0), amounts)
    fraction = objective_fraction(settings, years)
    local = costs.existing_ambulant if settings.cohort.ambulant_after_exit == "woonplaats" else 0.0
    expected = (costs.new + local).sum(1).mean(0)  # the region's expected cost of what the municipalities pay
    transfers, passed = pass_on(settings, table, years, historic, objective, expected)
    budget = (1 - fraction) * historic + fraction * objective + transfers
    cost = paid_costs(settings, table, costs, years)
    values = municipal(settings, table, results)
    people = {name: values[:, :, :, MUNICIPAL_ROW[metric], :].sum(2) for name, metric in PEOPLE.items()}
    return Assessment(
        settings=settings, table=table, scenario_name=results.scenario.name, seed=results.seed, years=years,
        fraction=fraction, macro=budget.sum(0), historic_amount=historic, objective_amount=objective,
        transfers=transfers, passed_on=passed, budget=budget, funds=apply_pool(budget[None], cost, settings.regional_pool), cost=cost,
        existing_cost=costs.existing, residents_cost=costs.own, regional_cost=regional,
        centre_existing=(costs.existing - local).sum(1), wlz_moved=costs.wlz_moved, people=people,
        notes=list(notes))


def assess(results: Results, settings: Settings, table: Municipalities, notes: list[str] | None = None,
           wlz_results: Results | None = None) -> Assessment:
    """Budgets and gaps for a run, under the settings and under each of their variants; ``table``
    must be in the scenario's order (see :func:`check_against_scenario`) and hold every column the
    settings name. ``wlz_results``: the same run split at the Wlz date, when ``wlz.client_share`` > 0."""
    if table.names != results.municipalities:
        raise VerdeelError(f"{table.path}: municipalities {table.names} do not match the run's "
                           f"{results.municipalities}")
    if settings.regime == "two_track" and settings.responsibility <= results.calendar.years[-1]:
        wanted = dt.date(settings.responsibility, 1, 1)
        if results.scenario.attribution.cohort_date != wanted:
            raise VerdeelError(f"two_track needs the scenario run with attribution.cohort_date = {wanted} "
                               f"(got {results.scenario.attribution.cohort_date}); see scenario_overrides()")
        for key, (field, values) in COHORT_ATTRIBUTION.items():
            choice = getattr(settings.cohort, key)
            run = getattr(results.scenario.attribution, field)
            if run != values[choice]:
                raise VerdeelError(f"{settings.source}: cohort.{key}: {choice} needs the scenario run with "
                                   f"attribution.{field} = {values[choice]} (got {run}); see scenario_overrides()")
    a = _assess_one(results, settings, table, list(notes or []), wlz_results)
    a.variants = {name: _assess_one(results, variant, table, [], wlz_results)
                  for name, variant in settings.variant_settings.items()}
    return a


# ---------------------------------------------------------------- running


def scenario_overrides(settings: Settings, years: list[int] | None = None) -> list[str]:
    """The cohort date that splits existing from new clients: the responsibility year (none when
    that is after the run's ``years``). Only two tracks need it; the other regimes split the run at
    the Wlz date instead when the Wlz move needs that split (so that one run does)."""
    date = wlz_split_date(settings, years) if years is not None and settings.regime != "two_track" else None
    if date is not None:
        return [f"attribution.cohort_date={date}"]
    if years is not None and settings.responsibility > years[-1]:
        return []
    if settings.regime != "two_track":
        return [f"attribution.cohort_date={settings.responsibility}-01-01"]
    return [f"attribution.cohort_date={settings.responsibility}-01-01",
            *(f"attribution.{field}={values[getattr(settings.cohort, key)]}"
              for key, (field, values) in COHORT_ATTRIBUTION.items())]


def wlz_scenario(scenario: sc_mod.Scenario, settings: Settings) -> sc_mod.Scenario | None:
    """The same scenario split at the Wlz date (for ``wlz.client_share``), or None when not needed."""
    date = wlz_split_date(settings, Calendar(scenario.start, scenario.end).years)
    if date is None or scenario.attribution.cohort_date == date:
        return None
    split = sc_mod.Attribution(cohort_date=date)  # in care on the Wlz date: placed before it, whatever the cohort rule
    return scenario.model_copy(update={"attribution": split})


def columns_named(settings: Settings) -> list[str]:
    """Every share column the settings and their variants name."""
    out = []
    for s in (settings, *settings.variant_settings.values()):
        out += [s.objective_column, s.pass_on.key] + ([s.woonplaats_column] if s.woonplaats_column else [])
    return list(dict.fromkeys(out))


def _after_start(what: str, year: int, years: list[int], source: str) -> None:
    if year <= years[0]:
        raise VerdeelError(f"{source}: {what}: {year} must be after the run's first year {years[0]} (the run "
                           "starts with the historic key)")


def prepare(scenario_path: str | Path, settings: Settings, overrides: list[str] | tuple[str, ...] = (),
            year: int | None = None) -> tuple[sc_mod.Scenario, Municipalities, list[str]]:
    """Load the scenario (with the cohort date) and the table, and check them together.
    Raises :class:`sim.config.scenario.ScenarioError` or :class:`VerdeelError` before anything runs."""
    plain = sc_mod.load(scenario_path, overrides)  # the years are checked before they set the cohort date
    years = Calendar(plain.start, plain.end).years
    for s in (settings, *settings.variant_settings.values()):
        _after_start("start_year", s.start_year, years, s.source)
    extend = "extend it with --set end={}-01-01 to see it"
    notes = []
    if settings.regime == "two_track":
        _after_start("responsibility_year", settings.responsibility, years, settings.source)
        if settings.responsibility > years[-1]:
            notes.append(f"new clients become their woonplaats's in {settings.responsibility}, after the run's last "
                         f"year {years[-1]}: the whole run is historic; " + extend.format(settings.responsibility + 1))
    if settings.regime != "historic" and settings.start_year > years[-1]:
        notes.append(f"the ingroeipad starts in {settings.start_year}, after the run's last year {years[-1]}: the "
                     "money follows the historic key throughout; " + extend.format(settings.start_year + 1))
    wlz = settings.wlz
    if wlz.client_share > 0:
        if settings.regime == "two_track" and wlz.year > settings.responsibility and \
                settings.responsibility <= years[-1]:
            raise VerdeelError(f"{settings.source}: wlz.year: {wlz.year} is after the responsibility year "
                               f"{settings.responsibility}; the clients moving to the Wlz must be existing clients")
        if wlz.year <= years[0]:
            notes.append(f"the run starts in {years[0]}, with or after the Wlz move of {wlz.year}: its clients are "
                         "those who stayed in BW, so wlz.client_share moves nobody (the budget cut still applies)")
    scenario = sc_mod.load(scenario_path, [*overrides, *scenario_overrides(settings, years)])
    if year is not None and year not in years:
        raise VerdeelError(f"--year {year}: not in the run ({years[0]}–{years[-1]})")
    regional = [c for s in (settings, *settings.variant_settings.values())
                for c in (s.pass_on.key, s.woonplaats_column) if c]
    table = read_municipalities(settings.municipalities, settings.objective_column, columns_named(settings),
                                national=settings.national_columns, regional=regional)
    table, differ = check_against_scenario(table, scenario, str(scenario_path))
    notes = differ + notes
    for s in (settings, *settings.variant_settings.values()):
        if s.amounts is not None:
            read_amounts(s.amounts, table.names)
    if settings.regime in ("phased", "two_track") and settings.start_year <= years[-1] < settings.full_year:
        notes.append(f"the ingroeipad reaches 100% objective in {settings.full_year}, after the run's last year "
                     f"{years[-1]}; run longer with --set end={settings.full_year + 1}-01-01 to see it")
    if settings.regime == "two_track" and settings.pass_on.amount == EXPECTED_COST \
            and settings.responsibility <= years[-1]:
        notes.append(f"pass-on rule: from {settings.responsibility} the holder of the historic budget passes on the "
                     "region's expected cost of the clients the municipalities pay for (the run's mean), less the "
                     f"objective part of the budget, divided by {settings.pass_on.key}")
    return scenario, table, notes


def run(scenario_path: str | Path, settings: Settings, replications: int, seed: int = 1,
        overrides: list[str] | tuple[str, ...] = (), workers: int | None = None,
        progress: Callable[[int], None] | None = None, executor: Executor | None = None) -> Assessment:
    """Prepare, run the replications (on ``executor`` if given; twice, split at the Wlz date too,
    when the Wlz move needs it) and assess them."""
    scenario, table, notes = prepare(scenario_path, settings, overrides)
    results = run_replications(scenario, replications, seed=seed, workers=workers, progress=progress,
                               executor=executor)
    split = wlz_scenario(scenario, settings)
    wlz_results = None if split is None else run_replications(split, replications, seed=seed, workers=workers,
                                                              progress=progress, executor=executor)
    return assess(results, settings, table, notes, wlz_results)
