"""Scenario comparison with common random numbers, the report, goal seeking and sweeps."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.cli import load_app

app = load_app()
from sim.experiment.compare import COLUMNS, compare, crn_gain, load as load_comparison
from sim.experiment.replications import run_replications
from sim.record.metrics import YEARLY_ROW
from sim.report.compare_report import write_report
from sim.config.scenario import load, load_raw
from sim.experiment.sweep import ParameterError, metric_per_replication, parse_range, run_sweep, scenario_at
from sim.report.sweep_report import write_sweep
from sim.experiment.target import TargetError, check_question, find_target, wilson

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "haarlem" / "baseline.yaml"
RIBW = "providers.RIBW K/AM.places"
runner = CliRunner()


@pytest.fixture(scope="module")
def comparison():
    """Baseline, a real lever (more contingent homes) and the baseline again, 6 replications each."""
    base = load(BASELINE)
    more = load(BASELINE, ["uitstroom.housing.contingent.units_per_year=100"])
    return compare([base, more, base], replications=6, seed=5, workers=2,
                   labels=["baseline", "more homes", "baseline again"])


@pytest.fixture(scope="module")
def short(tmp_path_factory) -> Path:
    """The baseline over 2015-2016 only (cheap), without the 2017 schedule."""
    path = tmp_path_factory.mktemp("scenarios") / "short.yaml"
    path.write_text(f"extends: {BASELINE}\nname: Short\nend: 2017-01-01\n"
                    "providers:\n  PGB providers:\n    schedule: []\n")
    return path


def share_meeting(data: dict, value: int, max_value: float, replications: int, seed: int) -> float:
    results = run_replications(scenario_at(data, RIBW, value), replications, seed=seed, workers=1)
    return float(np.mean(metric_per_replication(results, "waitlist", 2016) <= max_value))


# ---------------------------------------------------------------- comparison


def test_frame_is_tidy(comparison):
    frame = comparison.frame
    assert list(frame.columns) == COLUMNS
    assert set(frame.scenario) == {"baseline", "more homes", "baseline again"}
    assert {"waitlist", "blocked_place_years", "exits_early", "wait_placed_p90"} <= set(frame.metric)
    assert frame.groupby(["scenario", "metric", "year"]).size().max() == 1
    ref = frame[frame.scenario == "baseline"]
    assert ref.diff_mean.isna().all()  # no difference of the reference with itself
    days = comparison.results[0].yearly_values("blocked_place_days")[2022].mean()
    row = ref[(ref.metric == "blocked_place_years") & (ref.year == 2022)].iloc[0]
    assert row["mean"] == pytest.approx(days / 365.25)


def test_paired_ci_narrower_than_unpaired_for_a_real_lever(comparison):
    lever = comparison.frame[comparison.frame.scenario == "more homes"]
    blocked = lever[(lever.metric == "blocked_place_years") & (lever.year == 2022)].iloc[0]
    assert blocked.diff_ci_high < 0  # the lever works: fewer places blocked
    waitlist = lever[(lever.metric == "waitlist") & (lever.year >= 2016)]
    assert (waitlist.paired_half_width < waitlist.unpaired_half_width).all()
    assert waitlist.width_ratio.median() < 0.7
    assert crn_gain(comparison.frame).median_ratio.median() < 1


def test_difference_with_itself_is_exactly_zero(comparison):
    frame = comparison.frame
    same = frame[frame.scenario == "baseline again"].reset_index(drop=True)
    ref = frame[frame.scenario == "baseline"].reset_index(drop=True)
    diffs = same[["diff_mean", "diff_ci_low", "diff_ci_high", "paired_half_width"]].dropna()
    assert len(diffs) > 0.9 * len(same)
    assert (diffs == 0).all().all()
    assert same["mean"].equals(ref["mean"])
    assert (same.unpaired_half_width.dropna() > 0).any()  # unpaired would not have seen it


# ---------------------------------------------------------------- report


def test_report_files_and_self_contained_html(comparison, tmp_path):
    out = write_report(comparison, tmp_path / "report", year=2022)
    names = {p.name for p in out.iterdir()}
    assert {"comparison.csv", "report.md", "report.html", "waitlist.png", "blocked_place_years.png",
            "admissions.png"} <= names
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 10
    sources = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    md = (out / "report.md").read_text()
    assert "difference vs reference [95% CI]" in md and "](waitlist.png)" in md
    # each scenario described by what it changes, not by the reference's description
    assert "more homes: differs from the reference from the start of the run." in md
    assert "- uitstroom.housing.contingent.units_per_year: 62 → 100" in md
    assert "baseline again: the same scenario as the reference (no key differs), so its numbers are identical." in md
    assert md.count(" ".join(comparison.results[0].scenario.description.split())) == 1
    assert "no posterior" in md
    meta = json.loads((out / "comparison.json").read_text())
    assert meta["scenarios"][1]["uitstroom"]["housing"]["contingent"]["units_per_year"] == 100
    assert meta["changes"][1] == [{"key": "uitstroom.housing.contingent.units_per_year", "before": 62.0,
                                   "after": 100.0}]
    assert meta["changes"][2] == [] and meta["policy_start"] == [None, "2015-01-01", None]
    assert json.loads((out / "manifest.json").read_text())["labels"] == comparison.labels
    assert pd.read_csv(out / "comparison.csv").shape == comparison.frame.shape
    again = load_comparison(out)
    pd.testing.assert_frame_equal(again.frame, comparison.frame)


def test_report_with_a_bad_year_writes_nothing(comparison, tmp_path):
    with pytest.raises(ValueError, match="1999"):
        write_report(comparison, tmp_path / "report", year=1999)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- goal seeking


def test_wilson_interval():
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)
    assert wilson(0, 10)[0] == 0 and wilson(10, 10)[1] == 1


def test_target_finds_the_threshold(short):
    data = load_raw(short)
    result = find_target(data, RIBW, 300, 500, "waitlist", 120, year=2016, probability=0.5, replications=6,
                         seed=2, workers=2)
    assert 300 < result.answer < 500
    assert result.below.value == result.answer - 1
    assert share_meeting(data, result.answer, 120, 6, 2) >= 0.5
    assert share_meeting(data, result.answer - 1, 120, 6, 2) < 0.5
    assert result.at_answer.share >= 0.5 and not result.sharp  # 6 replications cannot be sharp


def test_target_unreachable_and_bad_key(short):
    data = load_raw(short)
    with pytest.raises(TargetError, match=r"not reachable within \[300, 500\]"):
        find_target(data, RIBW, 300, 500, "waitlist", 10, year=2016, replications=3, workers=1)
    with pytest.raises(ParameterError, match="'providers.RIBW' is not in the scenario"):
        find_target(data, "providers.RIBW.places", 300, 500, "waitlist", 10, year=2016, replications=3, workers=1)


@pytest.mark.parametrize("low, high", [(float("nan"), 500), (300, float("inf"))])
def test_target_bounds_must_be_finite(short, low, high):
    with pytest.raises(TargetError, match="expected a finite number"):
        check_question(load_raw(short), RIBW, low, high, "waitlist", 2016, 0.8, 3, False, None)


# ---------------------------------------------------------------- sweep


def test_parse_range():
    assert parse_range("a.b=0:60:10") == ("a.b", [0, 10, 20, 30, 40, 50, 60])
    assert parse_range("a.b=0.5:1:0.25") == ("a.b", [0.5, 0.75, 1.0])
    assert parse_range("providers.RIBW K/AM.places=1,2,5") == (RIBW, [1, 2, 5])
    for bad in ("a.b", "a.b=0:10", "a.b=10:0:1", "a.b=0:10:0", "a.b=0:x:1", "=0:1:1"):
        with pytest.raises(ParameterError):
            parse_range(bad)


def test_sweep_one_row_per_value(short, tmp_path):
    sweep = run_sweep(load_raw(short), RIBW, [330, 380, 430], "waitlist", year=2016, replications=4, seed=3,
                      workers=1)
    frame = sweep.frame()
    assert list(frame.value) == [330, 380, 430] and (frame.n == 4).all()
    assert frame["mean"].is_monotonic_decreasing  # more places, shorter list (same random numbers)
    out = write_sweep(sweep, tmp_path / "sweep")
    assert len(pd.read_csv(out / "sweep.csv")) == 3 and (out / "sweep.png").stat().st_size > 0


# ---------------------------------------------------------------- command line


def cli(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_compare_command(short, tmp_path):
    other = tmp_path / "more.yaml"
    other.write_text(f"extends: {short}\nname: More homes\nuitstroom:\n  housing:\n    contingent:\n"
                     "      units_per_year: 100\n")
    out = tmp_path / "cmp"
    result = cli("compare", short, other, "-n", 3, "--seed", 2, "-w", 1, "--out", out, "--year", 2016)
    assert result.exit_code == 0, result.output
    assert "More homes" in result.output and "Common random numbers" in result.output
    assert (out / "report.html").is_file() and (out / "comparison.csv").is_file()


def test_commands_exit_2_on_bad_input(short, tmp_path):
    out = tmp_path / "out"
    result = cli("target", short, "--param", "providers.Nope.places", "--low", 0, "--high", 9, "--max", 5)
    assert result.exit_code == 2 and "unknown key path" in result.output
    result = cli("sweep", short, "--param", f"{RIBW}=0:10", "--out", out)
    assert result.exit_code == 2 and "start:stop:step" in result.output
    result = cli("compare", BASELINE, tmp_path / "missing.yaml", "-n", 2, "--out", out)
    assert result.exit_code == 2 and "file not found" in result.output
    assert not out.exists()


def test_target_not_reachable_is_a_result_with_its_own_exit_code(short):
    """Exit 3, not 2: the question was fine, the answer is that the range holds none."""
    result = cli("target", short, "--param", RIBW, "--low", 300, "--high", 310, "--max", 5, "--year", 2016,
                 "-n", 2, "-w", 1)
    assert result.exit_code == 3 and "not reachable within [300, 310]" in result.output


def test_compare_with_a_posterior_draws_parameters_per_replication(tmp_path):
    """--posterior: replications draw parameter sets; both scenarios share each draw."""
    posterior = tmp_path / "posterior.csv"
    posterior.write_text("inflow.per_year,weight,distance\n60,0.5,0.1\n160,0.5,0.1\n")
    out = tmp_path / "cmp"
    result = CliRunner().invoke(app, ["compare", str(BASELINE), str(BASELINE), "-n", "6", "-k", "1", "-w", "1",
                                      "--posterior", str(posterior), "--out", str(out)])
    assert result.exit_code == 0, result.output
    arrays = np.load(out / "arrays.npz")
    assert np.array_equal(arrays["yearly_0"], arrays["yearly_1"], equal_nan=True)  # same draws, same numbers
    per_rep = arrays["yearly_0"][:, YEARLY_ROW["arrivals"], :].sum(1)
    assert per_rep.max() > 1.8 * per_rep.min()  # draws of 60 and 160 a year both appear
    bad = CliRunner().invoke(app, ["compare", str(BASELINE), str(BASELINE), "--posterior", str(tmp_path / "no.csv")])
    assert bad.exit_code == 2
