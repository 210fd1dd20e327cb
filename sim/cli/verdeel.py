"""``bwsim verdeel``: budgets per municipality under the verdeelmodel against the simulated cost
of the clients each pays for. Parse, run the scenario (twice, split at the Wlz date too, when the
settings move clients to the Wlz), call :mod:`sim.policy.verdeel` and :mod:`sim.report.verdeel_report`,
print."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..policy.verdeel.regimes import REGIMES
from ..report.templating import LANGS
from .app import (calibrated_draws, calibration_of, command, console, executor_from, executor_option, fail,
                  first_guess_option, pool_workers, posterior_option, progress_bar, scheduler_option, set_keys,
                  writable)


def gap_table(a, year: int) -> Table:
    import numpy as np

    from ..experiment.replications import mean_ci
    from ..policy import verdeel as vd
    from ..report.verdeel_plots import regime_title

    k = a.years.index(year)
    low, high, _ = a.band()
    table = Table(title=f"Gap per municipality in {year}: {regime_title(a)} ({a.replications} replications)",
                  caption=f"€ million, {a.prices}; gap = budget − cost paid, mean [95% CI]; P(short): share of "
                          "replications with a negative gap; bold red: short with 95% confidence"
                          + (f"; over {len(a.variants)} variants: the range of the CIs under every key and budget "
                             "variant" if a.variants else ""))
    columns = ["municipality", "budget", "cost paid", "gap [95% CI]", "P(short)"]
    for column in columns + (["over the variants"] if a.variants else []):
        table.add_column(column, justify="left" if column == "municipality" else "right")
    gap, cost = vd.with_region(a.gap), vd.with_region(a.cost)
    budget = np.concatenate([a.budget, a.budget.sum(0, keepdims=True)])
    g_mean, g_lo, g_hi = (v[:, k] / 1e6 for v in mean_ci(gap))
    c_mean, c_lo, c_hi = (v[:, k] / 1e6 for v in mean_ci(cost))
    p = vd.probability_short(gap[:, :, k])
    for m, name in enumerate(a.municipalities + [vd.REGION]):
        text = f"{g_mean[m]:+.2f} [{g_lo[m]:+.2f}, {g_hi[m]:+.2f}]"
        band = [f"[{low[m, k] / 1e6:+.2f}, {high[m, k] / 1e6:+.2f}]"] if a.variants else []
        table.add_row(name, f"{budget[m, k] / 1e6:.2f}", f"{c_mean[m]:.2f} ± {(c_hi[m] - c_lo[m]) / 2:.2f}",
                      f"[bold red]{text}[/]" if g_hi[m] < 0 else text, f"{p[m]:.0%}", *band,
                      end_section=m == len(a.municipalities) - 1)
    return table


@command("verdeel")
def verdeel_command(
    scenario: Path = typer.Argument(..., help="scenario YAML file"),
    settings: Optional[Path] = typer.Option(None, "--settings", help="verdeel settings YAML "
                                            "(default: verdeel.yaml beside the scenario)"),
    regime: Optional[str] = typer.Option(None, "--regime", help=f"override: {' | '.join(REGIMES)}"),
    start_year: Optional[int] = typer.Option(None, "--start-year", help="override: first year of the ingroeipad "
                                             "(the money)"),
    responsibility_year: Optional[int] = typer.Option(None, "--responsibility-year",
                                                      help="override: new clients with their woonplaats from "
                                                           "1 January of this year (two_track; the cohort date)"),
    replications: int = typer.Option(30, "--replications", "-n", min=2, help="number of replications"),
    seed: int = typer.Option(1, "--seed", "-s", min=0, help="random seed"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="processes (default: all cores)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="folder (default results/verdeel-<scenario>-<regime>-<years>)"),
    year: Optional[int] = typer.Option(None, "--year", "-y", help="year of the overview and table (default: the last)"),
    set_: list[str] = typer.Option([], "--set", help="override a scenario key: key.path=value (repeatable)"),
    setting: list[str] = typer.Option([], "--setting", help="override a verdeel setting: key=value (repeatable)"),
    lang: str = typer.Option("en", "--lang", help=f"language of report.html and of the page per municipality "
                             f"(gemeenten/): {' | '.join(LANGS)}"),
    posterior: Optional[Path] = posterior_option(),
    first_guess: bool = first_guess_option(),
    per_draw: int = typer.Option(3, "--per-draw", "-k", min=1, help="with a posterior: replications per parameter draw"),
    executor: str = executor_option(),
    scheduler: Optional[str] = scheduler_option(),
):
    """Budgets per municipality under the verdeelmodel against what their clients cost, with the gap's CI
    and its range over key and budget variants (default: the region's two tracks from 2025).

    Writes verdeel.csv, sensitivity.csv, report.md, a self-contained report.html, a one-page summary per
    municipality (gemeenten/, prints on A4; --lang nl for the wethouder), the figures and manifest.json.
    A scenario with a calibration (calibration.posterior) runs on its calibrated parameters, as bwsim run
    does; --first-guess on the values written in it.
    Example: bwsim verdeel scenarios/haarlem/baseline.yaml --set end=2033-01-01 -n 30 --seed 1 --lang nl
    """
    from ..config.scenario import ScenarioError
    from ..analysis.calibrate import parameters_text
    from ..experiment.replications import posterior_variants, run_replications
    from ..policy import verdeel as vd
    from ..report.verdeel_report import write_outputs

    if lang not in LANGS:
        fail(f"--lang {lang}: expected one of {', '.join(LANGS)}")
    settings = settings or scenario.parent / "verdeel.yaml"
    overrides = list(setting)
    if regime is not None:
        overrides.append(f"regime={regime}")
    if start_year is not None:
        overrides.append(f"start_year={start_year}")
    if responsibility_year is not None:
        overrides.append(f"responsibility_year={responsibility_year}")
    try:
        cfg = vd.load_settings(settings, overrides)
        sc, table, notes = vd.prepare(scenario, cfg, set_, year)
    except (vd.VerdeelError, ScenarioError) as exc:
        fail(str(exc))
    years = (f"{cfg.responsibility}-{cfg.start_year}" if cfg.regime == "two_track"
             and cfg.responsibility != cfg.start_year else str(cfg.start_year))
    named = posterior is not None
    posterior, _ = calibration_of([sc], posterior, first_guess, None)
    out = writable(out or Path("results") / f"verdeel-{scenario.stem}-{cfg.regime}-{years}"
                   f"{'--first-guess' if first_guess else ''}")
    split = vd.wlz_scenario(sc, cfg)  # the same run split at the Wlz date, when the Wlz move needs it
    draws, fixed = (calibrated_draws(sc, posterior, named, replications, per_draw, seed, set_keys(set_))
                    if posterior is not None else (None, []))
    parameters = parameters_text(posterior, len(draws) if draws else None, per_draw, fixed)
    notes = [f"Parameters: {parameters}."] + list(notes)
    started = time.perf_counter()
    with executor_from(executor, scheduler, workers) as pool, progress_bar("replications") as bar:
        runs = []
        for scen, label in ((sc, sc.name), (split, f"{sc.name}, split at the Wlz date")):
            if scen is None:
                continue
            # the same draws for the run and its split, so the two stay the same clients
            variants = posterior_variants(scen, draws, per_draw)[:replications] if draws else None
            task = bar.add_task(label, total=replications)
            runs.append(run_replications(scen, replications, seed=seed, workers=pool_workers(pool, workers),
                                         executor=pool, progress=lambda k, task=task: bar.advance(task, k),
                                         variants=variants))
    results, wlz_results = runs[0], (runs[1] if len(runs) > 1 else None)
    try:
        assessment = vd.assess(results, cfg, table, notes, wlz_results)
        year = assessment.years[-1] if year is None else year
        write_outputs(assessment, out, year, extra={"scenario_file": str(scenario), "settings_file": str(settings),
                                                     "scenario_overrides": list(set_), "scenario_hash": sc.digest(),
                                                     "executor": executor, "scheduler": scheduler,
                                                     "posterior": str(posterior) if posterior else None,
                                                     "parameters": parameters, "draws": len(draws) if draws else None,
                                                     "per_draw": per_draw if draws else None, "fixed": fixed},
                      lang=lang)
    except vd.VerdeelError as exc:
        fail(str(exc))
    console.print(gap_table(assessment, year))
    if assessment.variants:
        robust = assessment.robustness(year)
        holds = [f"{r.municipality} ({r.conclusion})" for r in robust.itertuples() if not r.changes_under]
        changes = [f"{r.municipality} ({r.conclusion}; not under {'; '.join(r.changes_under)})"
                   for r in robust.itertuples() if r.changes_under]
        console.print(f"{year}, the 95% conclusion under all {len(assessment.variants)} key and budget variants: "
                      f"holds for {', '.join(holds) or 'none'}; changes for {', '.join(changes) or 'none'}")
    for note in notes:
        console.print(f"note: {escape(note)}")
    console.print(f"{replications} replications in {time.perf_counter() - started:.1f} s; "
                  f"report in [bold]{escape(str(out / 'report.html'))}[/], a page per municipality in "
                  f"{escape(str(out / 'gemeenten' / 'index.html'))}")
