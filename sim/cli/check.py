"""``bwsim check``: validate a scenario and print it as resolved (YAML, or JSON with ``--json``)."""

from __future__ import annotations

from pathlib import Path

import typer

from .app import command, console, load_scenario


def to_yaml(data: dict) -> str:
    """A resolved scenario as YAML in the scenario's key order; text over several lines as a block."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper, value: str):  # text with line breaks as a block: literal, or folded when only ending in one
        style = None if "\n" not in value else ">" if "\n" not in value.rstrip("\n") else "|"
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=100)


@command()
def check(scenario: Path = typer.Argument(..., help="scenario YAML file"),
          set_: list[str] = typer.Option([], "--set", help="override a key: key.path=value (repeatable)"),
          json_: bool = typer.Option(False, "--json", help="print JSON instead of YAML")):
    """Validate a scenario and print it as resolved (extends and --set applied), as YAML.

    Example: bwsim check scenarios/haarlem/halve-intramural.yaml --set waitlist.policy=central
    """
    sc = load_scenario(scenario, set_)
    if json_:
        console.print_json(sc.model_dump_json())
    else:
        typer.echo(to_yaml(sc.model_dump(mode="json")), nl=False)
