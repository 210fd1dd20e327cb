"""``bwsim run``: N replications of one scenario, written as series, summary, manifest and plots."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from .app import (calibrated_draws, calibration_of, check_format, command, console, default_out, executor_from,
                  executor_option, first_guess_option, format_option, load_observed, load_scenario, observed_option,
                  pool_workers, posterior_option, progress_bar, scheduler_option, set_keys, writable)

TABLE_METRICS = (
    ("waitlist", "waitlist"),
    ("occupied", "occupied"),
    ("ready_to_leave", "ready to leave"),
    ("admissions", "admissions"),
    ("exits", "exits"),
    ("wait_placed_median", "median wait (mo)"),
)



def summary_table(summary, title: str) -> Table:
    """Years down, metrics across: mean ± half-width of the 95% CI."""
    table = Table(title=title, caption="stocks on 31 December, flows in the year; mean ± 95% CI half-width")
    table.add_column("year")
    for _, label in TABLE_METRICS:
        table.add_column(label, justify="right")
    by_metric = {m: summary[summary.metric == m].set_index("year") for m, _ in TABLE_METRICS}
    for year in sorted(summary["year"].unique()):
        cells = []
        for metric, _ in TABLE_METRICS:
            r = by_metric[metric].loc[year]
            cells.append(f"{r['mean']:.1f} ± {(r.ci_high - r.ci_low) / 2:.1f}")
        table.add_row(str(year), *cells)
    return table


def variance_table(split) -> Table:
    last = split[split["year"] == split["year"].max()]
    table = Table(title=f"Variance in {int(last['year'].iloc[0])}: parameter vs stochastic (law of total variance)")
    for col in ("metric", "mean", "sd total", "sd parameter", "sd stochastic", "parameter share"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for r in last.itertuples(index=False):
        table.add_row(r.metric, f"{r.mean:.1f}", f"{r.total_var ** 0.5:.1f}", f"{r.parameter_var ** 0.5:.1f}",
                      f"{r.stochastic_var ** 0.5:.1f}", f"{r.parameter_share:.0%}")
    return table


@command()
def run(
    scenario: Path = typer.Argument(..., help="scenario YAML file"),
    replications: int = typer.Option(30, "--replications", "-n", min=1, help="number of replications"),
    seed: int = typer.Option(1, "--seed", "-s", min=0, help="random seed"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="processes (default: all cores)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="results folder (default results/<scenario>, with "
                                       "the --set overrides and the posterior: results/baseline--waitlist.policy=central)"),
    set_: list[str] = typer.Option([], "--set", help="override a key: key.path=value (repeatable); a key the "
                                   "scenario's calibration fits keeps this value, the others are still drawn"),
    plots: bool = typer.Option(True, help="write PNG plots"),
    executor: str = executor_option(),
    scheduler: Optional[str] = scheduler_option(),
    posterior: Optional[Path] = posterior_option(),
    first_guess: bool = first_guess_option(),
    per_draw: int = typer.Option(3, "--per-draw", "-k", min=1, help="with a posterior: replications per parameter draw"),
    event_log: bool = typer.Option(False, "--event-log", help="also write events.csv: one row per client state change"),
    clients: bool = typer.Option(False, "--clients", help="also write clients.csv: one record per client journey"),
    fmt: str = format_option(),
    observed: Optional[Path] = observed_option(),
):
    """Run N replications of a scenario and write series.csv, summary.csv, manifest.json and plots.

    A scenario with a calibration (calibration.posterior) runs on its calibrated parameters: replication r
    takes posterior draw r // per-draw, so the results carry the parameters' uncertainty. --first-guess runs
    on the values written in the scenario instead.

    Example: bwsim run scenarios/haarlem/baseline.yaml -n 100 --seed 1
    """
    from ..analysis.calibrate import parameters_text
    from ..experiment.replications import posterior_variants, run_replications, summarise
    from ..experiment.variance import variance_split
    from ..report.output import provenance, write_results

    sc = load_scenario(scenario, set_)
    check_format(fmt)
    named = posterior
    posterior, observed = calibration_of([sc], posterior, first_guess, observed)
    points = load_observed(observed)
    out = writable(out or default_out(scenario.stem, list(set_) + (["first-guess"] if first_guess else []), named))
    variants, fixed = None, []
    if posterior is not None:
        draws, fixed = calibrated_draws(sc, posterior, named is not None, replications, per_draw, seed,
                                        set_keys(set_))
        variants = posterior_variants(sc, draws, per_draw)[:replications]
    started = time.perf_counter()
    with executor_from(executor, scheduler, workers) as pool, progress_bar("replications") as bar:
        task = bar.add_task(f"{sc.name}", total=replications)
        results = run_replications(sc, replications, seed=seed, workers=pool_workers(pool, workers), executor=pool,
                                   progress=lambda k: bar.advance(task, k), variants=variants,
                                   log_events=event_log, keep_clients=clients)
    wall = time.perf_counter() - started
    tables = {}
    draws = math.ceil(replications / per_draw) if posterior is not None else None
    results.parameters = parameters_text(posterior, draws, per_draw, fixed)
    extra = provenance(scenarios=[scenario], overrides=set_, posterior=posterior, draws=draws,
                       per_draw=per_draw if posterior is not None else None, seed=seed, replications=replications,
                       executor=executor, scheduler=scheduler, observed=str(observed) if observed else None)
    extra["parameters"] = results.parameters
    if variants is not None and replications >= 2 * per_draw:
        tables["variance.csv"] = variance_split(results, per_draw)
    write_results(results, out, wall, plots=plots, extra_manifest=extra, tables=tables, fmt=fmt, observed=points)
    console.print(summary_table(summarise(results), f"{sc.name}: mean and 95% CI over {replications} replications, "
                                                    f"{results.parameters}"))
    if "variance.csv" in tables:
        console.print(variance_table(tables["variance.csv"]))
    console.print(f"{replications} replications in {wall:.1f} s; results in [bold]{out}[/]")
