"""``bwsim sensitivity``: Morris screening of the free parameters of a calibration."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from .app import (command, console, default_out, executor_from, executor_option, fail, pool_workers, progress_bar,
                  scheduler_option, writable)
from .calibrate import config_name, stage_progress


@command("sensitivity")
def sensitivity_command(
    config: Path = typer.Argument(..., help="calibration YAML file (its free parameters and prior ranges)"),
    year: int = typer.Option(2022, "--year", help="outputs are read on 31 December of this year"),
    trajectories: int = typer.Option(20, "--trajectories", "-r", min=2, help="Morris trajectories"),
    replications: int = typer.Option(4, "--replications", "-n", min=1, help="replications per point (same for all)"),
    posterior: Optional[Path] = typer.Option(None, "--posterior", help="use the 5-95% posterior intervals as ranges"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="results folder (default: "
                                       "results/sensitivity-<name>, or -<name>-posterior with --posterior)"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="processes (default: all cores)"),
    plots: bool = typer.Option(True, help="write the PNG figure"),
    executor: str = executor_option(),
    scheduler: Optional[str] = scheduler_option(),
):
    """Morris elementary effects of the waitlist, occupied places and ready-to-leave residents to the free parameters.

    Example: bwsim sensitivity calibration/haarlem/calibrate.yaml --posterior calibration/haarlem/results/posterior.csv
    """
    from ..analysis import calibrate as cal
    from ..analysis import sensitivity as sens
    from ..report.calibration_report import write_morris
    from ..report.output import OutputError

    out = writable(out or default_out(f"sensitivity-{config_name(config)}" + ("-posterior" if posterior else "")))
    started = time.perf_counter()
    try:
        cfg = cal.load_config(config)
        ranges = sens.ranges_from_posterior(posterior, cfg.keys) if posterior else None
        sens.check_ranges(cfg, ranges, str(posterior) if posterior else None)
        with executor_from(executor, scheduler, workers) as pool, progress_bar("morris") as bar:
            frame = sens.morris(cfg, year, trajectories, replications=replications, ranges=ranges,
                                workers=pool_workers(pool, workers), progress=stage_progress(bar), executor=pool)
        manifest = {"config": str(config), "year": year, "trajectories": trajectories, "replications": replications,
                    "seed": cfg.method.seed, "posterior": str(posterior) if posterior else None,
                    "executor": executor, "scheduler": scheduler}
        write_morris(frame, out, plots, manifest)
    except (cal.CalibrationError, OutputError) as exc:
        fail(str(exc))
    table = Table(title=f"Morris screening, outputs on 31 December {year}",
                  caption="mu*: mean |elementary effect| = change over the parameter's range; sigma: interactions")
    for col in ("output", "parameter", "mu*", "± (95%)", "sigma", "mu", "rank"):
        table.add_column(col, justify="left" if col in ("output", "parameter") else "right")
    for r in frame.sort_values(["output", "rank"]).itertuples(index=False):
        table.add_row(r.output, r.parameter, f"{r.mu_star:.1f}", f"{r.mu_star_conf:.1f}", f"{r.sigma:.1f}",
                      f"{r.mu:+.1f}", str(r.rank))
    console.print(table)
    console.print(f"{time.perf_counter() - started:.0f} s; results in [bold]{out}[/]")
