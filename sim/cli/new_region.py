"""``bwsim new-region``: write a complete, commented scenario for a new region."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from .app import command, console, fail


def _date(flag: str, text: str):
    import datetime as dt

    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        fail(f"{flag} {text}: expected a date YYYY-MM-DD, e.g. 2025-01-01")


def _municipalities(specs: list[str]) -> dict[str, float]:
    shares: dict[str, float] = {}
    for spec in specs:
        name, sep, share = spec.rpartition("=")
        name = name.strip()
        if not sep or not name:
            fail(f"--municipality {spec}: expected NAME=SHARE, e.g. --municipality Noord=0.6")
        try:
            value = float(share)
        except ValueError:
            fail(f"--municipality {spec}: expected a share after '=', e.g. {name}=0.6")
        if name in shares:
            fail(f"--municipality {name}: given twice; give each municipality once")
        shares[name] = value
    return shares


def default_file(name: str) -> Path:
    return Path((re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "region") + ".yaml")


@command("new-region")
def new_region(
    name: str = typer.Argument(..., help="the region's name, e.g. \"Regio Voorbeeld\""),
    places: int = typer.Option(..., "--places", min=1, help="BW places in the region on the start date"),
    waiting: int = typer.Option(..., "--waiting", min=0, help="clients on the waitlist on the start date"),
    start: str = typer.Option(..., "--start", help="start date of the run, YYYY-MM-DD"),
    end: Optional[str] = typer.Option(None, "--end", help="end date, YYYY-MM-DD (default: ten years after --start)"),
    municipality: list[str] = typer.Option([], "--municipality", help="NAME=SHARE of new clients, repeatable "
                                           "(shares sum to 1; default: the region itself)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="the file to write (default: NAME.yaml here); "
                                       "never overwritten"),
):
    """Write a complete, commented scenario for a new region, its assumptions marked to replace.

    The numbers given are marked '# given'; every other number is marked '# assumption: ...'.
    Example: bwsim new-region "Regio Voorbeeld" --places 120 --waiting 40 --start 2025-01-01 --municipality Noord=0.6 --municipality Zuid=0.4
    """
    from ..config.new_region import NewRegionError, region_yaml

    target = default_file(name) if out is None else out
    if target.exists() or target.is_symlink():
        fail(f"{target}: exists; new-region never overwrites a file (give another --out, or remove it)")
    try:
        text = region_yaml(name, places, waiting, _date("--start", start), None if end is None else _date("--end", end),
                           _municipalities(municipality), file=shlex.quote(str(target)))
    except NewRegionError as exc:
        fail(str(exc))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("x", encoding="utf-8") as f:  # "x": never replaces a file made meanwhile
            f.write(text)
    except FileExistsError:
        fail(f"{target}: exists; new-region never overwrites a file (give another --out, or remove it)")
    except OSError as exc:
        fail(f"{target}: cannot write: {exc.strerror or exc}")
    assumptions = sum("assumption" in line for line in text.splitlines())
    console.print(f"wrote {escape(str(target))}: {escape(name.strip())}, {places} places, {waiting} waiting; "
                  f"{assumptions} comments mark assumptions ('# assumption: ...') to replace.", highlight=False)
    console.print(f"next: bwsim check {escape(str(target))}\n"
                  f"      bwsim solve steady-state {escape(str(target))} --waitlist {waiting}", highlight=False)
