"""``bwsim check``: validate a scenario and print it as resolved."""

from __future__ import annotations

from pathlib import Path

import typer

from .app import command, console, load_scenario


@command()
def check(scenario: Path = typer.Argument(..., help="scenario YAML file"),
          set_: list[str] = typer.Option([], "--set", help="override a key: key.path=value")):
    """Validate a scenario and print it as resolved."""
    sc = load_scenario(scenario, set_)
    console.print_json(sc.model_dump_json())
