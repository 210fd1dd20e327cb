"""A new region in ten minutes: ``bwsim new-region``, ``bwsim solve steady-state`` and the README
section "Your own region", end to end.

The end-to-end test runs the section's four commands as written there, in an empty folder:
a made-up region of 500 places and 150 waiting is written, checked, solved for the inflow that
keeps the list at 150 (60 replications, seed 1) and run with that inflow and another seed
(60 replications, seed 2). Its list, mean over the replications on 31 December, must stay within
±5% of 150 in each of the ten years. With 60 replications a year's mean has a 95% CI of about ±5,
and the solved level its own of about ±3.3: the band holds them both, and the test also checks
that every CI is narrower than the band (else the band would be only noise). A wrong answer is
caught: the level moves by about 4 per unit of inflow, so an inflow 2 a year off moves it by ~8.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import load_app
from sim.config import scenario as sc_mod

app = load_app()
runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BASELINE = ROOT / "scenarios" / "haarlem" / "baseline.yaml"


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def readme_commands() -> list[list[str]]:
    """The commands of the README section "Your own region", as argument lists."""
    import shlex

    text = README.read_text(encoding="utf-8")
    section = text.split("## Your own region", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line)[1:] for line in block.strip().splitlines()]


def test_the_readme_section_end_to_end(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    new, check, solve, run = readme_commands()
    assert new[0] == "new-region" and check[0] == "check" and solve[:2] == ["solve", "steady-state"]
    assert run[0] == "run"

    result = invoke(*new)
    assert result.exit_code == 0, result.output
    scenario = tmp_path / new[new.index("--out") + 1]
    assert scenario.is_file()
    assert invoke(*check).exit_code == 0

    result = invoke(*solve)
    assert result.exit_code == 0, result.output
    answer = re.search(r"Use it: --set inflow\.per_year=([0-9.]+)", result.output)
    assert answer, result.output
    assert "Stable" in result.output and "Not within" not in result.output, result.output

    # the run, with the inflow just solved in place of the README's number
    args = list(run)
    at = args.index("--set") + 1
    assert args[at].startswith("inflow.per_year=")
    args[at] = f"inflow.per_year={answer.group(1)}"
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(tmp_path / args[args.index("--out") + 1] / "summary.csv")
    waitlist = summary[summary.metric == "waitlist"].set_index("year")
    assert list(waitlist.index) == list(range(2025, 2035))  # ten years
    replications = int(run[run.index("-n") + 1])
    assert (waitlist.n == replications).all()
    band = 0.05 * 150
    half = (waitlist.ci_high - waitlist.ci_low) / 2
    assert (half < band).all(), half  # the band is wider than the noise of a year's mean
    off = (waitlist["mean"] - 150).abs()
    assert (off <= band).all(), waitlist[["mean", "ci_low", "ci_high"]]


# ---------------------------------------------------------------- new-region


def test_the_written_scenario_is_complete_commented_and_nothing_is_haarlem(tmp_path):
    out = tmp_path / "zuid.yaml"
    result = invoke("new-region", "Regio Zuid", "--places", 120, "--waiting", 40, "--start", "2026-03-01",
                    "--municipality", "Zuidstad=0.7", "--municipality", "Dorp aan Zee=0.3", "--out", out)
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    sc = sc_mod.load(out)
    assert sc.places_at_start() == 120 and sc.initial.waiting == 40 and sc.initial_residents == 120
    assert str(sc.start) == "2026-03-01" and str(sc.end) == "2036-03-01"
    assert sc.inflow.municipalities == {"Zuidstad": 0.7, "Dorp aan Zee": 0.3}

    data = yaml.safe_load(text)
    required = {name for name, f in sc_mod.Scenario.model_fields.items() if f.is_required()}
    assert required <= set(data), required - set(data)
    assert {"bridging", "relapse", "initial", "costs"} <= set(data)

    haarlem = sc_mod.load_raw(BASELINE)
    for word in ["Haarlem", "Kennemerland", "IJmond", *haarlem["providers"], *haarlem["inflow"]["municipalities"]]:
        assert word.lower() not in text.lower(), word
    assert not re.search(r"\b00\d:L\d", text)  # no source references

    # every number that was not given is marked as an assumption: on its line, in the comments
    # just above it, or on the line of a block it belongs to (or in the comments above that)
    lines = text.splitlines()

    def comments_at(line: int) -> list[str]:
        above = []
        k = line - 1
        while k >= 0 and lines[k].lstrip().startswith("#"):
            above.append(lines[k])
            k -= 1
        return [lines[line], *above]

    def numbers(node, keys=(), key_lines=()):
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                yield from numbers(value, keys + (key.value,), key_lines + (key.start_mark.line,))
        elif isinstance(node, yaml.SequenceNode):
            for value in node.value:
                yield from numbers(value, keys, key_lines)
        elif node.tag.endswith((":int", ":float")):
            yield keys, node.start_mark.line, key_lines

    given = {("initial", "residents"), ("initial", "waiting"), ("providers", "Provider A", "places")}
    follows = {"priority", "inflow_share", "bw_share"}  # an order, or a share that follows from the others
    checked = 0
    for keys, line, key_lines in numbers(yaml.compose(text)):
        if keys in given or keys[-1] in follows or keys[:2] == ("inflow", "municipalities"):
            assert keys[-1] in follows or "# given" in lines[line] or keys[:2] == ("inflow", "municipalities")
            continue
        context = [c for k in (line, *key_lines) for c in comments_at(k)]
        assert any("# assumption" in c for c in context), f"{'.'.join(keys)} (line {line + 1}) is not marked"
        checked += 1
    assert checked >= 30


def test_new_region_never_overwrites_a_file(tmp_path):
    out = tmp_path / "mine.yaml"
    out.write_text("my own notes\n")
    result = invoke("new-region", "X", "--places", 10, "--waiting", 1, "--start", "2025-01-01", "--out", out)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"error: {out}: exists; new-region never overwrites a file "
                                                   "(give another --out, or remove it)"]
    assert out.read_text() == "my own notes\n"


def test_new_region_writes_name_yaml_here_by_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert invoke("new-region", "Regio Noord-Oost", "--places", 50, "--waiting", 0, "--start", "2025-01-01",
                  "--end", "2027-01-01").exit_code == 0
    sc = sc_mod.load(tmp_path / "regio-noord-oost.yaml")
    assert sc.name == "Regio Noord-Oost" and str(sc.end) == "2027-01-01"
    assert sc.inflow.municipalities == {"Regio Noord-Oost": 1.0}


@pytest.mark.parametrize("args, message", [
    (["--start", "2025-02-30"], "--start 2025-02-30: expected a date YYYY-MM-DD"),
    (["--start", "2025-01-01", "--end", "2024-01-01"], "--end 2024-01-01: expected a date after --start 2025-01-01"),
    (["--start", "2025-01-01", "--municipality", "A=0.5", "--municipality", "B=0.4"],
     "--municipality: the shares must sum to 1 (got 0.9 for A, B)"),
    (["--start", "2025-01-01", "--municipality", "A"], "--municipality A: expected NAME=SHARE"),
    (["--start", "2025-01-01", "--municipality", "A=half"], "--municipality A=half: expected a share after '='"),
    (["--start", "2025-01-01", "--municipality", "A=1.5"], "--municipality A=1.5: expected a share between 0 and 1"),
    (["--start", "2025-01-01", "--municipality", "A=0.5", "--municipality", "A=0.5"], "--municipality A: given twice"),
])
def test_bad_flags_are_one_line_naming_the_flag(tmp_path, args, message):
    out = tmp_path / "r.yaml"
    result = invoke("new-region", "R", "--places", 10, "--waiting", 1, *args, "--out", out)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), result.output
    assert not out.exists()


# ---------------------------------------------------------------- solve steady-state


@pytest.fixture(scope="module")
def small_region(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("small") / "small.yaml"
    assert invoke("new-region", "Klein", "--places", 60, "--waiting", 20, "--start", "2025-01-01",
                  "--out", out).exit_code == 0
    return out


def test_solve_finds_the_level_and_the_answer_is_what_was_run(small_region):
    from sim.experiment.steady_state import solve_steady_state

    data = sc_mod.load_data(small_region)
    result = solve_steady_state(data, 20, replications=16, years=6, tolerance=0.03, workers=1)
    assert result.converged and abs(result.at_answer.mean - 20) <= 0.03 * 20
    assert len(result.trials) <= 8
    assert f"{result.answer:.4g}" == f"{result.answer:g}"  # four significant digits: printed as run
    # the answer is where the list is 20: below it the list is shorter, above it longer
    lower = [t for t in result.trials if t.value < result.answer]
    higher = [t for t in result.trials if t.value > result.answer]
    assert all(t.mean < result.at_answer.mean for t in lower) and all(t.mean > result.at_answer.mean for t in higher)
    assert [year for year, *_ in result.drift()] == list(range(2025, 2031))
    assert result.yearly.shape == (16, 6)


def test_the_level_is_the_late_window_and_the_drift_shows_the_way_there(small_region):
    """Starting from an empty list, the list needs years to reach its level: the answer holds the
    second half of the run at 20, and the drift shows the first years far below it."""
    from sim.experiment.steady_state import solve_steady_state

    data = sc_mod.with_values(sc_mod.load_data(small_region), {"initial.waiting": 0})
    result = solve_steady_state(data, 20, replications=16, years=6, tolerance=0.03, workers=1)
    assert result.window == ("2028-01-01", "2031-01-01")
    assert result.converged and abs(result.at_answer.mean - 20) <= 0.03 * 20
    first_year, last_year = result.drift()[0], result.drift()[-1]
    assert first_year[0] == 2025 and first_year[3] < 0.8 * 20  # the whole CI far below the target
    assert abs(last_year[1] - 20) < 0.2 * 20  # and at the end near it (not overshooting)
    slope, low, high = result.trend()
    assert low > 0  # and the trend says so: the list is still rising
    assert result.largest_deviation() > 0.2


def test_solve_for_withdrawal_moves_the_other_way(small_region):
    from sim.experiment.steady_state import solve_steady_state

    data = sc_mod.load_data(small_region)
    longer = solve_steady_state(data, 30, solve_for="withdrawal", replications=12, years=6, tolerance=0.03,
                                workers=1)
    assert longer.key == "waitlist.withdrawal_per_year"
    assert longer.answer < 0.25 and abs(longer.at_answer.mean - 30) <= 0.03 * 30


@pytest.mark.parametrize("args, message", [
    (["--waitlist", 0], "--waitlist 0: expected a length of the list above 0"),
    (["--waitlist", 20, "--solve-for", "places"], "--solve-for places: expected one of inflow, withdrawal"),
    (["--waitlist", 20, "--tolerance", 1.5], "--tolerance 1.5: expected a share of the target between 0 and 1"),
    (["--waitlist", 20, "--set", "inflow.growth_per_year=0.02"], "inflow.growth_per_year is 0.02; a list held "
                                                                  "steady needs a constant inflow"),
    (["--waitlist", 500, "--solve-for", "withdrawal", "-n", 2, "--years", 2],
     "not reachable: even with waitlist.withdrawal_per_year=0 the mean list over the window is"),
])
def test_solve_refuses_with_one_line(small_region, args, message):
    result = invoke("solve", "steady-state", small_region, *args, "-w", 1)
    assert result.exit_code == 2, result.output
    error = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and message in error[0], result.output
