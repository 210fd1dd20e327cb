"""``bwsim compare``, ``bwsim target`` and ``bwsim sweep``: scenarios side by side, goal seeking,
and a parameter swept over a range. Parse, call the library, print."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from .. import compare as compare_mod
from ..calendar import Calendar
from ..cli import app, console, fail, load_scenario, progress_bar, writable
from ..report import excludes_zero, fmt, write_report
from ..scenario import ScenarioError, from_mapping, load_data
from ..sweep import ParameterError, check_sweep, parse_range, run_sweep, write_sweep
from ..target import TargetError, check_question, find_target


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "run"


def _load_data(path: Path, overrides: list[str]) -> tuple[dict, Calendar]:
    """The scenario mapping (extends and --set applied), validated once as it stands."""
    try:
        data = load_data(path, overrides)
        sc = from_mapping(data, str(path))
    except ScenarioError as exc:
        fail(str(exc))
    return data, Calendar(sc.start, sc.end)


def _check_year(year: Optional[int], calendar: Calendar) -> None:
    if year is not None and year not in calendar.years:
        fail(f"--year {year}: not in the run ({calendar.years[0]}–{calendar.years[-1]})")


# ---------------------------------------------------------------- compare


def _labels(paths: list[Path], names: list[str]) -> list[str]:
    if len(set(names)) == len(names):
        return names
    stems = [p.stem for p in paths]
    return compare_mod.unique_labels(stems)


def _pm(mean: float, low: float, high: float, digits: int, sign: bool = False) -> str:
    return f"{fmt(mean, digits, sign)} ± {fmt((high - low) / 2, digits)}"


def differences_table(comparison: compare_mod.Comparison, year: int) -> Table:
    """Metrics down; the reference's level, then per scenario its paired difference and the ratio
    of the paired to the unpaired CI width. Compact (mean ± half-width): report.md has it all."""
    table = Table(title=f"Differences against {escape(comparison.reference)} in {year} "
                        f"(paired over {comparison.replications} replications)",
                  caption="mean ± 95% CI half-width; stocks on 31 December; flows, place-years and cost (€ million) "
                          "in the year; waits (months) of those placed in the year. CI width: paired / unpaired "
                          "(Welch). Bold: the CI excludes 0")
    width = 13  # "−175.4 ± 4.6" on one line
    table.add_column("metric", no_wrap=True)
    table.add_column(escape(comparison.reference), justify="right", min_width=width)
    for label in comparison.labels[1:]:
        table.add_column(f"{escape(label)} − reference", justify="right", min_width=width)
        table.add_column("CI width", justify="right", min_width=5)
    frame = comparison.rows(year).set_index(["metric", "scenario"])
    for metric in compare_mod.key_metrics():
        ref = frame.loc[(metric.name, comparison.reference)]
        cells = [metric.name, _pm(ref["mean"], ref.ci_low, ref.ci_high, metric.digits)]
        for label in comparison.labels[1:]:
            row = frame.loc[(metric.name, label)]
            text = _pm(row.diff_mean, row.diff_ci_low, row.diff_ci_high, metric.digits, sign=True)
            cells += [f"[bold]{text}[/]" if excludes_zero(row) else text,
                      f"{row.width_ratio:.0%}" if math.isfinite(row.width_ratio) else "–"]
        table.add_row(*cells)
    return table


@app.command("compare")
def compare_command(
    scenarios: list[Path] = typer.Argument(..., help="scenario YAML files; the first is the reference"),
    replications: int = typer.Option(30, "--replications", "-n", min=2, help="replications per scenario"),
    seed: int = typer.Option(1, "--seed", "-s", min=0, help="random seed, the same for every scenario"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="processes (default: all cores)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="folder (default results/compare-<scenarios>)"),
    year: Optional[int] = typer.Option(None, "--year", "-y", help="year of the table (default: the last)"),
    posterior: Optional[Path] = typer.Option(None, "--posterior",
                                             help="posterior.csv of a calibration: draw parameters across replications"),
    per_draw: int = typer.Option(3, "--per-draw", "-k", min=1, help="with --posterior: replications per parameter draw"),
):
    """Run scenarios with common random numbers and report their differences from the first."""
    if len(scenarios) < 2:
        fail("compare needs at least two scenario files: the reference and one to compare with it")
    loaded = [load_scenario(path, []) for path in scenarios]
    draws = None
    if posterior is not None:
        from ..calibrate import CalibrationError, sample_posterior

        try:
            draws = sample_posterior(posterior, math.ceil(replications / per_draw), seed)
        except CalibrationError as exc:
            fail(str(exc))
    calendar = Calendar(loaded[0].start, loaded[0].end)
    _check_year(year, calendar)
    year = calendar.years[-1] if year is None else year
    out = writable(out or Path("results") / _slug("compare-" + "-".join(p.stem for p in scenarios)))
    started = time.perf_counter()
    try:
        with progress_bar("replications") as bar:
            task = bar.add_task("scenarios", total=replications * len(loaded))
            comparison = compare_mod.compare(loaded, replications, seed=seed, workers=workers,
                                             labels=_labels(scenarios, [sc.name for sc in loaded]),
                                             progress=lambda k: bar.advance(task, k), draws=draws, per_draw=per_draw)
    except (compare_mod.CompareError, ScenarioError) as exc:
        fail(str(exc))
    write_report(comparison, out, year)
    console.print(differences_table(comparison, year))
    gain = compare_mod.informative(comparison.frame, year)["width_ratio"]
    if len(gain):
        ratio = gain.median()
        console.print(f"Common random numbers: the paired CIs are {ratio:.0%} of the unpaired width (median over "
                      f"metrics and scenarios in {year}); an unpaired comparison would need about "
                      f"{1 / ratio ** 2:.0f}× as many replications for the same precision.")
    console.print(f"{len(loaded)} × {replications} replications in {time.perf_counter() - started:.1f} s; "
                  f"report in [bold]{out / 'report.html'}[/]")


# ---------------------------------------------------------------- target


def _evaluations(low: float, high: float, integer: bool, tolerance: Optional[float]) -> int:
    width = (high - low) if integer else (high - low) / (tolerance or (high - low) / 1000)
    return 2 + max(0, math.ceil(math.log2(max(width, 1))))


@app.command("target")
def target_command(
    scenario: Path = typer.Argument(..., help="scenario YAML file"),
    param: str = typer.Option(..., "--param", "-p", help="key path, e.g. providers.RIBW K/AM.places"),
    low: float = typer.Option(..., "--low", help="lowest value to consider"),
    high: float = typer.Option(..., "--high", help="highest value to consider"),
    metric: str = typer.Option("waitlist", "--metric", "-m", help="yearly metric of the condition"),
    max_value: float = typer.Option(..., "--max", help="the condition: metric(year) <= max"),
    year: Optional[int] = typer.Option(None, "--year", "-y", help="year of the condition (default: the last)"),
    probability: float = typer.Option(0.8, "--probability", help="share of replications that must meet it"),
    replications: int = typer.Option(30, "--replications", "-n", min=1, help="replications per value tried"),
    seed: int = typer.Option(1, "--seed", "-s", min=0, help="random seed, the same for every value"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="processes (default: all cores)"),
    integer: bool = typer.Option(True, "--integer/--no-integer", help="search whole numbers only"),
    tolerance: Optional[float] = typer.Option(None, "--tolerance", help="with --no-integer: stop when the "
                                              "interval is this narrow (default: range / 1000)"),
    set_: list[str] = typer.Option([], "--set", help="override a key: key.path=value (repeatable)"),
):
    """Find the smallest value of a parameter for which metric(year) <= max in enough replications."""
    data, calendar = _load_data(scenario, set_)
    _check_year(year, calendar)
    year = calendar.years[-1] if year is None else year
    try:
        check_question(data, param, low, high, metric, year, probability, replications, integer, tolerance,
                       str(scenario))
        with progress_bar("replications") as bar:
            task = bar.add_task("values tried", total=replications * _evaluations(low, high, integer, tolerance))
            result = find_target(data, param, low, high, metric, max_value, year=year, probability=probability,
                                 replications=replications, seed=seed, integer=integer, tolerance=tolerance,
                                 workers=workers, progress=lambda k: bar.advance(task, k), source=str(scenario))
    except (TargetError, ParameterError) as exc:
        fail(str(exc))
    table = Table(title=escape(f"{param}: share of {replications} replications with {result.condition}"))
    for column in ("value", "met", "share", "Wilson 95% CI", f"≥ {probability:.0%}?"):
        table.add_column(column, justify="right")
    for t in sorted(result.trials, key=lambda t: t.value):
        lo, hi = t.interval
        mark = "[bold]yes: answer[/]" if t.value == result.answer else ("yes" if result.meets(t) else "no")
        table.add_row(f"{t.value:g}", f"{t.met}/{t.n}", f"{t.share:.0%}", f"{lo:.0%}–{hi:.0%}", mark)
    console.print(table)
    at = result.at_answer
    lines = [f"Smallest {escape(param)} in [{result.low:g}, {result.high:g}]: [bold]{result.answer:g}[/] — there "
             f"{at.share:.0%} (95% CI {at.interval[0]:.0%}–{at.interval[1]:.0%}) of replications meet "
             f"{result.condition}."]
    below = result.below
    if below is None:
        lines.append("The condition already holds at the low end of the range.")
    else:
        lines.append(f"At {below.value:g}, the next lower value tried: {below.share:.0%} "
                     f"(95% CI {below.interval[0]:.0%}–{below.interval[1]:.0%}).")
    if result.sharp:
        lines.append(f"The answer is sharp: the two intervals lie on either side of {probability:.0%}.")
    else:
        lines.append(f"The answer is not sharp: a Wilson interval includes {probability:.0%}.")
        span = result.plausible
        if span is not None and span[0] != span[1]:
            lines[-1] += (f" The values tried from {span[0]:g} to {span[1]:g} all have intervals that include it, "
                          f"so with {replications} replications the threshold could lie anywhere in (at least) "
                          "that range.")
        lines.append("More replications (-n) would narrow it.")
    console.print("\n".join(lines))


# ---------------------------------------------------------------- sweep


@app.command("sweep")
def sweep_command(
    scenario: Path = typer.Argument(..., help="scenario YAML file"),
    param: str = typer.Option(..., "--param", "-p", help="KEY=start:stop:step (stop included) or KEY=v1,v2,..."),
    metric: str = typer.Option("waitlist", "--metric", "-m", help="yearly metric to plot"),
    year: Optional[int] = typer.Option(None, "--year", "-y", help="year (default: the mean over the years)"),
    replications: int = typer.Option(30, "--replications", "-n", min=2, help="replications per value"),
    seed: int = typer.Option(1, "--seed", "-s", min=0, help="random seed, the same for every value"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="processes (default: all cores)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="folder (default results/sweep-<scenario>-<key>)"),
    set_: list[str] = typer.Option([], "--set", help="override a key: key.path=value (repeatable)"),
):
    """Run a scenario at each value of a parameter (same seed) and plot a metric against it."""
    try:
        key, values = parse_range(param)
    except ParameterError as exc:
        fail(str(exc))
    data, calendar = _load_data(scenario, set_)
    _check_year(year, calendar)
    out = writable(out or Path("results") / _slug(f"sweep-{scenario.stem}-{key.split('.')[-1]}"))
    try:
        check_sweep(data, key, values, metric, year, str(scenario))
        with progress_bar("replications") as bar:
            task = bar.add_task(f"{len(values)} values", total=replications * len(values))
            sweep = run_sweep(data, key, values, metric, year=year, replications=replications, seed=seed,
                              workers=workers, progress=lambda k: bar.advance(task, k), source=str(scenario))
    except ParameterError as exc:
        fail(str(exc))
    write_sweep(sweep, out)
    frame = sweep.frame()
    table = Table(title=f"{sweep.what} against {key} ({replications} replications per value)")
    for column in ("value", "mean [95% CI]", "5–95% of replications"):
        table.add_column(column, justify="right")
    for _, row in frame.iterrows():
        table.add_row(f"{row.value:g}", f"{fmt(row['mean'])} [{fmt(row.ci_low)}, {fmt(row.ci_high)}]",
                      f"{fmt(row.p5)}–{fmt(row.p95)}")
    console.print(table)
    console.print(f"results in [bold]{out}[/] (sweep.csv, sweep.png)")
