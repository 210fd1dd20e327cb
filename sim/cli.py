"""The ``bwsim`` command line: parse, call the library, print. Nothing else."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from . import scenario as scenario_mod
from .executors import KINDS, open_executor, slots
from .experiment import posterior_variants, run_replications, summarise
from .output import write_results

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Simulate beschermd wonen capacity, waitlists and uitstroom from scenario YAML files.")
console = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True)

TABLE_METRICS = (
    ("waitlist", "waitlist"),
    ("occupied", "occupied"),
    ("ready_to_leave", "ready to leave"),
    ("admissions", "admissions"),
    ("exits", "exits"),
    ("wait_placed_median", "median wait (mo)"),
)


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True, emoji=False)
    raise typer.Exit(code)


def writable(out: Path) -> Path:
    """The results folder, if bwsim may write it (checked before any work), else exit 2."""
    from .output import OutputError, check_target

    try:
        return check_target(out)
    except OutputError as exc:
        fail(str(exc))


def load_scenario(path: Path, overrides: list[str]) -> scenario_mod.Scenario:
    try:
        return scenario_mod.load(path, overrides)
    except scenario_mod.ScenarioError as exc:
        fail(str(exc))


def progress_bar(description: str) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=err)


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


def posterior_scenarios(sc: scenario_mod.Scenario, posterior: Path, replications: int, per_draw: int,
                        seed: int) -> list[scenario_mod.Scenario]:
    """One scenario per replication from a calibration's posterior (replication r: draw r // per_draw)."""
    from . import calibrate

    if replications % per_draw:
        fail(f"--replications {replications}: with --posterior it must be a multiple of --per-draw "
             f"{per_draw} (each parameter draw gets {per_draw} replications)")
    draws = calibrate.sample_posterior(posterior, math.ceil(replications / per_draw), seed)
    try:
        return posterior_variants(sc, draws, per_draw)[:replications]
    except scenario_mod.ScenarioError as exc:
        fail(f"{posterior}: its columns do not fit the scenario: {exc}")


def variance_table(split) -> Table:
    last = split[split["year"] == split["year"].max()]
    table = Table(title=f"Variance in {int(last['year'].iloc[0])}: parameter vs stochastic (law of total variance)")
    for col in ("metric", "mean", "sd total", "sd parameter", "sd stochastic", "parameter share"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for r in last.itertuples(index=False):
        table.add_row(r.metric, f"{r.mean:.1f}", f"{r.total_var ** 0.5:.1f}", f"{r.parameter_var ** 0.5:.1f}",
                      f"{r.stochastic_var ** 0.5:.1f}", f"{r.parameter_share:.0%}")
    return table


@app.command()
def run(
    scenario: Path = typer.Argument(..., help="scenario YAML file"),
    replications: int = typer.Option(30, "--replications", "-n", min=1, help="number of replications"),
    seed: int = typer.Option(1, "--seed", "-s", min=0, help="random seed"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="processes (default: all cores)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="results folder (default results/<scenario>)"),
    set_: list[str] = typer.Option([], "--set", help="override a key: key.path=value (repeatable)"),
    plots: bool = typer.Option(True, help="write PNG plots"),
    executor: str = typer.Option("process", "--executor", help=f"where replications run: {' or '.join(KINDS)}"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler",
                                            help="Dask scheduler address tcp://host:port (default: a local cluster)"),
    posterior: Optional[Path] = typer.Option(None, "--posterior",
                                             help="posterior.csv of a calibration: draw parameters across replications"),
    per_draw: int = typer.Option(3, "--per-draw", "-k", min=1, help="with --posterior: replications per parameter draw"),
    event_log: bool = typer.Option(False, "--event-log", help="also write events.csv: one row per client state change"),
    clients: bool = typer.Option(False, "--clients", help="also write clients.csv: one record per client journey"),
):
    """Run N replications of a scenario and write series.csv, summary.csv, manifest.json and plots."""
    from .calibrate import CalibrationError
    from .sensitivity import variance_split

    if executor not in KINDS:
        fail(f"--executor {executor}: expected one of {', '.join(KINDS)}")
    if scheduler and executor != "dask":
        fail("--scheduler needs --executor dask")
    sc = load_scenario(scenario, set_)
    out = writable(out or Path("results") / scenario.stem)
    variants = None
    if posterior is not None:
        try:
            variants = posterior_scenarios(sc, posterior, replications, per_draw, seed)
        except CalibrationError as exc:
            fail(str(exc))
    started = time.perf_counter()
    pool = None
    if executor == "dask":
        try:
            pool = open_executor("dask", workers=workers, scheduler=scheduler)
        except (RuntimeError, OSError) as exc:
            fail(f"cannot start the Dask executor: {exc}")
    try:
        with progress_bar("replications") as bar:
            task = bar.add_task(f"{sc.name}", total=replications)
            results = run_replications(sc, replications, seed=seed,
                                       workers=slots(pool) if pool else workers, executor=pool,
                                       progress=lambda k: bar.advance(task, k), variants=variants,
                                       log_events=event_log, keep_clients=clients)
    finally:
        if pool is not None:
            pool.shutdown()
    wall = time.perf_counter() - started
    tables, extra = {}, {"executor": executor, "scheduler": scheduler}
    if variants is not None:
        tables["variance.csv"] = variance_split(results, per_draw)
        extra |= {"posterior": str(posterior), "replications_per_draw": per_draw}
    write_results(results, out, wall, plots=plots, extra_manifest=extra, tables=tables)
    console.print(summary_table(summarise(results), f"{sc.name}: mean and 95% CI over {replications} replications"))
    if variants is not None:
        console.print(variance_table(tables["variance.csv"]))
    console.print(f"{replications} replications in {wall:.1f} s; results in [bold]{out}[/]")


@app.command()
def check(scenario: Path = typer.Argument(..., help="scenario YAML file"),
          set_: list[str] = typer.Option([], "--set", help="override a key: key.path=value")):
    """Validate a scenario and print it as resolved."""
    sc = load_scenario(scenario, set_)
    console.print_json(sc.model_dump_json())


def _register_commands() -> None:
    """Import every module of ``sim.commands``; each adds its commands to ``app``."""
    import importlib
    import pkgutil

    from . import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{info.name}")


_register_commands()


def main() -> None:  # pragma: no cover - console script entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
