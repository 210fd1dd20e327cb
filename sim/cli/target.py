"""``bwsim target``: the smallest value of a parameter that meets a condition in enough replications."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from .app import (NOT_REACHABLE, command, check_year, console, executor_from, executor_option, fail, first_guess_option,
                  load_mapping, pool_workers, posterior_option, progress_bar, scheduler_option,
                  swept_draws)


def _evaluations(low: float, high: float, integer: bool, tolerance: Optional[float]) -> int:
    """The most values bisection can try (the bar's total is that times the replications)."""
    width = (high - low) if integer else (high - low) / (tolerance or (high - low) / 1000)
    return 2 + max(0, math.ceil(math.log2(max(width, 1))))


@command("target")
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
    posterior: Optional[Path] = posterior_option(),
    first_guess: bool = first_guess_option(),
    per_draw: int = typer.Option(3, "--per-draw", "-k", min=1, help="with a posterior: replications per parameter draw"),
    executor: str = executor_option(),
    scheduler: Optional[str] = scheduler_option(),
):
    """Find the smallest value of a parameter for which metric(year) <= max in enough replications.

    On the scenario's calibration (every value tried takes the same posterior draws) unless --first-guess.

    Example: bwsim target scenarios/haarlem/halve-housing-thuis.yaml --param beschermd_thuis.share --no-integer
    --low 0 --high 1 --tolerance 0.01 --metric waitlist --year 2022 --max 178 --probability 0.8

    Exit code 3 when even --high does not meet the condition in enough replications (the goal is
    not reachable in the range: a result, not an error); 2 for bad input.
    """
    from ..experiment.sweep import ParameterError
    from ..experiment.target import TargetError, check_question, find_target

    data, calendar = load_mapping(scenario, set_)
    check_year(year, calendar)
    year = calendar.years[-1] if year is None else year
    try:
        check_question(data, param, low, high, metric, year, probability, replications, integer, tolerance,
                       str(scenario))
        posterior, draws, parameters = swept_draws(data, param, posterior, first_guess, replications, per_draw,
                                                   seed, list(set_), str(scenario))
        most = _evaluations(low, high, integer, tolerance)
        with executor_from(executor, scheduler, workers) as pool, progress_bar("replications") as bar:
            task = bar.add_task(f"replications ({replications} per value, at most {most} values)",
                                total=replications * most)
            ran = [0]

            def advance(k: int) -> None:
                ran[0] += k
                bar.advance(task, k)

            try:
                result = find_target(data, param, low, high, metric, max_value, year=year, probability=probability,
                                     replications=replications, seed=seed, integer=integer, tolerance=tolerance,
                                     workers=pool_workers(pool, workers), progress=advance, source=str(scenario),
                                     executor=pool, draws=draws, per_draw=per_draw)
            finally:  # bisection may need fewer values than the most: the bar ends full at what ran
                bar.update(task, total=max(ran[0], 1), completed=ran[0])
    except TargetError as exc:
        reachable = not str(exc).startswith("not reachable")
        fail(str(exc) + ("" if reachable else f" ({parameters})"), code=2 if reachable else NOT_REACHABLE)
    except ParameterError as exc:
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
    lines.append(f"Parameters: {parameters}.")
    console.print("\n".join(lines))
