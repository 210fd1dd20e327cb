"""The ``bwsim`` app and what every command shares: failing with one line, checking an output
folder and naming the default one, loading a scenario, a progress bar, the command line for the
manifest. Heavy libraries are imported by the commands, when run.

Exit codes: 0 done; 2 bad input or an output folder that may not be written (one line, nothing
written); 3 a question with no answer in its range (``bwsim target``: the goal is not reachable),
which is a result, not an error of use."""

from __future__ import annotations

import functools
import hashlib
import math
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

app = typer.Typer(add_completion=True, no_args_is_help=True)
console = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True)

#: Exit code of a question answered "no answer in the range" (``target``): a result, not a usage error.
NOT_REACHABLE = 3


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        console.print(f"bwsim {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main_options(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                              help="print the version and exit")) -> None:
    """Simulate beschermd wonen capacity, waitlists and uitstroom from scenario YAML files.

    Example: bwsim run scenarios/haarlem/baseline.yaml -n 30 --seed 1 (bwsim COMMAND --help for each command).

    Exit codes: 0 done; 2 bad input or an output folder that may not be written (nothing written); 3 bwsim target: the goal is not reachable in the range (a result, not an error).
    """


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
    full disk, a folder made read-only meanwhile) is one line and exit 2, not a traceback; every
    manifest written while it runs records the command line (``sys.argv`` as given)."""
    def register(function):
        @functools.wraps(function)
        def guarded(*args, **kwargs):
            from ..report.output import OutputError, invocation

            try:
                with invocation(sys.argv):
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
    return re.sub(r"[^A-Za-z0-9_.=+-]+", "_", text).strip("_") or "run"


#: The longest readable part of a default folder name that says what was overridden.
SUFFIX_LENGTH = 40


def default_out(name: str, overrides: list[str] | tuple[str, ...] = (), posterior: Path | None = None) -> Path:
    """``results/<name>``, with what changes the run added (``--set``, ``--posterior``), so that a
    run with overrides never replaces the plain run's folder: ``results/baseline--waitlist.policy=central``.
    A long or lossy suffix (or a posterior, named by its file's stem) is cut and made unique with a
    short hash of the overrides and the posterior's path."""
    parts = [o.strip() for o in overrides]
    if not parts and posterior is None:
        return Path("results") / slug(name)
    text = "+".join(parts + ([f"posterior={Path(posterior).stem}"] if posterior is not None else []))
    suffix = slug(text)
    if suffix != text or len(suffix) > SUFFIX_LENGTH or posterior is not None:
        digest = hashlib.sha1("\n".join(parts + [str(posterior)]).encode()).hexdigest()[:6]
        suffix = f"{suffix[:SUFFIX_LENGTH].rstrip('_.-+')}-{digest}"
    return Path("results") / f"{slug(name)}--{suffix}"


def format_option():
    return typer.Option("csv", "--format", help="tables as csv or parquet (parquet: pandas with pyarrow)")


def check_format(fmt: str) -> str:
    from ..report.output import FORMATS

    if fmt not in FORMATS:
        fail(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    return fmt


def observed_option():
    return typer.Option(None, "--observed", help="observations CSV (as calibration/haarlem/observed.csv): draw "
                        "the observed numbers on the figures of their metric")


def first_guess_option():
    return typer.Option(False, "--first-guess", help="use the scenario's own first-guess values, not the "
                        "parameters of its calibration (calibration.posterior)")


def posterior_option():
    return typer.Option(None, "--posterior", help="posterior.csv of a calibration: draw parameters across "
                        "replications (its columns override the scenario's values); default: the scenario's "
                        "calibration.posterior")


def _shared(scenarios, key: str, what: str) -> Path | None:
    """The one ``calibration.<key>`` path that every scenario names, or None when none does."""
    values = {getattr(sc.calibration, key) for sc in scenarios}
    if values == {None}:
        return None
    if len(values) > 1:
        fail(f"calibration.{key}: the scenarios name different {what} ({', '.join(sorted(map(str, values)))}); "
             f"give --{key} FILE" + (" or --first-guess" if key == "posterior" else ""))
    return Path(values.pop())


def calibration_of(scenarios, posterior: Path | None, first_guess: bool,
                   observed: Path | None) -> tuple[Path | None, Path | None]:
    """The posterior to draw parameters from and the observations to draw on the figures: what the
    command line says, else what the scenarios' ``calibration:`` block names."""
    if posterior is not None and first_guess:
        fail("--posterior and --first-guess: give one or the other")
    if posterior is None and not first_guess:
        posterior = _shared(scenarios, "posterior", "posteriors")
        if posterior is not None and not posterior.is_file():
            fail(f"calibration.posterior: {posterior} does not exist; run bwsim calibrate, or give --first-guess")
    if observed is None:
        observed = _shared(scenarios, "observed", "observation files")
    return posterior, observed


def overlaps(key: str, column: str) -> bool:
    """Whether setting ``key`` touches the posterior's ``column`` (the same key, or one inside the other)."""
    return key == column or column.startswith(key + ".") or key.startswith(column + ".")


def calibrated_draws(sc, posterior: Path, named: bool, replications: int, per_draw: int, seed: int,
                     changed: Sequence[tuple[str, str]] = ()) -> tuple[list[dict], list[str]]:
    """The parameter sets of ``posterior`` for ``replications`` (replication r takes draw r // per_draw),
    each checked against ``sc`` before anything runs, and the fitted keys left out of them.

    ``changed``: (key, flag) pairs the command line sets or varies. With the scenario's own calibration
    such a key keeps the user's value: its column is left out of every draw. With a posterior ``named``
    on the command line it is refused, since that file was asked for whole."""
    from ..analysis.calibrate import CalibrationError, parameter_keys, read_posterior, sample_posterior

    try:
        columns = parameter_keys(read_posterior(posterior))
        fixed = []
        for key, flag in changed:
            key = ".".join(p for p in key.strip().split(".") if p)
            for column in columns:
                if overlaps(key, column):
                    if named:
                        fail(f"{flag} {key}: the --posterior {posterior} sets {column} in every replication, "
                             "which would override it; drop one of them, or give --first-guess")
                    fixed.append(column)
        fixed = sorted(set(fixed))
        draws = sample_posterior(posterior, math.ceil(replications / per_draw), seed, scenarios=[sc],
                                 labels=[str(sc.name)], leave_out=fixed)
    except CalibrationError as exc:
        fail(str(exc))
    return draws, fixed


def set_keys(overrides: Sequence[str]) -> list[tuple[str, str]]:
    """The keys of ``--set key=value`` assignments, as (key, "--set")."""
    return [(o.split("=", 1)[0], "--set") for o in overrides]


def swept_draws(data: dict, key: str, posterior: Path | None, first_guess: bool, replications: int,
                per_draw: int, seed: int, overrides: list[str], source: str) -> tuple[Path | None, list | None, str]:
    """For sweep and target: the posterior the scenario names (or ``--posterior``), its draws with the
    swept key and any ``--set`` key left to the command line (see :func:`calibrated_draws`), and the
    text that says which parameters were used."""
    from ..analysis.calibrate import parameters_text
    from ..config import scenario as scenario_mod

    try:
        sc = scenario_mod.from_mapping(data, source)
    except scenario_mod.ScenarioError as exc:
        fail(str(exc))
    named = posterior is not None
    posterior, _ = calibration_of([sc], posterior, first_guess, None)
    if posterior is None:
        return None, None, parameters_text(None)
    draws, fixed = calibrated_draws(sc, posterior, named, replications, per_draw, seed,
                                    [(key, "--param")] + set_keys(overrides))
    return posterior, draws, parameters_text(posterior, len(draws), per_draw, fixed)


def load_observed(path: Path | None) -> list:
    """The observations of ``--observed`` (nothing when not given), or exit 2 with one line."""
    if path is None:
        return []
    from ..analysis.calibrate import CalibrationError, read_observations

    try:
        return read_observations(path)
    except CalibrationError as exc:
        fail(str(exc))


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
