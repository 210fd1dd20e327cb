"""The folder tree is the architecture: data flows one way through the subpackages of sim/.

    config → model → record → experiment → analysis, policy → report → cli, web

A module may import from its own subpackage and from earlier layers only; no module imports
a private name (``_x``) from another module; there is no import cycle; and the command line
starts without the heavy libraries (they are imported by a command when it runs).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SIM = ROOT / "sim"
LAYERS = {"config": 0, "model": 1, "record": 2, "experiment": 3, "analysis": 4, "policy": 4, "report": 5, "cli": 6, "web": 6}
HEAVY = ("numpy", "pandas", "scipy", "matplotlib", "simpy", "SALib", "pydantic")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, list[str], bool]]:
    """(module imported, names imported from it, at module level?) for every import of sim."""
    tree = ast.parse(path.read_text())
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [a.name for a in node.names]
            if target.startswith("sim"):
                # "from ..analysis import calibrate": the modules named are imported too
                found.append((target, names, id(node) in top_level))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("sim"):
                    found.append((alias.name, [], id(node) in top_level))
    return found


MODULES = {module_name(p): p for p in sorted(SIM.rglob("*.py"))}


def layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def test_every_subpackage_has_a_layer():
    folders = {p.parent.name for p in SIM.rglob("*.py") if p.parent != SIM}
    assert folders <= set(LAYERS) | {"calibrate", "verdeel"}, folders - set(LAYERS)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_data_flows_one_way(module):
    """No module imports from a later layer (run-time imports inside functions included)."""
    own = layer(module)
    if own is None:
        return
    for target, names, _ in imports(MODULES[module]):
        theirs = layer(target)
        assert theirs is None or theirs <= own, f"{module} (layer {own}) imports {target} (layer {theirs})"


def test_no_private_name_is_imported_from_another_module():
    offenders = [f"{module}: from {target} import {name}"
                 for module, path in MODULES.items() for target, names, _ in imports(path)
                 for name in names if name.startswith("_") and not name.startswith("__") and target != module]
    assert not offenders, offenders


def test_no_import_cycle_at_module_level():
    graph = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for target, names, top in imports(path):
            if not top:
                continue
            for candidate in [target] + [f"{target}.{n}" for n in names]:
                if candidate in MODULES and candidate != module:
                    graph[module].add(candidate)
    state: dict[str, int] = {}

    def visit(node, trail):
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " → ".join(trail[trail.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])


def test_the_command_line_starts_without_the_heavy_libraries():
    """`bwsim --help` and `bwsim check` must start fast: every command registers, but numpy,
    pandas, scipy, matplotlib and simpy are imported only when a command runs."""
    code = ("import sys; from sim.cli import load_app; load_app(); "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_importing_a_report_module_leaves_the_matplotlib_backend_alone():
    """A notebook that imports the library keeps its own backend until a figure is drawn."""
    code = ("import sim.report.plots, sim.report.sweep_report, sim.report.compare_report, "
            "sim.report.verdeel_report, sys; print('matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_check_validates_a_scenario_without_the_analysis_libraries():
    """`bwsim check` loads the schema (pydantic, numpy for the duration laws) but not pandas,
    scipy, matplotlib or SimPy."""
    scenario = ROOT / "scenarios" / "haarlem" / "baseline.yaml"
    code = ("import sys; from typer.testing import CliRunner; from sim.cli import load_app; "
            f"r = CliRunner().invoke(load_app(), ['check', {str(scenario)!r}]); assert r.exit_code == 0, r.output; "
            "print(sorted(m for m in ('pandas', 'scipy', 'matplotlib', 'simpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
