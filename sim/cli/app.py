"""The ``bwsim`` app and what every command shares: failing with one line, checking an output
folder, loading a scenario, a progress bar. Heavy libraries are imported by the commands, when run."""

from __future__ import annotations

import functools
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Simulate beschermd wonen capacity, waitlists and uitstroom from scenario YAML files.")
console = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True, emoji=False)
    raise typer.Exit(code)


def writable(out: Path) -> Path:
    """The results folder, if bwsim may write it (checked before any work), else exit 2. What an
    interrupted earlier run left behind is cleaned up first, and said."""
    from ..report.output import OutputError, check_target, recover

    try:
        target = check_target(out)
        for note in recover(target):
            err.print(f"note: {escape(note)}", highlight=False, soft_wrap=True)
        return target
    except OutputError as exc:
        fail(str(exc))


def command(name: str | None = None):
    """``app.command`` for a bwsim command: a results folder that cannot be written after all (a
    full disk, a folder made read-only meanwhile) is one line and exit 2, not a traceback."""
    def register(function):
        @functools.wraps(function)
        def guarded(*args, **kwargs):
            from ..report.output import OutputError

            try:
                return function(*args, **kwargs)
            except OutputError as exc:
                fail(str(exc))

        return app.command(name)(guarded)

    return register


def load_scenario(path: Path, overrides: list[str]):
    """The validated scenario, or exit 2 with one line."""
    from ..config import scenario as scenario_mod

    try:
        return scenario_mod.load(path, overrides)
    except scenario_mod.ScenarioError as exc:
        fail(str(exc))


def progress_bar(description: str) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=err)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "run"


def load_mapping(path: Path, overrides: list[str]) -> tuple[dict, object]:
    """The scenario mapping (extends and --set applied), validated once as it stands."""
    from ..config.scenario import ScenarioError, from_mapping, load_data
    from ..model.calendar import Calendar

    try:
        data = load_data(path, overrides)
        sc = from_mapping(data, str(path))
    except ScenarioError as exc:
        fail(str(exc))
    return data, Calendar(sc.start, sc.end)


def check_year(year: int | None, calendar) -> None:
    if year is not None and year not in calendar.years:
        fail(f"--year {year}: not in the run ({calendar.years[0]}–{calendar.years[-1]})")


def executor_option():
    return typer.Option("process", "--executor", help="where replications run: process (this machine) or dask")


def scheduler_option():
    return typer.Option(None, "--scheduler", help="Dask scheduler address tcp://host:port (default: a local cluster)")


@contextmanager
def executor_from(kind: str, scheduler: str | None, workers: int | None) -> Iterator:
    """The executor the flags ask for, shut down on the way out: ``None`` for the local process
    pool (the library owns it), a Dask executor for ``--executor dask``. Exit 2 on bad flags."""
    from ..experiment.executors import KINDS, open_executor

    if kind not in KINDS:
        fail(f"--executor {kind}: expected one of {', '.join(KINDS)}")
    if scheduler is not None and kind != "dask":
        fail("--scheduler needs --executor dask")
    if kind == "process":
        yield None
        return
    if scheduler is not None and not re.fullmatch(r"(tcp|tls|inproc|ucx)://[^\s/]+(:\d{1,5})?/?", scheduler):
        fail(f"--scheduler {scheduler!r}: expected an address such as tcp://host:8786")
    try:
        pool = open_executor("dask", workers=workers, scheduler=scheduler)
    except (RuntimeError, OSError, ValueError, TimeoutError) as exc:
        fail(f"--scheduler {scheduler}: cannot reach the Dask scheduler: {exc}" if scheduler
             else f"cannot start the Dask executor: {exc}")
    try:
        yield pool
    finally:
        pool.shutdown()


def pool_workers(pool, workers: int | None) -> int | None:
    """Workers to plan the work for: the executor's slots when there is one."""
    from ..experiment.executors import slots

    return slots(pool) if pool is not None else workers
