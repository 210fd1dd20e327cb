"""Steady state: the inflow (or the withdrawal rate) that keeps the waitlist at a given length.

The question is "how many new indications a year keep our list at 150?". In a region whose
places are full, the list settles where what comes in (new indications, relapses) equals
what goes out (admissions, which the places cap, and withdrawals, which grow with the list),
so its long-run level rises with the inflow and falls with the withdrawal rate. That level is
measured by simulation: the scenario is run for ``years`` years from its start, and the level
is the time average of the monthly waitlist over the second half of the run (the *window*),
averaged over the replications. Every value tried is run with the same seed and replications
(common random numbers), so the differences between values are not noise between runs.

The search is a secant search that turns into regula falsi (Illinois) as soon as two values
bracket the target: a few runs suffice, because the level is close to linear in the inflow
(slope about one over the withdrawal rate). Values tried are rounded to four significant
digits, so the answer is exactly what was run. It stops when the level is within
``tolerance`` (a share of the target) of the target, or when the bracket cannot be narrowed.

The answer comes with what it rests on: the level at the answer with its 95% CI, the values
tried, how far the inflow is uncertain given that CI (the CI over the local slope), and the
drift at the answer — the waitlist on 31 December of every year of the run, mean and 95% CI,
and the trend per year — so that the user sees whether the list is stable, not just that
its late average hits the target.
"""

from __future__ import annotations

import math
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ..config.scenario import Scenario, ScenarioError, add_years, from_mapping, value_in_year
from ..record.metrics import MONTHLY_ROW
from .executors import Progress, default_workers, pool_for
from .replications import Results, mean_ci, run_replications
from .sweep import ParameterError, metric_per_replication, scenario_at, with_value

#: What can be solved for: the key path, and the sign of the list's response to it.
UNKNOWNS = {"inflow": ("inflow.per_year", +1), "withdrawal": ("waitlist.withdrawal_per_year", -1)}
DIGITS = 4


class SteadyStateError(ValueError):
    """The question cannot be asked of this scenario, or the target cannot be reached."""


def rounded(value: float) -> float:
    """A value to try, to :data:`DIGITS` significant digits (what is printed is what was run)."""
    return float(f"{value:.{DIGITS}g}")


@dataclass(frozen=True)
class Level:
    """One value tried: the mean waitlist over the window, mean over replications, and its 95% CI."""

    value: float
    mean: float
    low: float
    high: float

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


@dataclass
class SteadyState:
    solve_for: str
    key: str
    target: float
    replications: int
    seed: int
    years: int
    window: tuple[str, str]  # first and last record date averaged (ISO)
    tolerance: float  # share of the target
    answer: float
    converged: bool
    trials: list[Level] = field(default_factory=list)  # in the order tried
    calendar_years: list[int] = field(default_factory=list)
    yearly: np.ndarray | None = None  # [replication, year]: the waitlist on 31 December at the answer
    slope_guess: float | None = None  # the slope the search started from (see first_slope)

    @property
    def at_answer(self) -> Level:
        return next(t for t in self.trials if t.value == self.answer)

    @property
    def slope(self) -> float | None:
        """Change in the level per unit of the value near the answer: the least-squares line
        through the values tried (with one value tried, the guess the search started from)."""
        values = np.array([t.value for t in self.trials])
        if np.unique(values).size < 2:
            return self.slope_guess
        slope = float(np.polyfit(values, [t.mean for t in self.trials], 1)[0])
        return slope if slope != 0 and math.isfinite(slope) else None

    @property
    def uncertainty(self) -> float | None:
        """How far the answer could move given the CI of the level at it (CI half-width / slope)."""
        slope = self.slope
        return None if slope is None else self.at_answer.half_width / abs(slope)

    def drift(self) -> list[tuple[int, float, float, float]]:
        """(year, mean, CI low, CI high) of the waitlist on 31 December of each year at the answer."""
        mean, low, high = mean_ci(self.yearly)
        return [(year, float(m), float(lo), float(hi)) for year, m, lo, hi in zip(self.calendar_years, mean, low, high)]

    def trend(self) -> tuple[float, float, float]:
        """The list's trend per year at the answer: the least-squares slope of each replication's
        31 December values on the year, mean over replications with its 95% CI."""
        x = np.arange(self.yearly.shape[1], dtype=float)
        if x.size < 2:
            return (math.nan, math.nan, math.nan)
        x -= x.mean()
        slopes = (self.yearly - self.yearly.mean(axis=1, keepdims=True)) @ x / (x @ x)
        mean = float(slopes.mean())
        if slopes.size < 2:
            return (mean, math.nan, math.nan)
        half = float(stats.t.ppf(0.975, slopes.size - 1) * slopes.std(ddof=1) / math.sqrt(slopes.size))
        return (mean, mean - half, mean + half)

    def largest_deviation(self) -> float:
        """The largest |mean on 31 December − target| over the years, as a share of the target."""
        return max(abs(m - self.target) for _, m, _, _ in self.drift()) / self.target


# ---------------------------------------------------------------- the question


def horizon_data(data: dict, scenario: Scenario, years: int) -> dict:
    """The scenario mapping run for ``years`` years from its start."""
    return with_value(data, "end", add_years(scenario.start, years).isoformat())


def start_value(scenario: Scenario, solve_for: str, target: float) -> float:
    """Where the search starts: the scenario's own value when it has one, else a guess from the
    flows (exits from full places plus withdrawals from the list at the target)."""
    if solve_for == "withdrawal":
        rate = scenario.waitlist.withdrawal_per_year
        return rate if rate > 0 else 0.1
    per_year = scenario.inflow.per_year
    if not isinstance(per_year, dict) and per_year > 0:
        return float(per_year)
    mean_years = sum(p.share * p.stay.mean_days() for p in scenario.profiles.values()) / 365.25
    exits = scenario.places_at_start() / max(mean_years, 1e-3)
    return max(1.0, exits + scenario.waitlist.withdrawal_per_year * target)


def check_question(data: dict, target: float, solve_for: str, replications: int, years: int, tolerance: float,
                   source: str = "<scenario>") -> tuple[dict, Scenario, float]:
    """Validate the question before running anything: the mapping over the horizon, the scenario
    at the start value, and the start value."""
    if solve_for not in UNKNOWNS:
        raise SteadyStateError(f"--solve-for {solve_for}: expected one of {', '.join(UNKNOWNS)}")
    if not (math.isfinite(target) and target > 0):
        raise SteadyStateError(f"--waitlist {target:g}: expected a length of the list above 0")
    if replications < 2:
        raise SteadyStateError(f"-n {replications}: at least 2 replications are needed for a confidence interval")
    if years < 1:
        raise SteadyStateError(f"--years {years}: expected at least 1 year")
    if not (math.isfinite(tolerance) and 0 < tolerance < 1):
        raise SteadyStateError(f"--tolerance {tolerance:g}: expected a share of the target between 0 and 1")
    key, _ = UNKNOWNS[solve_for]
    try:
        horizon = horizon_data(data, from_mapping(data, source), years)
        scenario = from_mapping(horizon, f"{source} run for {years} year{'s' if years != 1 else ''} (--years)")
    except ScenarioError as exc:
        raise SteadyStateError(str(exc)) from None
    inflow = scenario.inflow
    if inflow.growth_per_year:
        raise SteadyStateError(f"{source}: inflow.growth_per_year is {inflow.growth_per_year:g}; a list held steady "
                               "needs a constant inflow (--set inflow.growth_per_year=0)")
    if solve_for == "withdrawal" and isinstance(inflow.per_year, dict):
        raise SteadyStateError(f"{source}: inflow.per_year changes by year; a list held steady needs one number "
                               f"(--set inflow.per_year={value_in_year(inflow.per_year, scenario.start.year):g})")
    value = rounded(start_value(scenario, solve_for, target))
    try:
        scenario = scenario_at(horizon, key, value, source)
    except ParameterError as exc:
        raise SteadyStateError(str(exc)) from None
    return horizon, scenario, value


def window_indices(results: Results) -> np.ndarray:
    """The monthly records of the second half of the run (the late window)."""
    dates = results.calendar.dates
    return np.arange(len(dates) // 2, len(dates))


# ---------------------------------------------------------------- the search


def solve_steady_state(data: dict, target: float, solve_for: str = "inflow", replications: int = 30, seed: int = 1,
                       years: int = 10, tolerance: float = 0.01, max_evaluations: int = 12,
                       workers: int | None = None, progress: Progress | None = None, source: str = "<scenario>",
                       executor: Executor | None = None) -> SteadyState:
    """The value of the inflow (or withdrawal rate) at which the mean waitlist over the late window
    is ``target`` (within ``tolerance`` × target). Raises :class:`SteadyStateError` if it cannot be
    reached or the question is malformed."""
    horizon, scenario, first = check_question(data, target, solve_for, replications, years, tolerance, source)
    if max_evaluations < 2:
        raise SteadyStateError(f"--max-evaluations {max_evaluations}: expected at least 2")
    key, sign = UNKNOWNS[solve_for]
    workers = default_workers() if workers is None else workers
    levels: dict[float, Level] = {}
    runs: dict[float, Results] = {}
    window: list[str] = []

    with pool_for(executor, workers) as pool:

        def level(value: float) -> Level:
            if value not in levels:
                try:
                    sc = scenario_at(horizon, key, value, source)
                except ParameterError as exc:
                    raise SteadyStateError(str(exc)) from None
                results = run_replications(sc, replications, seed=seed, workers=workers, progress=progress,
                                           executor=pool)
                idx = window_indices(results)
                window[:] = [results.calendar.dates[idx[0]].isoformat(), results.calendar.dates[idx[-1]].isoformat()]
                per_rep = results.monthly[:, MONTHLY_ROW["waitlist"], idx].mean(axis=1)
                mean, low, high = (float(v) for v in mean_ci(per_rep))
                levels[value] = Level(value, mean, low, high)
                runs[value] = results
            return levels[value]

        guess = first_slope(scenario, solve_for, first)
        answer = _search(level, first, target, sign, tolerance * target, guess, max_evaluations, key, solve_for)
    results = runs[answer]
    yearly = np.column_stack([metric_per_replication(results, "waitlist", year) for year in results.calendar.years])
    return SteadyState(solve_for, key, target, replications, seed, years, (window[0], window[1]), tolerance, answer,
                       abs(levels[answer].mean - target) <= tolerance * target, list(levels.values()),
                       list(results.calendar.years), yearly, guess)


def first_slope(scenario: Scenario, solve_for: str, value: float) -> float:
    """A first guess of the change in the long-run list per unit of the value, for the first step:
    with full places, list × withdrawal rate ≈ inflow − admissions, so the list moves by about
    1 / withdrawal per unit of inflow, and by about −list / withdrawal per unit of withdrawal."""
    rate = scenario.waitlist.withdrawal_per_year
    if solve_for == "inflow":
        return 1.0 / rate if rate > 0 else max(1.0, (scenario.end - scenario.start).days / 365.25 / 2)
    return -max(scenario.initial.waiting, 1) / max(value, 1e-3)


def _search(level, first: float, target: float, sign: int, tol: float, slope: float, max_evaluations: int,
            key: str, solve_for: str) -> float:
    """Secant steps until two values bracket the target, then regula falsi with the Illinois
    modification; the value whose level is closest to the target."""
    tried: list[tuple[float, float]] = []  # (value, level − target), in the order tried

    def visit(x: float) -> float:
        g = level(x).mean - target
        tried.append((x, g))
        if x == 0 and g * sign > 0:  # at zero the list is still on the wrong side
            raise SteadyStateError(_unreachable_message(key, level(x), target, solve_for))
        return g

    g = visit(first)
    last_side = 0  # the side (sign of g) of the last value tried, for the Illinois modification
    stuck = 1.0  # the weight of the end kept twice in a row
    while abs(g) > tol and len(tried) < max_evaluations:
        short = [t for t in tried if t[1] < 0]
        long = [t for t in tried if t[1] >= 0]
        if short and long:  # bracketed: regula falsi between the closest on either side
            a, ga = min(short, key=lambda t: -t[1])
            b, gb = min(long, key=lambda t: t[1])
            if last_side < 0:
                gb *= stuck
            elif last_side > 0:
                ga *= stuck
            x = rounded(a - ga * (b - a) / (gb - ga))
        else:
            if len(tried) >= 2:
                (xa, ga), (xb, gb) = tried[-2], tried[-1]
                secant = (gb - ga) / (xb - xa) if xb != xa else 0.0
                slope = secant if secant * sign > 0 else slope  # noise against the direction: keep the guess
            xb, gb = tried[-1]
            raw = xb - gb / slope
            # heading below zero again, after a step down already: try zero itself
            x = 0.0 if raw <= 0 and xb < first else _step(raw, xb, sign, gb)
        if any(x == v for v, _ in tried):
            break  # the bracket cannot be narrowed at this precision
        g = visit(x)
        side = -1 if g < 0 else 1
        stuck = 0.5 if side == last_side else 1.0
        last_side = side
    if not any(t[1] < 0 for t in tried) or not any(t[1] >= 0 for t in tried):
        if min(abs(g) for _, g in tried) > tol:
            values = ", ".join(f"{v:g} (list {level(v).mean:.1f})" for v, _ in tried)
            raise SteadyStateError(f"not reached in {len(tried)} runs: {key} = {values}; the target {target:g} is "
                                   "not between them (more runs: --max-evaluations)")
    return min(tried, key=lambda t: abs(t[1]))[0]


def _step(x: float, previous: float, sign: int, gap: float) -> float:
    """The next value before a bracket is found: not negative, within a factor four of the
    previous one (one noisy step cannot throw the search far off), and different from it."""
    if previous > 0:
        x = min(max(x, previous / 4), previous * 4)
    x = rounded(max(x, 0.0))
    if x == previous:  # a step below the precision: one unit of the last digit, the right way
        unit = 10.0 ** (math.floor(math.log10(previous)) - DIGITS + 1) if previous > 0 else 10.0 ** -DIGITS
        x = rounded(max(previous - math.copysign(unit, gap * sign), 0.0))
    return x


def _unreachable_message(key: str, at: Level, target: float, solve_for: str) -> str:
    if solve_for == "withdrawal":
        return (f"not reachable: even with {key}=0 the mean list over the window is {at.mean:.1f}, below "
                f"{target:g}; it is short because of the inflow and the places, not the withdrawals")
    return f"not reachable: even with {key}=0 the mean list over the window is {at.mean:.1f}, above {target:g}"
