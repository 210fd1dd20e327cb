"""The ``bwsim`` command line: one module per command, each parsing its flags, calling the library
and printing. Nothing else. The commands register on :data:`sim.cli.app.app` when imported."""

from __future__ import annotations

COMMANDS = ("run", "check", "schema", "new_region", "calibrate", "compare", "target", "sweep", "solve", "sensitivity", "verdeel", "serve")


def load_app():
    """The typer app with every command registered (in the order of the help)."""
    import importlib

    from .app import app

    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}")
    return app


def main() -> None:  # pragma: no cover - console script entry
    load_app()()
