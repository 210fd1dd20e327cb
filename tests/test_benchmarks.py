"""The benchmarks run (quick mode) and print every ratio; the national scenario is current.

No timing is asserted: a missed goal is reported by the benchmark, not failed here.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NAMES = (
    "engine overhead (model / bare SimPy per journey)",
    "parallel scaling (2 workers / 1 worker)",
    "growth (exponent of time vs size)",
    "peers (our engine / Ciw, customers per s)",
)


@pytest.mark.slow
def test_quick_benchmarks_print_every_ratio():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--quick"],
                          capture_output=True, text=True, timeout=170, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    table = done.stdout.split("\n\n")[-1]
    for name in NAMES:
        line = next((ln for ln in table.splitlines() if ln.startswith(name)), None)
        assert line is not None, f"{name!r} missing from:\n{done.stdout}"
        assert line.split()[-1] in ("pass", "miss", "skip")


def _build_module():
    spec = importlib.util.spec_from_file_location("nl_build", ROOT / "scenarios" / "nl" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_national_scenario_is_generated_from_its_inputs():
    build = _build_module()
    committed = (ROOT / "scenarios" / "nl" / "national.yaml").read_text(encoding="utf-8")
    assert build.render() == committed, "scenarios/nl/national.yaml is stale: run python scenarios/nl/build.py"


def test_national_scenario_has_one_provider_per_region():
    from sim.config.scenario import load

    build = _build_module()
    rows = build.read_regions()
    sc = load(ROOT / "scenarios" / "nl" / "national.yaml")
    assert len(rows) == 43
    assert list(sc.providers) == [r["region"] for r in rows]
    assert sc.waitlist.policy == "per_provider"
    assert sum(p.places for p in sc.providers.values()) == sum(r["places"] for r in rows)
    assert 20_000 <= sc.initial_residents <= 30_000
