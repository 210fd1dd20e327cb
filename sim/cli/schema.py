"""``bwsim schema``: the JSON Schema of a scenario file, for editors and validators."""

from __future__ import annotations

import json

import typer

from .app import command


@command()
def schema():
    """Print the JSON Schema of a scenario (every key, its type, default and description).

    Example: bwsim schema > scenario.schema.json (then point your editor's YAML plug-in at it)
    """
    from ..config.scenario import Scenario

    typer.echo(json.dumps(Scenario.model_json_schema(), indent=2, ensure_ascii=False))
