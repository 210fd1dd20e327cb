"""Reports: provenance in every results folder, what each compared scenario changes, the data
formats (CSV and parquet alike, process-mining columns), and figures a council can read (every
axis says its unit)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.cli import load_app
from sim.cli.app import default_out
from sim.config.scenario import load, load_raw
from sim.experiment.compare import Change, compare, policy_start, scenario_changes
from sim.experiment.replications import run_replications
from sim.experiment.sweep import run_sweep
from sim.report import output
from sim.report.compare_report import metric_figure, value_text
from sim.report.figures import pyplot
from sim.report.plots import CI_LABEL, SPREAD_LABEL, run_figures
from sim.report.sweep_report import sweep_figure
from sim.experiment.compare import key_metrics

ROOT = Path(__file__).resolve().parents[1]
HAARLEM = ROOT / "scenarios" / "haarlem"
BASELINE = HAARLEM / "baseline.yaml"
OBSERVED = ROOT / "calibration" / "haarlem" / "observed.csv"
app = load_app()
runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def short(tmp_path_factory) -> Path:
    """The baseline over 2015-2017 (cheap)."""
    path = tmp_path_factory.mktemp("scenarios") / "short.yaml"
    path.write_text(f"extends: {BASELINE}\nname: Short\nend: 2018-01-01\n")
    return path


@pytest.fixture(scope="module")
def results(short):
    return run_replications(load(short), 3, seed=2, workers=1, log_events=True, keep_clients=True)


# ---------------------------------------------------------------- provenance

PROVENANCE = {"command", "scenario_files", "overrides", "posterior", "seed", "replications", "packages", "git"}


def sweep_args(short):
    return ["sweep", short, "--param", "bridging.places=0:40:40", "-n", 2, "-w", 1, "--set", "inflow.per_year=90",
            "--first-guess"]


@pytest.mark.parametrize("command", ["run", "compare", "sweep"])
def test_every_command_writes_its_provenance(command, short, tmp_path):
    out = tmp_path / "res"
    args = {"run": ["run", short, "-n", 2, "-w", 1, "--no-plots", "--set", "inflow.per_year=90", "--first-guess"],
            "compare": ["compare", short, HAARLEM / "more-contingent.yaml", "-n", 2, "-w", 1],
            "sweep": sweep_args(short)}[command]
    # compare needs the same period: the reference is cut like the other scenario
    if command == "compare":
        other = tmp_path / "more.yaml"
        other.write_text(f"extends: {HAARLEM / 'more-contingent.yaml'}\nend: 2018-01-01\n")
        args[2] = other
    result = cli(*args, "--out", out)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert PROVENANCE <= set(manifest), PROVENANCE - set(manifest)
    assert manifest["seed"] == 1 and manifest["replications"] == 2
    assert manifest["scenario_files"][0] == str(short)
    assert manifest["overrides"] == ([] if command == "compare" else ["inflow.per_year=90"])
    assert manifest["packages"]["bwsim"] and manifest["packages"]["pandas"]
    # the checkout the package runs from: its commit, and whether tracked files differ from it
    assert re.fullmatch(r"[0-9a-f]{40}", manifest["git"]["commit"]) and isinstance(manifest["git"]["dirty"], bool)
    assert isinstance(manifest["command"], list)  # sys.argv as given (pytest's, under the test runner)


def test_the_command_line_is_what_the_cli_passes_in(tmp_path):
    with output.invocation(["bwsim", "run", "x.yaml", "--set", "a=1"]):
        output.write_manifest(tmp_path, {"seed": 3})
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["command"] == ["bwsim", "run", "x.yaml", "--set", "a=1"] and manifest["seed"] == 3
    assert output.command_line() is None  # outside the block: a result made from Python
    assert output.provenance(posterior="p.csv", draws=4, per_draw=3)["posterior"] == {
        "file": "p.csv", "draws": 4, "replications_per_draw": 3}


def test_git_missing_or_no_checkout_gives_none(monkeypatch):
    def missing(*_a, **_k):
        raise FileNotFoundError("git")

    monkeypatch.setattr(subprocess, "run", missing)
    assert output.git_commit() is None
    monkeypatch.undo()

    def not_a_checkout(args, **kwargs):
        return subprocess.CompletedProcess(args, 128, "", "fatal: not a git repository")

    monkeypatch.setattr(subprocess, "run", not_a_checkout)
    assert output.git_commit() is None
    assert output.provenance()["git"] is None


# ---------------------------------------------------------------- default folders


def test_default_folders_differ_with_overrides():
    plain = default_out("baseline")
    central = default_out("baseline", ["waitlist.policy=central"])
    assert plain == Path("results/baseline") and central == Path("results/baseline--waitlist.policy=central")
    long = default_out("baseline", ["providers.RIBW K/AM.places=300", "bridging.places=null",
                                    "inflow.per_year={2015: 100, 2019: 130}"])
    other = default_out("baseline", ["providers.RIBW K/AM.places=301", "bridging.places=null",
                                     "inflow.per_year={2015: 100, 2019: 130}"])
    assert len(long.name) < 70 and long != other and long != plain  # cut, and told apart by a hash
    assert default_out("baseline", posterior=Path("a/posterior.csv")) != default_out(
        "baseline", posterior=Path("b/posterior.csv")) != plain


def test_a_run_with_set_does_not_replace_the_plain_runs_folder(tmp_path, monkeypatch, short):
    monkeypatch.chdir(tmp_path)
    for extra in ([], ["--set", "waitlist.policy=central"]):
        assert cli("run", short, "-n", 2, "-w", 1, "--no-plots", *extra).exit_code == 0
    names = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert names == ["short", "short--waitlist.policy=central"]
    manifests = [json.loads((tmp_path / "results" / n / "manifest.json").read_text()) for n in names]
    assert [m["scenario"]["waitlist"]["policy"] for m in manifests] == ["per_provider", "central"]
    umask = os.umask(0)
    os.umask(umask)
    assert all((tmp_path / "results" / n).stat().st_mode & 0o777 == 0o777 & ~umask for n in names)  # 0755


# ---------------------------------------------------------------- what a scenario changes


def test_scenario_changes_are_key_level_and_dated():
    base = load(BASELINE)
    halve = load(HAARLEM / "halve-with-housing.yaml")
    changes = {c.key: c for c in scenario_changes(base, halve)}
    assert set(changes) == {"providers.PGB providers.schedule", "uitstroom.housing.contingent.extra_per_year",
                            "uitstroom.housing.contingent.extra_from", "capacity_path.changes",
                            "capacity_path.shrink", "capacity_path.ramp"}  # not its name or inherited description
    assert changes["capacity_path.changes"].before is None
    assert policy_start(list(changes.values()), base.start) == dt.date(2016, 1, 1)
    assert policy_start(scenario_changes(base, load(HAARLEM / "more-contingent.yaml")), base.start) == dt.date(2018, 1, 1)
    assert policy_start(scenario_changes(base, load(HAARLEM / "central-waitlist.yaml")), base.start) == base.start
    assert scenario_changes(base, base) == [] and policy_start([], base.start) is None
    text = value_text(changes["capacity_path.changes"].after)
    assert text == "[631 from 2016-01-01, 585 from 2017-01-01, … 4 more …, 341 from 2022-01-01]"
    assert value_text(None) == "(none)" and value_text(10.0) == "10"
    assert value_text({"unit": "years", "dist": "lognormal", "mean": 3.0, "sd": 2.0}) == "lognormal(mean 3, sd 2) years"
    assert Change("a", 1, 2) == Change("a", 1, 2)


# ---------------------------------------------------------------- data formats


def test_parquet_round_trip_equals_csv(results, tmp_path):
    for fmt in ("csv", "parquet"):
        output.write_results(results, tmp_path / fmt, 1.0, plots=False, fmt=fmt)
    for name in ("series", "summary", "events", "clients"):
        csv = pd.read_csv(tmp_path / "csv" / f"{name}.csv", keep_default_na=False, na_values=[""])
        parquet = pd.read_parquet(tmp_path / "parquet" / f"{name}.parquet")
        assert list(csv.columns) == list(parquet.columns), name
        pd.testing.assert_frame_equal(csv, parquet, check_dtype=False, check_exact=True, obj=name)
    assert json.loads((tmp_path / "parquet" / "manifest.json").read_text())["format"] == "parquet"


def test_tables_have_units_kinds_and_full_precision(results, tmp_path):
    out = output.write_results(results, tmp_path / "r", 1.0, plots=False)
    series = pd.read_csv(out / "series.csv")
    assert list(series.columns) == ["replication", "date", "metric", "kind", "unit", "value"]
    units = series.drop_duplicates("metric").set_index("metric")["unit"]
    assert units["waitlist"] == "people" and units["admissions"] == "people per month"
    assert units["cost"] == "euros per month" and units["waited_median"] == "months"
    summary = pd.read_csv(out / "summary.csv")
    assert {"kind", "unit"} <= set(summary.columns)
    assert summary.set_index("metric").loc["cost", "unit"].iloc[0] == "euros per year"
    text = (out / "summary.csv").read_text()
    assert "e+" not in text  # money in full: no 3.77e+07
    cost = summary[(summary.metric == "cost") & (summary.year == 2016)].iloc[0]
    assert cost["mean"] == pytest.approx(np.mean(results.yearly_values("cost")[2016]), rel=0, abs=1e-6)


def test_events_and_clients_are_process_mining_logs(results):
    events, clients = results.events, results.clients
    assert list(events.columns[:3]) == ["case:concept:name", "concept:name", "time:timestamp"]
    assert {"replication", "day", "municipality"} <= set(events.columns)
    assert set(events.municipality) <= set(load(BASELINE).inflow.municipalities)  # names, not numbers
    stamps = pd.to_datetime(events["time:timestamp"], format="ISO8601")
    assert stamps.min() == pd.Timestamp("2015-01-01") and stamps.is_monotonic_increasing is not None
    assert events["case:concept:name"].str.fullmatch(r"\d+/\d+").all()
    assert clients["case:concept:name"].is_unique and clients.columns[0] == "case:concept:name"
    # one case, one client: its first event is its entry, its last its state at the end
    per_case = events.groupby("case:concept:name", sort=False)
    assert set(per_case.groups) == set(clients["case:concept:name"])
    record = clients.set_index("case:concept:name")
    last = per_case["concept:name"].last()
    assert (last == record.loc[last.index, "state_at_end"]).all()
    first = per_case["municipality"].first()
    assert (first == record.loc[first.index, "municipality"]).all()


# ---------------------------------------------------------------- figures


def axes_of(fig) -> list:
    return [ax for ax in fig.axes if ax.get_visible()]


def test_run_figures_have_units_and_explained_bands(results):
    plt = pyplot()
    from sim.analysis.calibrate import read_observations

    figures = run_figures(results, read_observations(OBSERVED))
    try:
        assert set(figures) == {"waitlist", "occupied", "ready_to_leave", "bridged", "waiting_time", "flows"}
        for name, fig in figures.items():
            ax = fig.axes[0]
            assert ax.get_ylabel(), name
            labels = ax.get_legend_handles_labels()[1]
            if name != "flows":
                assert CI_LABEL in labels and SPREAD_LABEL in labels, name
        assert "per year" in figures["flows"].axes[0].get_ylabel()
        assert figures["waiting_time"].axes[0].get_ylabel() == "months"
        assert any("still waiting" in t for t in figures["waiting_time"].axes[0].get_legend_handles_labels()[1])
        # observed year-end waitlists are drawn on the waitlist figure
        assert "observed (± sd)" in figures["waitlist"].axes[0].get_legend_handles_labels()[1]
        # occupied: zoomed to the data, with the places line
        occupied = figures["occupied"].axes[0]
        assert occupied.get_ylim()[0] > 500
        assert any("places" in t for t in occupied.get_legend_handles_labels()[1])
        bridged = figures["bridged"].axes[0].get_legend_handles_labels()[1]
        assert any("bridging slots" in t for t in bridged) and any("waiting for a bridging slot" in t for t in bridged)
    finally:
        for fig in figures.values():
            plt.close(fig)


def test_compare_and_sweep_figures_have_units_and_a_difference_panel(short, tmp_path):
    plt = pyplot()
    base = load(short)
    more = load(short, ["uitstroom.housing.contingent.extra_per_year=20",
                        "uitstroom.housing.contingent.extra_from=2016-07-01"])
    comparison = compare([base, more, base], 3, seed=1, workers=1, labels=["base", "more", "again"])
    for metric in key_metrics():
        fig = metric_figure(comparison, metric)
        try:
            top, bottom = fig.axes
            assert top.get_ylabel() and "difference" in bottom.get_ylabel(), metric.name
            if metric.name in ("admissions", "exits_independent"):
                assert top.get_ylabel() == "people per year"
            names = top.get_legend_handles_labels()[1]
            assert any("same numbers as base" in n for n in names)  # identical scenarios both visible
            assert any(n.startswith("more (from Jul 2016)") for n in names)
            texts = [t.get_text() for t in top.texts]
            assert any("more starts Jul 2016" in t for t in texts)  # where the policy starts
        finally:
            plt.close(fig)
    sweep = run_sweep(load_raw(short), "bridging.places", [0, 40], "waitlist", year=2016, replications=2, workers=1)
    fig = sweep_figure(sweep)
    try:
        assert "people" in fig.axes[0].get_ylabel()
    finally:
        plt.close(fig)


# ---------------------------------------------------------------- command line conventions


def test_version_schema_and_check_as_yaml():
    import yaml

    from sim import __version__

    result = cli("--version")
    assert result.exit_code == 0 and result.output.strip() == f"bwsim {__version__}"
    schema = json.loads(cli("schema").output)
    assert {"name", "inflow", "waitlist", "capacity_path"} <= set(schema["properties"])
    result = cli("check", BASELINE, "--set", "waitlist.policy=central")
    assert result.exit_code == 0
    printed = yaml.safe_load(result.output)
    assert printed["waitlist"]["policy"] == "central" and printed["name"] == "Haarlem baseline"
    lines = result.output.splitlines()
    assert lines[0] == "name: Haarlem baseline" and "  policy: central" in lines  # YAML, not JSON


@pytest.mark.parametrize("command", ["run", "check", "schema", "compare", "target", "sweep", "calibrate",
                                     "validate", "sensitivity"])
def test_every_command_shows_an_example_in_its_help(command):
    result = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0 and "Example: bwsim " + command in " ".join(result.output.split())
