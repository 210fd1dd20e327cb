"""``bwsim sweep``: one parameter over a range of values, a metric plotted against it."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from .app import (command, check_year, console, default_out, executor_from, executor_option, fail, first_guess_option,
                  load_mapping, pool_workers, posterior_option, progress_bar, scheduler_option, swept_draws,
                  writable)


@command("sweep")
def sweep_command(
    scenario: Path = typer.Argument(..., help="scenario YAML file"),
    param: str = typer.Option(..., "--param", "-p", help="KEY=start:stop:step (stop included) or KEY=v1,v2,..."),
    metric: str = typer.Option("waitlist", "--metric", "-m", help="yearly metric to plot"),
    year: Optional[int] = typer.Option(None, "--year", "-y", help="year (default: the mean over the years)"),
    replications: int = typer.Option(30, "--replications", "-n", min=2, help="replications per value"),
    seed: int = typer.Option(1, "--seed", "-s", min=0, help="random seed, the same for every value"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="processes (default: all cores)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="folder (default results/sweep-<scenario>-<key>, "
                                       "with the --set overrides)"),
    set_: list[str] = typer.Option([], "--set", help="override a key: key.path=value (repeatable)"),
    posterior: Optional[Path] = posterior_option(),
    first_guess: bool = first_guess_option(),
    per_draw: int = typer.Option(3, "--per-draw", "-k", min=1, help="with a posterior: replications per parameter draw"),
    executor: str = executor_option(),
    scheduler: Optional[str] = scheduler_option(),
):
    """Run a scenario at each value of a parameter (same seed) and plot a metric against it.

    On the scenario's calibration (every value takes the same posterior draws) unless --first-guess.

    Writes sweep.csv, sweep.png and manifest.json. Example: bwsim sweep scenarios/haarlem/halve-intramural.yaml
    --param uitstroom.housing.contingent.extra_per_year=0:60:10 --metric ready_to_leave --year 2022
    """
    from ..experiment.sweep import ParameterError, check_sweep, parse_range, run_sweep
    from ..report.blocks import fmt
    from ..report.output import provenance
    from ..report.sweep_report import write_sweep

    try:
        key, values = parse_range(param)
    except ParameterError as exc:
        fail(str(exc))
    data, calendar = load_mapping(scenario, set_)
    check_year(year, calendar)
    posterior, draws, parameters = swept_draws(data, key, posterior, first_guess, replications, per_draw, seed,
                                               list(set_), str(scenario))
    out = writable(out or default_out(f"sweep-{scenario.stem}-{key.split('.')[-1]}",
                                      list(set_) + (["first-guess"] if first_guess else [])))
    try:
        check_sweep(data, key, values, metric, year, str(scenario))
        with executor_from(executor, scheduler, workers) as pool, progress_bar("replications") as bar:
            task = bar.add_task(f"{len(values)} values", total=replications * len(values))
            sweep = run_sweep(data, key, values, metric, year=year, replications=replications, seed=seed,
                              workers=pool_workers(pool, workers), progress=lambda k: bar.advance(task, k),
                              source=str(scenario), executor=pool, draws=draws, per_draw=per_draw)
    except ParameterError as exc:
        fail(str(exc))
    sweep.parameters = parameters
    write_sweep(sweep, out, provenance(scenarios=[scenario], overrides=set_, seed=seed, replications=replications,
                                       executor=executor, scheduler=scheduler, posterior=posterior,
                                       draws=len(draws) if draws else None, per_draw=per_draw if draws else None,
                                       parameters=parameters))
    frame = sweep.frame()
    table = Table(title=f"{sweep.what} against {key} ({replications} replications per value, {parameters})")
    for column in ("value", "mean [95% CI]", "5–95% of replications"):
        table.add_column(column, justify="right")
    for _, row in frame.iterrows():
        table.add_row(f"{row.value:g}", f"{fmt(row['mean'])} [{fmt(row.ci_low)}, {fmt(row.ci_high)}]",
                      f"{fmt(row.p5)}–{fmt(row.p95)}")
    console.print(table)
    console.print(f"results in [bold]{out}[/] (sweep.csv, sweep.png, manifest.json)")
