"""The verdeelmodel: who receives the region's BW money, who pays for which client, and the gap.

Since 2015 the money for beschermd wonen goes to the centrumgemeente (here Haarlem), which
buys places for the whole region: the *historic* key. The Rijk decided to move it to every
municipality with an *objective* key, along an *ingroeipad*, in two tracks (clients already
in care stay with the centrumgemeente, new clients fall under the *woonplaatsbeginsel*). This
module sets the budget each municipality receives under each regime against the cost of the
clients it pays for, replication by replication, so that every gap has a confidence interval
and a probability of being negative.

Inputs: a settings file (:class:`Settings`, e.g. ``scenarios/haarlem/verdeel.yaml``) and a
table of the member municipalities and their shares (:class:`Municipalities`, a CSV). Costs
come from :attr:`sim.experiment.Results.municipal`, which attributes every care-day to the
client's municipality of origin and cohort. The library never prints.

Regimes, for the years from ``start_year`` (before it every regime is the historic one).
``f`` is the objective fraction of the year (0 before start; the ``phase_in`` list for
``phased`` and ``two_track``; 1 for ``objective``), ``B`` the macro budget, ``h``/``o`` a
municipality's historic/objective share, ``C`` the region's cost, ``own`` the cost of the
municipality's residents, ``existing``/``new`` their cost by cohort:

==========  =======================  ==============================================
regime      budget                   cost paid
==========  =======================  ==============================================
historic    h·B                      h·C (the centrumgemeente pays for everyone)
objective   o·B                      own (woonplaatsbeginsel)
phased      (1−f)·h·B + f·o·B        (1−f)·h·C + f·own (the bill moves with the money)
two_track   (1−f)·h·B + f·o·B        h·ΣC_existing + new
==========  =======================  ==============================================

An optional regional pool takes a share of every budget and covers deficits in proportion;
what is left goes back in proportion to the contributions, so the region's total never changes.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator  # noqa: E402

from ..config import scenario as sc_mod  # noqa: E402
from ..model.calendar import Calendar  # noqa: E402
from ..experiment.replications import Results, mean_ci, run_replications  # noqa: E402
from ..report.output import atomic_folder, package_versions  # noqa: E402
from ..report.plots import band  # noqa: E402
from ..experiment.replication import MUNICIPAL, YEARLY  # noqa: E402

#: Shares in the municipality table must sum to 1 within this tolerance (published shares are
#: often rounded to 3–4 decimals; the scenario's own shares use 1e-6).
SHARE_TOLERANCE = 1e-3
REGIMES = ("historic", "objective", "phased", "two_track")
DEFAULT_PHASE_IN = [round(0.1 * k, 1) for k in range(11)]
SCENARIO_COST = "scenario_cost"
REGION = "Region"
REQUIRED_COLUMNS = ("municipality", "inflow_share", "historic_share")

#: People per municipality of origin (stocks on 31 December, flows in the year): name -> MUNICIPAL metric.
PEOPLE = {"in_bw": "occupied", "waiting": "waitlist", "bridging": "bridged", "ambulant": "ambulant",
          "beschermd_thuis": "beschermd_thuis", "arrivals": "arrivals", "admissions": "admissions"}

REGIME_TEXT = {
    "historic": "the whole macro budget goes to the centrumgemeente, which pays for every client in the region",
    "objective": "from {start} each municipality receives its objective share of the macro budget and pays for "
                 "its own residents (woonplaatsbeginsel)",
    "phased": "ingroeipad from {start}: each year a growing fraction of the macro budget is divided by the "
              "objective key and the rest goes to the centrumgemeente; the bill moves with the money (that "
              "fraction of every client's cost is paid by their woonplaats, the rest by the centrumgemeente)",
    "two_track": "two tracks from {start}: clients in care before 1 January {start} (and their later ambulant "
                 "care) stay with the centrumgemeente, which keeps the historic part of the macro budget along "
                 "the ingroeipad; new clients are paid by their woonplaats from the objective part",
}


class VerdeelError(ValueError):
    """Settings or a municipality table that cannot be used; the message names the file and key or row."""


# ---------------------------------------------------------------- settings


class Settings(BaseModel):
    """The verdeel settings (a YAML file); see ``scenarios/haarlem/verdeel.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    regime: Literal["historic", "objective", "phased", "two_track"]
    start_year: int = Field(ge=1900, le=2200)
    macro_budget: Any = Field(description="euros a year: a number, {year: number}, or scenario_cost")
    phase_in: list[float] = Field(default_factory=lambda: list(DEFAULT_PHASE_IN), min_length=1)
    regional_pool: float = Field(0.0, ge=0, le=1)
    municipalities: Path
    objective_column: str = "objective_share"
    _source: str = PrivateAttr("<settings>")

    @property
    def source(self) -> str:
        """The file the settings came from, for messages."""
        return self._source

    @field_validator("macro_budget")
    @classmethod
    def _budget(cls, value):
        if value == SCENARIO_COST:
            return value
        if isinstance(value, dict):
            if not value:
                raise ValueError("expected at least one year")
            out = {}
            for year, amount in value.items():
                if isinstance(year, bool) or not isinstance(year, int):
                    raise ValueError(f"expected years as keys, got {year!r}")
                out[year] = _amount(amount, f"the budget for {year}")
            return out
        return _amount(value, "the budget")

    @field_validator("phase_in")
    @classmethod
    def _phase_in(cls, value):
        if any(not 0 <= f <= 1 for f in value):
            raise ValueError(f"objective fractions must lie in [0, 1] (got {value})")
        if any(b < a for a, b in zip(value, value[1:])):
            raise ValueError(f"the ingroeipad must not go back: fractions must be monotone non-decreasing "
                             f"(got {value})")
        if not math.isclose(value[-1], 1.0, abs_tol=1e-9):
            raise ValueError(f"the ingroeipad must end at 1.0, fully objective (got {value[-1]:g})")
        return value

    @property
    def full_year(self) -> int:
        """The first year that is 100% objective."""
        if self.regime == "objective":
            return self.start_year
        return self.start_year + next(k for k, f in enumerate(self.phase_in) if math.isclose(f, 1.0, abs_tol=1e-9))


def _amount(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what}: expected a number of euros or {SCENARIO_COST!r}, got {value!r}")
    if value < 0:
        raise ValueError(f"{what} cannot be negative (got {value:g})")
    return float(value)


def settings_from_mapping(data: dict, source: str = "<settings>", base: Path | None = None) -> Settings:
    """Validate a settings mapping; a relative ``municipalities`` path is taken from ``base``."""
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise VerdeelError(sc_mod.format_errors(source, exc)) from None
    if base is not None and not settings.municipalities.is_absolute():
        settings = settings.model_copy(update={"municipalities": base / settings.municipalities})
    settings._source = source
    return settings


def load_settings(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Settings:
    """Read a settings YAML file and apply ``key=value`` overrides (values read as YAML)."""
    path = Path(path)
    data = sc_mod.read_yaml(path, VerdeelError)
    for assignment in overrides:
        try:
            data = sc_mod.apply_override(data, assignment)
        except sc_mod.ScenarioError as exc:
            raise VerdeelError(f"{path}: {exc}".replace("--set", "--setting")) from None
    return settings_from_mapping(data, str(path), base=path.parent)


# ---------------------------------------------------------------- the municipality table


@dataclass(frozen=True)
class Municipalities:
    """Member municipalities and their shares, in the order of the table (or of the scenario,
    after :meth:`in_order`)."""

    path: Path
    names: list[str]
    inflow: np.ndarray
    historic: np.ndarray
    objective: np.ndarray
    objective_column: str = "objective_share"

    @property
    def centrumgemeente(self) -> str:
        return self.names[int(np.argmax(self.historic))]

    def in_order(self, names: list[str]) -> Municipalities:
        index = [self.names.index(n) for n in names]
        return Municipalities(self.path, list(names), self.inflow[index], self.historic[index],
                              self.objective[index], self.objective_column)


def read_municipalities(path: str | Path, objective_column: str = "objective_share") -> Municipalities:
    """Read and check the CSV: required columns, numbers in [0, 1], no duplicates, each share
    column summing to 1 within :data:`SHARE_TOLERANCE` (then rescaled to sum to 1 exactly)."""
    path = Path(path)
    if not path.is_file():
        raise VerdeelError(f"{path}: file not found")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in reader.fieldnames or []]
        rows = [({(k or "").strip(): (v or "").strip() for k, v in row.items()}, reader.line_num) for row in reader]
    for column in (*REQUIRED_COLUMNS, objective_column):
        if column not in columns:
            raise VerdeelError(f"{path}: column {column!r} is missing (columns: {', '.join(columns) or 'none'})")
    if not rows:
        raise VerdeelError(f"{path}: no municipalities listed")
    names: list[str] = []
    shares = {c: [] for c in ("inflow_share", "historic_share", objective_column)}
    for row, line in rows:
        name = row["municipality"]
        if not name:
            raise VerdeelError(f"{path}: line {line}: municipality: empty name")
        if name in names:
            raise VerdeelError(f"{path}: line {line} ({name}): listed twice")
        names.append(name)
        for column in shares:
            text = row[column]
            try:
                value = float(text)
            except ValueError:
                raise VerdeelError(f"{path}: line {line} ({name}): {column}: expected a share, got {text!r}") from None
            if not 0 <= value <= 1:
                raise VerdeelError(f"{path}: line {line} ({name}): {column}: expected a share in [0, 1], got {value:g}")
            shares[column].append(value)
    for column, values in shares.items():
        total = sum(values)
        if abs(total - 1.0) > SHARE_TOLERANCE:
            raise VerdeelError(f"{path}: {column}: the shares must sum to 1 (within {SHARE_TOLERANCE:g}), "
                               f"got {total:.6g}")
    # rescaled to sum exactly to 1, so that the budgets always add up to the macro budget
    exact = {c: np.array(v) / sum(v) for c, v in shares.items()}
    return Municipalities(path, names, exact["inflow_share"], exact["historic_share"], exact[objective_column],
                          objective_column)


def check_against_scenario(table: Municipalities, scenario: sc_mod.Scenario,
                           scenario_source: str = "the scenario") -> tuple[Municipalities, list[str]]:
    """The table in the scenario's order, and notes on inflow shares that differ from the
    scenario's ``inflow.municipalities`` (the scenario's shares are the ones simulated).
    A municipality missing from either is an error."""
    in_scenario = list(scenario.inflow.municipalities)
    missing = [n for n in in_scenario if n not in table.names]
    if missing:
        raise VerdeelError(f"{table.path}: municipality {missing[0]!r} is in {scenario_source} "
                           "(inflow.municipalities) but not in this table")
    extra = [n for n in table.names if n not in in_scenario]
    if extra:
        raise VerdeelError(f"{table.path}: municipality {extra[0]!r} is in this table but not in {scenario_source} "
                           "(inflow.municipalities)")
    ordered = table.in_order(in_scenario)
    notes = []
    for name, share in zip(ordered.names, ordered.inflow):
        simulated = scenario.inflow.municipalities[name]
        if abs(simulated - share) > SHARE_TOLERANCE:
            notes.append(f"{name}: inflow_share {share:g} in {table.path.name}, but the scenario simulates "
                         f"{simulated:g} (inflow.municipalities.{name})")
    return ordered, notes


# ---------------------------------------------------------------- budgets


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
    return np.array([sc_mod.value_in_year(value, y) for y in years])


def budgets(settings: Settings, table: Municipalities, years: list[int],
            regional_cost: np.ndarray | None = None) -> np.ndarray:
    """[municipality, year]: the historic part of the macro budget by the historic key plus the
    objective part by the objective key. Sums to the macro budget in every year."""
    f = objective_fraction(settings, years)
    total = macro_budget(settings, years, regional_cost)
    return np.outer(table.historic, (1 - f) * total) + np.outer(table.objective, f * total)


# ---------------------------------------------------------------- costs


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


def probability_short(gap: np.ndarray) -> np.ndarray:
    """Share of replications in which the gap is negative (axis 0: replications)."""
    return np.mean(np.asarray(gap) < 0, axis=0)


# ---------------------------------------------------------------- the assessment


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
    Raises :class:`sim.scenario.ScenarioError` or :class:`VerdeelError` before anything runs."""
    scenario = sc_mod.load(scenario_path, [*overrides, *scenario_overrides(settings)])
    years = Calendar(scenario.start, scenario.end).years
    if not years[0] < settings.start_year <= years[-1]:
        raise VerdeelError(f"{settings.source}: start_year: {settings.start_year} must be after the run's first "
                           f"year and within the run ({years[0] + 1}–{years[-1]}; extend it with --set end=YYYY-01-01)")
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
        progress: Callable[[int], None] | None = None) -> Assessment:
    scenario, table, notes = prepare(scenario_path, settings, overrides)
    results = run_replications(scenario, replications, seed=seed, workers=workers, progress=progress)
    return assess(results, settings, table, notes)


# ---------------------------------------------------------------- figures

MILLION = 1e6


def _plot_municipality(ax, a: Assessment, m: int, legend: bool) -> None:
    years = np.array(a.years)
    band(ax, years, a.cost[:, m, :] / MILLION, "cost paid (mean, 95% CI, 5–95% of runs)", color="tab:blue")
    if not np.allclose(a.cost[:, m, :], a.residents_cost[:, m, :]):
        ax.plot(years, a.residents_cost[:, m, :].mean(0) / MILLION, ":", color="0.4", lw=1.2,
                label="care of own residents (woonplaats)")
    ax.plot(years, a.budget[m] / MILLION, "-", color="black", marker="o", ms=3, lw=1.4, label="budget")
    if a.settings.regional_pool > 0:
        ax.plot(years, a.funds[:, m, :].mean(0) / MILLION, "--", color="tab:green", lw=1.2, label="budget after pool")
    ax.axvline(a.settings.start_year - 0.5, color="0.6", lw=0.8, ls="--")
    ax.set_title(a.municipalities[m], fontsize=10)
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=7)
    if legend:
        ax.legend(fontsize=7, loc="best")


def plot_municipality(a: Assessment, m: int, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4.2))
    _plot_municipality(ax, a, m, legend=True)
    ax.set_title(f"{a.municipalities[m]}: cost and budget, {a.settings.regime} from {a.settings.start_year} — "
                 f"{a.scenario_name}", fontsize=10)
    ax.set_ylabel("€ million a year")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_grid(a: Assessment, path: Path) -> None:
    """Small multiples: every municipality's cost band against its budget line."""
    n = len(a.municipalities)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.7 * rows), squeeze=False)
    for m in range(rows * cols):
        ax = axes[m // cols][m % cols]
        if m < n:
            _plot_municipality(ax, a, m, legend=False)
        else:
            ax.axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle(f"Cost paid vs budget per municipality (€ million a year): {a.settings.regime} from "
                 f"{a.settings.start_year} — {a.scenario_name}", fontsize=11)
    fig.tight_layout(rect=(0, 0.04, 1, 0.96))
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_overview(a: Assessment, year: int, path: Path) -> None:
    """The gap (budget − cost) per municipality in one year, with 95% CIs and P(short)."""
    k = a.years.index(year)
    gap = a.gap[:, :, k] / MILLION
    mean, lo, hi = mean_ci(gap)
    p = probability_short(a.gap[:, :, k])
    y = np.arange(len(a.municipalities))[::-1]
    colors = ["tab:red" if high < 0 else "tab:green" if low > 0 else "tab:orange" for low, high in zip(lo, hi)]
    fig, ax = plt.subplots(figsize=(8.5, 0.45 * len(y) + 1.6))
    ax.barh(y, mean, color=colors, alpha=0.75)
    ax.errorbar(mean, y, xerr=[mean - lo, hi - mean], fmt="none", ecolor="black", capsize=3, lw=1)
    p5, p95 = np.percentile(gap, [5, 95], axis=0)
    ax.hlines(y, p5, p95, color="0.3", lw=0.6, alpha=0.7)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, a.municipalities)
    span = max(np.abs(np.concatenate([p5, p95])).max(), 1e-9)
    for yi, hi_, pi in zip(y, np.maximum(hi, p95), p):
        ax.text(max(hi_, 0) + 0.03 * span, yi, f"P(short) {pi:.0%}", va="center", fontsize=8)
    ax.set_xlim(min(p5.min(), 0) - 0.1 * span, max(p95.max(), 0) + 0.45 * span)
    ax.set_xlabel("gap = budget − cost paid (€ million)")
    ax.set_title(f"Gap per municipality in {year}: {a.settings.regime} from {a.settings.start_year} — "
                 f"{a.scenario_name}", fontsize=10)
    fig.text(0.01, 0.01, "bar: mean; black: 95% CI of the mean; grey: 5–95% of replications; red: short, green: "
             f"surplus, orange: either, with 95% confidence ({a.replications} replications)", fontsize=7, color="0.35")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------- the report


def _money(value: float) -> str:
    from ..report.compare_report import fmt

    return fmt(value / MILLION, 2)


def _money_ci(mean: float, lo: float, hi: float) -> str:
    return f"{_money(mean)} [{_money(lo)}, {_money(hi)}]"


def describe(settings: Settings) -> str:
    text = REGIME_TEXT[settings.regime].format(start=settings.start_year)
    if settings.regime in ("phased", "two_track"):
        steps = ", ".join(f"{f:.0%}" for f in settings.phase_in)
        text += f". Objective fraction from {settings.start_year}: {steps} (100% from {settings.full_year})"
    if settings.regional_pool > 0:
        text += (f". Regional pool: {settings.regional_pool:.0%} of every budget covers deficits in proportion; "
                 "the rest is paid back")
    return text + "."


def year_table(a: Assessment, frame: pd.DataFrame, year: int):
    from ..report.compare_report import Block, Cell

    rows = []
    for name in a.municipalities + [REGION]:
        r = frame[(frame.municipality == name) & (frame.year == year)].iloc[0]
        short = r.gap_ci_high < 0
        rows.append([Cell(name, name == REGION), Cell(f"{r.in_bw_mean:.1f}"), Cell(f"{r.waiting_mean:.1f}"),
                     Cell(_money(r.residents_cost_mean)), Cell(_money(r.budget)),
                     Cell(_money_ci(r.cost_mean, r.cost_ci_low, r.cost_ci_high)),
                     Cell(_money_ci(r.gap_mean, r.gap_ci_low, r.gap_ci_high), bool(short)),
                     Cell(f"{r.p_short:.0%}")])
    header = ["municipality", "in BW (31 Dec)", "waiting (31 Dec)", "residents' care (€ m)", "budget (€ m)",
              "cost paid (€ m) [95% CI]", "gap (€ m) [95% CI]", "P(short)"]
    return Block("table", header=header, rows=rows)


def path_table(a: Assessment, frame: pd.DataFrame):
    """Gap per municipality and year from the start year (bold: short with 95% confidence)."""
    from ..report.compare_report import Block, Cell

    years = [y for y in a.years if y >= a.settings.start_year]
    rows = []
    for name in a.municipalities + [REGION]:
        sub = frame[frame.municipality == name].set_index("year")
        rows.append([Cell(name)] + [Cell(_money(sub.loc[y, "gap_mean"]), bool(sub.loc[y, "gap_ci_high"] < 0))
                                    for y in years])
    return Block("table", header=["gap (€ m)"] + [str(y) for y in years], rows=rows)


def report_blocks(a: Assessment, frame: pd.DataFrame, year: int, overview: Path, grid: Path) -> list:
    from .. import __version__
    from ..report.compare_report import Block

    s = a.settings
    macro = ("the run's own mean regional cost, year by year (budget-neutral)" if s.macro_budget == SCENARIO_COST
             else f"€ {_money(a.macro[-1])} m a year" if np.allclose(a.macro, a.macro[0])
             else ", ".join(f"{y}: € {_money(v)} m" for y, v in zip(a.years, a.macro)))
    blocks = [
        Block("h1", f"Verdeelmodel: {s.regime} from {s.start_year} — {a.scenario_name}"),
        Block("p", f"{a.replications} replications, seed {a.seed}, {a.years[0]}–{a.years[-1]}. Made with bwsim "
                   f"{__version__} on {dt.date.today().isoformat()}."),
        Block("p", f"Regime: {describe(s)} Macro budget: {macro}. Shares: {a.table.path.name} (historic key: "
                   f"historic_share, all to {a.table.centrumgemeente}; objective key: {a.table.objective_column}). "
                   "Before the start year every regime is the historic one."),
        Block("h2", f"Gap per municipality in {year}"),
        year_table(a, frame, year),
        Block("note", "People: clients from the municipality (woonplaats) in a BW place and on the waitlist on "
                      "31 December. Residents' care: the cost of all care of the municipality's residents (places, "
                      "bridging, ambulant, beschermd thuis); cost paid: what the municipality pays under the regime. "
                      "Gap: budget (after the regional pool, if any) minus cost paid; negative means short. "
                      "[95% CI]: the interval of the mean over replications (how well the simulation knows the "
                      "average); P(short): the share of replications in which that year's gap is negative (the "
                      "risk in a single year). Bold: short with 95% confidence."),
        Block("image", f"Gap per municipality in {year}", path=overview),
        Block("h2", "Year by year"),
        path_table(a, frame),
        Block("image", "Cost paid (band) against budget (line) per municipality", path=grid),
        Block("note", "One PNG per municipality, and every number with its CI (verdeel.csv), are in this folder. "
                      "Uncertainty here is the simulation's (who arrives, stays, leaves, from where); the shares, "
                      "costs per day and the macro budget are inputs, and their uncertainty is not in the intervals."),
    ]
    if a.notes:
        blocks.append(Block("h2", "Notes"))
        blocks += [Block("p", note) for note in a.notes]
    return blocks


def write_outputs(a: Assessment, out: str | Path, year: int | None = None, extra: dict | None = None) -> Path:
    """verdeel.csv, manifest.json, the figures, report.md and report.html, all or nothing."""
    from ..report.compare_report import render_html, render_markdown

    year = a.years[-1] if year is None else year
    if year not in a.years:
        raise VerdeelError(f"year: {year} is not in the run ({a.years[0]}–{a.years[-1]})")
    frame = a.frame()
    with atomic_folder(out) as tmp:
        frame.to_csv(tmp / "verdeel.csv", index=False, float_format="%.6g")
        manifest = {"settings": json.loads(a.settings.model_dump_json()), "scenario": a.scenario_name,
                    "municipalities_table": str(a.table.path), "seed": a.seed, "replications": a.replications,
                    "years": a.years, "report_year": year, "notes": a.notes, "packages": package_versions(),
                    **(extra or {})}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        overview, grid = tmp / "overview.png", tmp / "municipalities.png"
        plot_overview(a, year, overview)
        plot_grid(a, grid)
        for m, name in enumerate(a.municipalities):
            plot_municipality(a, m, tmp / f"municipality-{_slug(name)}.png")
        blocks = report_blocks(a, frame, year, overview, grid)
        (tmp / "report.md").write_text(render_markdown(blocks), encoding="utf-8")
        (tmp / "report.html").write_text(render_html(blocks, blocks[0].text), encoding="utf-8")
    return Path(out)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text).strip("-").lower() or "municipality"
