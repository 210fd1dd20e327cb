"""``bwsim calibrate`` and ``bwsim validate``: fit the free parameters, score a hold-out."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from .app import (command, console, default_out, executor_from, executor_option, fail, pool_workers, progress_bar,
                  scheduler_option, writable)

#: Calibration files named only for what they are: their folder names the region instead.
GENERIC_STEMS = ("calibrate", "calibration", "config")


def config_name(config: Path) -> str:
    """What a calibration file's results are named after: its stem, or its folder's name when the
    stem says nothing (``calibration/haarlem/calibrate.yaml`` -> ``haarlem``)."""
    return config.resolve().parent.name if config.stem in GENERIC_STEMS else config.stem


def stage_progress(bar):
    """A progress callback driving one rich bar, re-used for each stage; finished generations are printed."""
    task = bar.add_task("starting", total=1)
    current = {"stage": None}

    def on(event) -> None:
        if event.info:
            bar.console.print(f"{event.stage}: {event.info}", highlight=False)
            return
        if event.stage != current["stage"]:
            current["stage"] = event.stage
            bar.reset(task, total=event.total, description=event.stage)
        bar.update(task, completed=event.done)

    return on


def fitted_table(fitted, title: str) -> Table:
    table = Table(title=title, caption="weighted posterior; 90% interval = 5th to 95th percentile")
    for col in ("parameter", "prior", "median", "90% interval", "width / prior"):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    for r in fitted.itertuples(index=False):
        table.add_row(r.parameter, f"{r.prior_low:g} – {r.prior_high:g}", f"{r.median:.4g}",
                      f"{r.p5:.4g} – {r.p95:.4g}", f"{r.width_vs_prior:.2f}")
    return table


def coverage_line(predictive) -> str:
    from ..analysis.calibrate import HOLDOUT

    parts = []
    for use in ("fit", "check", HOLDOUT):
        rows = predictive[predictive["use"] == use]
        if len(rows):
            parts.append(f"{use}: {int(rows['covered'].sum())}/{len(rows)} (prior {int(rows['covered_prior'].sum())})")
    return "observations inside the calibrated 90% band — " + "; ".join(parts)


def fit_and_write(config_path: Path, cutoff: Optional[dt.date], out: Path, workers: Optional[int], resume: bool,
                  plots: bool, executor: str, scheduler: Optional[str]):
    """Calibrate (no cut-off) or validate, on the executor the flags ask for; exit 2 with one line on bad input."""
    from ..analysis.calibrate import CalibrationError, load_config
    from ..report.calibration_report import calibrate, validate
    from ..report.output import OutputError

    try:
        config = load_config(config_path, cutoff)
        with executor_from(executor, scheduler, workers) as pool, progress_bar("calibration") as bar:
            run = calibrate if cutoff is None else validate
            return run(config, out, pool_workers(pool, workers), resume, stage_progress(bar), plots, executor=pool)
    except (CalibrationError, OutputError) as exc:
        fail(str(exc))


def rolling_command(config: Path, cutoffs: Optional[str], out: Optional[Path], workers: Optional[int], plots: bool,
                    executor: str, scheduler: Optional[str]) -> None:
    """``validate --rolling``: fit up to each cut-off, score the next 6 and 12 months, print the summary."""
    from ..analysis.calibrate import CalibrationError
    from ..report.calibration_report import rolling_validate
    from ..report.output import OutputError

    days = []
    for text in (cutoffs.split(",") if cutoffs else []):
        try:
            days.append(dt.date.fromisoformat(text.strip()))
        except ValueError:
            fail(f"--cutoffs: not a date (YYYY-MM-DD): {text.strip()!r}")
    out = writable(out or default_out(f"rolling-{config_name(config)}"))
    try:
        with executor_from(executor, scheduler, workers) as pool, progress_bar("rolling validation") as bar:
            scores, summary = rolling_validate(config, days, out, pool_workers(pool, workers), stage_progress(bar),
                                               plots, executor=pool)
    except (CalibrationError, OutputError) as exc:
        fail(str(exc))
    table = Table(title="Rolling validation: forecasts of fitted observations", caption="coverage: share of observed "
                  "values inside the band; CRPS over sd: lower is better")
    for col in ("up to months ahead", "forecasts", "50% band", "90% band", "mean CRPS / sd"):
        table.add_column(col, justify="right")
    for r in summary.itertuples(index=False):
        table.add_row(str(r.horizon_months), str(r.forecasts), f"{r.coverage_50:.0%}", f"{r.coverage_90:.0%}",
                      f"{r.mean_crps_over_sd:.2f}")
    console.print(table)
    console.print(f"{len(scores)} forecasts; results in [bold]{out}[/]")


@command("calibrate")
def calibrate_command(
    config: Path = typer.Argument(..., help="calibration YAML file (scenario, observations, priors, method)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="results folder (default: "
                                       "results/calibration-<name>, e.g. results/calibration-haarlem)"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="processes (default: all cores)"),
    resume: bool = typer.Option(False, "--resume", help="continue from the last checkpoint in the results folder"),
    plots: bool = typer.Option(True, help="write PNG figures"),
    executor: str = executor_option(),
    scheduler: Optional[str] = scheduler_option(),
):
    """Fit the free parameters with ABC-SMC; write posterior.csv, fitted.csv/.md, predictive.csv and figures.

    Example: bwsim calibrate calibration/haarlem/calibrate.yaml --workers 2 (results/calibration-haarlem)
    """
    out = writable(out or default_out(f"calibration-{config_name(config)}"))
    result = fit_and_write(config, None, out, workers, resume, plots, executor, scheduler)
    console.print(fitted_table(result.fitted, f"Calibrated parameters ({len(result.posterior)} weighted sets)"))
    console.print(coverage_line(result.predictive))
    gen = result.history[-1]
    console.print(f"{len(result.history)} generations, {gen.simulated} parameter sets × "
                  f"{result.config.method.replications} replications, final tolerance {gen.epsilon:.3f}; "
                  f"{result.wall_seconds:.0f} s; results in [bold]{out}[/]")


@command("validate")
def validate_command(
    config: Path = typer.Argument(..., help="calibration YAML file"),
    cutoff: Optional[str] = typer.Option(None, "--cutoff", help="fit only observations up to this date (YYYY-MM-DD)"),
    rolling: bool = typer.Option(False, "--rolling", help="fit up to each of several cut-offs and score the "
                                 "forecasts of the next 6 and 12 months (50%/90% band coverage, CRPS)"),
    cutoffs: Optional[str] = typer.Option(None, "--cutoffs", help="with --rolling: the cut-offs, comma-separated "
                                          "(default: every date a fitted observation ends with another after it)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="results folder (default: "
                                       "results/validation-<name>-<cutoff>, or results/rolling-<name>)"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="processes (default: all cores)"),
    resume: bool = typer.Option(False, "--resume", help="continue from the last checkpoint in the results folder"),
    plots: bool = typer.Option(True, help="write PNG figures"),
    executor: str = executor_option(),
    scheduler: Optional[str] = scheduler_option(),
):
    """Fit on the observations up to --cutoff and score the prediction of the later ones.

    Example: bwsim validate calibration/haarlem/calibrate.yaml --cutoff 2016-12-31; or, for the
    forecast skill at every cut-off, bwsim validate calibration/haarlem/calibrate.yaml --rolling
    """
    if rolling:
        if cutoff is not None:
            fail("--cutoff: with --rolling give the cut-offs as --cutoffs D1,D2,…")
        return rolling_command(config, cutoffs, out, workers, plots, executor, scheduler)
    if cutoff is None:
        fail("--cutoff: expected a date (YYYY-MM-DD), or --rolling")
    try:
        day = dt.date.fromisoformat(cutoff)
    except ValueError:
        fail(f"--cutoff: not a date (YYYY-MM-DD): {cutoff!r}")
    out = writable(out or default_out(f"validation-{config_name(config)}-{day}"))
    result = fit_and_write(config, day, out, workers, resume, plots, executor, scheduler)
    table = Table(title=f"Held-out observations after {day}", caption="posterior predictive, 90% band = 5-95%")
    for col in ("observation", "observed", "predicted mean", "90% band", "inside", "error of mean"):
        table.add_column(col, justify="left" if col == "observation" else "right")
    for r in result.holdout.itertuples(index=False):
        table.add_row(r.observation, f"{r.observed:g}", f"{r.post_mean:.1f}", f"{r.post_p5:.1f} – {r.post_p95:.1f}",
                      "yes" if r.covered else "no", f"{r.error_of_mean:+.1f}")
    console.print(fitted_table(result.calibration.fitted, f"Parameters fitted up to {day}"))
    console.print(table)
    console.print(f"coverage of the 90% band: {result.coverage:.0%} of {len(result.holdout)}; mean absolute error "
                  f"of the mean {result.holdout['error_of_mean'].abs().mean():.1f}; "
                  f"{result.calibration.wall_seconds:.0f} s; results in [bold]{out}[/]")
