"""``bwsim compare``: scenarios side by side under common random numbers, with paired CIs."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from .app import (calibration_of, check_format, command, check_year, console, default_out, executor_from,
                  executor_option, fail, first_guess_option, format_option, load_observed, load_scenario,
                  observed_option, pool_workers, posterior_option, progress_bar, scheduler_option, writable)


def _labels(paths: list[Path], names: list[str]) -> list[str]:
    from ..experiment import compare as compare_mod

    if len(set(names)) == len(names):
        return names
    stems = [p.stem for p in paths]
    return compare_mod.unique_labels(stems)


def _pm(mean: float, low: float, high: float, digits: int, sign: bool = False) -> str:
    from ..report.blocks import fmt

    return f"{fmt(mean, digits, sign)} ± {fmt((high - low) / 2, digits)}"


def differences_table(comparison, year: int) -> Table:
    """Metrics down; the reference's level, then per scenario its paired difference and the ratio
    of the paired to the unpaired CI width. Compact (mean ± half-width): report.md has it all."""
    table = Table(title=f"Differences against {escape(comparison.reference)} in {year} "
                        f"(paired over {comparison.replications} replications)",
                  caption="mean ± 95% CI half-width; stocks on 31 December; flows, place-years and cost (€ million) "
                          "in the year; waits (months) of those placed in the year. CI width: paired / unpaired "
                          "(Welch). Bold: the CI excludes 0")
    from ..experiment import compare as compare_mod
    from ..report.compare_report import excludes_zero

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


@command("compare")
def compare_command(
    scenarios: list[Path] = typer.Argument(..., help="scenario YAML files; the first is the reference"),
    replications: int = typer.Option(30, "--replications", "-n", min=2, help="replications per scenario"),
    seed: int = typer.Option(1, "--seed", "-s", min=0, help="random seed, the same for every scenario"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="processes (default: all cores)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="folder (default results/compare-<scenarios>)"),
    year: Optional[int] = typer.Option(None, "--year", "-y", help="year of the table (default: the last)"),
    posterior: Optional[Path] = posterior_option(),
    first_guess: bool = first_guess_option(),
    per_draw: int = typer.Option(3, "--per-draw", "-k", min=1, help="with a posterior: replications per parameter draw"),
    executor: str = executor_option(),
    scheduler: Optional[str] = scheduler_option(),
    fmt: str = format_option(),
    observed: Optional[Path] = observed_option(),
):
    """Run scenarios with common random numbers and report their differences from the first.

    Writes report.md, a self-contained report.html, one figure per key metric, comparison.csv (or
    .parquet), comparison.json, arrays.npz and manifest.json. Scenarios with a calibration
    (calibration.posterior) draw the same parameter sets in every scenario (refused if the scenarios
    differ on a key the posterior sets); --first-guess uses the values written in them. Example:
    bwsim compare scenarios/haarlem/{baseline,halve-intramural,halve-with-housing}.yaml -n 30 --seed 1
    """
    from ..config.scenario import ScenarioError
    from ..experiment import compare as compare_mod
    from ..model.calendar import Calendar
    from ..report.compare_report import write_report
    from ..report.output import provenance

    if len(scenarios) < 2:
        fail("compare needs at least two scenario files: the reference and one to compare with it")
    loaded = [load_scenario(path, []) for path in scenarios]
    named = posterior
    posterior, observed = calibration_of(loaded, posterior, first_guess, observed)
    draws = None
    if posterior is not None:
        from ..analysis.calibrate import CalibrationError, ErasedDifference, comparison_draws

        try:
            draws = comparison_draws(posterior, math.ceil(replications / per_draw), seed, loaded,
                                     _labels(scenarios, [sc.name for sc in loaded]))
        except ErasedDifference as exc:
            fail(f"posterior {posterior}: its column {exc.key} is a key on which the scenarios differ; the "
                 "posterior would set it alike in all of them and erase that difference (drop the column, or "
                 "give --first-guess)")
        except CalibrationError as exc:
            fail(str(exc))
    calendar = Calendar(loaded[0].start, loaded[0].end)
    check_year(year, calendar)
    year = calendar.years[-1] if year is None else year
    check_format(fmt)
    points = load_observed(observed)
    out = writable(out or default_out("compare-" + "-".join(p.stem for p in scenarios),
                                      ["first-guess"] if first_guess else [], posterior=named))
    started = time.perf_counter()
    try:
        with executor_from(executor, scheduler, workers) as pool, progress_bar("replications") as bar:
            task = bar.add_task("scenarios", total=replications * len(loaded))
            comparison = compare_mod.compare(loaded, replications, seed=seed, workers=pool_workers(pool, workers),
                                             labels=_labels(scenarios, [sc.name for sc in loaded]), executor=pool,
                                             progress=lambda k: bar.advance(task, k), draws=draws, per_draw=per_draw)
    except (compare_mod.CompareError, ScenarioError) as exc:
        fail(str(exc))
    if comparison.posterior is not None:
        comparison.posterior["file"] = str(posterior)
    manifest = provenance(scenarios=scenarios, posterior=posterior, draws=len(draws) if draws else None,
                          per_draw=per_draw if draws else None, seed=seed, replications=replications,
                          executor=executor, scheduler=scheduler, observed=str(observed) if observed else None)
    write_report(comparison, out, year, manifest=manifest, fmt=fmt, observed=points)
    console.print(differences_table(comparison, year))
    gain = compare_mod.informative(comparison.frame, year)["width_ratio"]
    if len(gain):
        ratio = gain.median()
        console.print(f"Common random numbers: the paired CIs are {ratio:.0%} of the unpaired width (median over "
                      f"metrics and scenarios in {year}); an unpaired comparison would need about "
                      f"{1 / ratio ** 2:.0f}× as many replications for the same precision.")
    console.print(f"{len(loaded)} × {replications} replications in {time.perf_counter() - started:.1f} s; "
                  f"report in [bold]{out / 'report.html'}[/]")
