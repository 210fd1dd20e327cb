"""``bwsim solve steady-state``: the inflow (or withdrawal rate) that keeps the waitlist at a length."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from .app import app, console, executor_from, executor_option, fail, load_mapping, pool_workers, progress_bar, \
    scheduler_option

solve_app = typer.Typer(no_args_is_help=True, help="Solve a scenario for a value: the steady state of the waitlist.\n\n"
                        "Example: bwsim solve steady-state scenarios/haarlem/baseline.yaml --waitlist 150 -n 10")
app.add_typer(solve_app, name="solve")


def _value(value: float) -> str:
    return f"{value:g}"


@solve_app.command("steady-state")
def steady_state(
    scenario: Path = typer.Argument(..., help="scenario YAML file"),
    waitlist: float = typer.Option(..., "--waitlist", help="the length of the list to keep"),
    solve_for: str = typer.Option("inflow", "--solve-for", help="inflow (inflow.per_year) or withdrawal "
                                  "(waitlist.withdrawal_per_year)"),
    replications: int = typer.Option(30, "--replications", "-n", min=2, help="replications per value tried"),
    years: int = typer.Option(10, "--years", min=1, help="years to run from the start; the level is measured "
                              "over the second half, the drift shown for every year"),
    tolerance: float = typer.Option(0.01, "--tolerance", help="stop when the level is within this share of "
                                    "--waitlist"),
    max_evaluations: int = typer.Option(12, "--max-evaluations", min=2, help="at most this many values tried"),
    seed: int = typer.Option(1, "--seed", "-s", min=0, help="random seed, the same for every value"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="processes (default: all cores)"),
    set_: list[str] = typer.Option([], "--set", help="override a key: key.path=value (repeatable)"),
    executor: str = executor_option(),
    scheduler: Optional[str] = scheduler_option(),
):
    """The inflow (or withdrawal rate) that keeps the waitlist at --waitlist, and its drift year by year.

    The level is the mean waitlist over the second half of --years years, mean over the replications;
    every value is run with the same seed (common random numbers).
    Example: bwsim solve steady-state scenarios/haarlem/baseline.yaml --waitlist 150 -n 10
    (then --solve-for withdrawal for the withdrawal rate instead of the inflow)
    """
    from ..experiment.steady_state import SteadyStateError, UNKNOWNS, check_question, solve_steady_state
    from ..experiment.sweep import ParameterError

    data, _ = load_mapping(scenario, set_)
    try:
        check_question(data, waitlist, solve_for, replications, years, tolerance, str(scenario))
        with executor_from(executor, scheduler, workers) as pool, progress_bar("replications") as bar:
            task = bar.add_task("replications run", total=None)
            result = solve_steady_state(data, waitlist, solve_for, replications=replications, seed=seed, years=years,
                                        tolerance=tolerance, max_evaluations=max_evaluations,
                                        workers=pool_workers(pool, workers), progress=lambda k: bar.advance(task, k),
                                        source=str(scenario), executor=pool)
    except (SteadyStateError, ParameterError) as exc:
        fail(str(exc))
    key = UNKNOWNS[solve_for][0]
    first, last = result.window
    unit = " a year" if solve_for == "inflow" else " per year"

    console.print(f"{escape(key)} for a waitlist of {waitlist:g}: the mean list from {first} to {last} (the second "
                  f"half of {years} years), mean over {replications} replications, seed {seed} for every value",
                  highlight=False)
    tried = Table()
    for column in (key, "mean list", "95% CI", f"vs {waitlist:g}", ""):
        tried.add_column(escape(column), justify="right")
    for t in sorted(result.trials, key=lambda t: t.value):
        tried.add_row(f"{t.value:g}", f"{t.mean:.1f}", f"{t.low:.1f}–{t.high:.1f}",
                      f"{(t.mean - waitlist) / waitlist:+.1%}", "[bold]answer[/]" if t.value == result.answer else "")
    console.print(tried)

    at = result.at_answer
    lines = [f"{escape(key)} = [bold]{_value(result.answer)}[/]{unit}: the mean list from {first} to {last} is "
             f"{at.mean:.1f} (95% CI {at.low:.1f}–{at.high:.1f}) for a target of {waitlist:g}."]
    spread = result.uncertainty
    if spread is not None and math.isfinite(spread):
        lines.append(f"Given that CI, the answer is known to about ±{spread:.2g}{unit} (more replications, -n, "
                     "narrow it).")
    if not result.converged:
        lines.append(f"[bold]Not within {tolerance:.0%} of {waitlist:g}[/] after {len(result.trials)} values: "
                     "this is the closest tried (more values: --max-evaluations; less noise: -n).")
    lines.append(f"Use it: --set {escape(key)}={_value(result.answer)}")
    console.print("\n".join(lines), highlight=False)

    console.print(f"\nDrift at {escape(key)}={_value(result.answer)}: the waitlist on 31 December, mean and 95% CI "
                  f"over {replications} replications", highlight=False)
    drift = Table()
    for column in ("year", "waitlist", "95% CI", f"vs {waitlist:g}"):
        drift.add_column(column, justify="right")
    for year, mean, low, high in result.drift():
        drift.add_row(str(year), f"{mean:.1f}", f"{low:.1f}–{high:.1f}", f"{(mean - waitlist) / waitlist:+.1%}")
    console.print(drift)
    slope, low, high = result.trend()
    verdict = (f"Trend: {slope:+.2f} a year (95% CI {low:+.2f} to {high:+.2f}); the largest yearly deviation from "
               f"{waitlist:g} is {result.largest_deviation():.1%}.")
    if math.isfinite(low) and low <= 0 <= high:
        verdict += " Stable: the trend is not distinguishable from zero."
    elif math.isfinite(low):
        verdict += (f" Not stable over {years} years: the list drifts {'up' if slope > 0 else 'down'} by about "
                    f"{abs(slope):.1f} a year (the level is reached only late, or the scenario changes over time).")
    console.print(verdict, highlight=False)
