"""The ``bwsim`` command line: outputs, reproducibility across worker counts, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.config import scenario as sc_mod
from sim.cli import load_app

app = load_app()

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "haarlem" / "baseline.yaml"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_run_writes_a_complete_results_folder(tmp_path):
    out = tmp_path / "res"
    result = run("run", BASELINE, "-n", 3, "--seed", 4, "--workers", 1, "--out", out)
    assert result.exit_code == 0, result.output
    assert "waitlist" in result.output and "2022" in result.output
    names = {p.name for p in out.iterdir()}
    assert {"series.csv", "summary.csv", "manifest.json", "waitlist.png", "occupied.png",
            "ready_to_leave.png", "bridged.png", "waiting_time.png", "flows.png"} <= names
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 4 and manifest["replications"] == 3
    assert manifest["scenario"]["name"] == "Haarlem baseline" and len(manifest["scenario_hash"]) == 16
    assert manifest["scenario_files"] == [str(BASELINE)] and manifest["overrides"] == []
    # the baseline names its calibration: its parameters are drawn from the posterior by default
    assert manifest["posterior"]["file"].endswith("calibration/haarlem/results/posterior.csv")
    assert manifest["posterior"]["draws"] == 1 and manifest["format"] == "csv"
    assert manifest["parameters"].startswith("calibrated: 1 posterior draws")
    series = pd.read_csv(out / "series.csv")
    assert list(series.columns) == ["replication", "date", "metric", "kind", "unit", "value"]
    assert set(series.replication) == {0, 1, 2}
    assert series.date.min() == "2015-01-01" and series.date.max() == "2023-01-01"
    summary = pd.read_csv(out / "summary.csv")
    row = summary[(summary.metric == "waitlist") & (summary.year == 2022)].iloc[0]
    assert row.ci_low <= row["mean"] <= row.ci_high
    assert {"wait_placed_median", "waited_median", "exits_independent"} <= set(summary.metric)


def test_series_identical_with_one_and_two_workers(tmp_path):
    for workers in (1, 2):
        assert run("run", BASELINE, "-n", 4, "--seed", 8, "-w", workers, "--no-plots",
                   "--out", tmp_path / f"w{workers}").exit_code == 0
    one = (tmp_path / "w1" / "series.csv").read_bytes()
    two = (tmp_path / "w2" / "series.csv").read_bytes()
    assert one == two and len(one) > 100_000


def test_bad_input_exit_code_2_and_nothing_written(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"extends: {BASELINE}\nwaitlist: {{withdrawal_per_year: -1}}\n")
    out = tmp_path / "res"
    result = run("run", bad, "-n", 2, "--out", out)
    assert result.exit_code == 2
    assert "waitlist.withdrawal_per_year" in result.output and str(bad) in result.output
    assert not out.exists()
    result = run("run", tmp_path / "missing.yaml", "--out", out)
    assert result.exit_code == 2 and "file not found" in result.output
    result = run("run", BASELINE, "--set", "providers.SIG.places=many", "--out", out)
    assert result.exit_code == 2 and "providers.SIG.places" in result.output
    result = run("run", BASELINE, "--set", "inflow.per_year={2015: [", "--out", out)
    assert result.exit_code == 2 and "not valid YAML" in result.output
    assert not out.exists()


def test_failed_write_leaves_previous_results_intact(tmp_path, monkeypatch):
    out = tmp_path / "res"
    assert run("run", BASELINE, "-n", 2, "-w", 1, "--no-plots", "--out", out).exit_code == 0
    before = (out / "series.csv").read_bytes()
    import sim.experiment.replications as replications_mod

    def broken(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(replications_mod, "summarise", broken)
    result = runner.invoke(app, ["run", str(BASELINE), "-n", "2", "-w", "1", "--seed", "9", "--no-plots",
                                 "--out", str(out)])
    assert result.exit_code != 0
    assert (out / "series.csv").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["res"]  # no temporary folder left behind


def test_check_prints_the_resolved_scenario_as_yaml():
    import yaml

    result = run("check", BASELINE, "--set", "waitlist.policy=central")
    assert result.exit_code == 0
    assert "  policy: central" in result.output.splitlines()
    assert yaml.safe_load(result.output) == json.loads(sc_mod.load(BASELINE, ["waitlist.policy=central"])
                                                       .model_dump_json())
    result = run("check", BASELINE, "--json")
    assert json.loads(result.output)["waitlist"]["policy"] == "per_provider"


def test_version():
    from sim import __version__

    result = run("--version")
    assert result.exit_code == 0 and result.output.strip() == f"bwsim {__version__}"


def optional_file_only_when_asked_and_same_with_1_or_2_workers(tmp_path, flag: str, name: str, prefix: str):
    """``run`` writes ``name`` only with ``flag``, byte-identical with 1 and 2 workers
    (in ``<prefix>1`` and ``<prefix>2``)."""
    assert run("run", BASELINE, "-n", 2, "-w", 1, "--no-plots", "--out", tmp_path / "plain").exit_code == 0
    assert not (tmp_path / "plain" / name).exists()
    for workers in (1, 2):
        result = run("run", BASELINE, "-n", 2, "-w", workers, "--no-plots", flag, "--out", tmp_path / f"{prefix}{workers}")
        assert result.exit_code == 0, result.output
    assert (tmp_path / f"{prefix}1" / name).read_bytes() == (tmp_path / f"{prefix}2" / name).read_bytes()


def test_event_log_only_when_asked_and_consistent_with_the_flows(tmp_path):
    optional_file_only_when_asked_and_same_with_1_or_2_workers(tmp_path, "--event-log", "events.csv", "e")
    events = pd.read_csv(tmp_path / "e1" / "events.csv").rename(columns={"concept:name": "state"})
    assert list(events.columns) == ["case:concept:name", "state", "time:timestamp", "replication", "day",
                                    "municipality"]
    assert set(events.municipality) <= set(sc_mod.load(BASELINE).inflow.municipalities)
    series = pd.read_csv(tmp_path / "e1" / "series.csv")
    for state, flow in (("withdrawn", "withdrawals"), ("exit_intramural", "exits_intramural"),
                        ("ready_to_leave", "became_ready_to_leave")):
        from_log = events[(events.state == state) & (events.day > 0)].groupby("replication").size()
        from_flows = series[series.metric == flow].groupby("replication").value.sum()
        assert from_log.tolist() == from_flows.astype(int).tolist(), state
    # every client's first row is the state it entered the run in
    first = events.groupby("case:concept:name").state.first()
    assert set(first) <= {"waiting", "in_care", "ready_to_leave", "turned_away", "beschermd_thuis"}


def test_client_records_only_when_asked_identical_across_workers_and_matching_the_flows(tmp_path):
    optional_file_only_when_asked_and_same_with_1_or_2_workers(tmp_path, "--clients", "clients.csv", "c")
    clients = pd.read_csv(tmp_path / "c1" / "clients.csv", keep_default_na=False, na_values=[""])
    assert clients.client.is_unique and clients["case:concept:name"].is_unique
    series = pd.read_csv(tmp_path / "c1" / "series.csv")
    flows = series.groupby(["metric", "replication"]).value.sum()
    placed = clients[clients.placed.notna()].groupby("replication").size()
    assert placed.tolist() == flows["admissions"].astype(int).tolist()
    for destination, flow in (("intramural", "exits_intramural"), ("early", "exits_early"),
                              ("withdrawn", "withdrawals"), ("independent", "exits_independent")):
        counted = clients[clients.destination == destination].groupby("replication").size()
        assert counted.tolist() == flows[flow].astype(int).tolist(), destination
    assert set(clients.municipality) <= set(sc_mod.load(BASELINE).inflow.municipalities)


SMALL = ["-n", 2, "-w", 1]
COMMANDS = {
    "run": ["run", BASELINE, *SMALL, "--no-plots"],
    "compare": ["compare", BASELINE, BASELINE.parent / "more-contingent.yaml", *SMALL],
    "sweep": ["sweep", BASELINE, "--param", "bridging.places=0:40:40", "--metric", "waitlist", *SMALL],
    "verdeel": ["verdeel", BASELINE, *SMALL],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_out_never_replaces_what_the_user_owns(tmp_path, command):
    args = COMMANDS[command]
    own_file = tmp_path / "notes.txt"
    own_file.write_text("mine")
    own_folder = tmp_path / "own"
    own_folder.mkdir()
    (own_folder / "scenario.yaml").write_text("mine too")
    for target in (own_file, own_folder):
        result = run(*args, "--out", target)
        assert result.exit_code == 2, result.output
        assert str(target) in result.output and "nothing was written" in result.output
    assert own_file.read_text() == "mine" and (own_folder / "scenario.yaml").read_text() == "mine too"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "own"]  # nothing else written
    # an earlier result of bwsim is replaced, and can be replaced again
    for _ in range(2):
        result = run(*args, "--out", tmp_path / "res")
        assert result.exit_code == 0, result.output
    assert (tmp_path / "res" / ".bwsim-result").is_file()
    assert (tmp_path / "res").stat().st_mode & 0o077 != 0  # an ordinary folder, not a private one


def test_running_a_scenario_into_its_own_folder_is_refused(tmp_path):
    folder = tmp_path / "own"
    folder.mkdir()
    scenario = folder / "baseline.yaml"
    scenario.write_text(f"extends: {BASELINE}\nname: mine\n")
    result = run("run", scenario, "-n", 2, "--out", folder)
    assert result.exit_code == 2 and scenario.is_file()


def test_calibrated_by_default_first_guess_on_request(tmp_path):
    """The baseline runs on its calibration's posterior unless --first-guess; the replications need
    not be a multiple of --per-draw (the last draw gets fewer)."""
    calibrated = run("run", BASELINE, "-n", 4, "-k", 3, "-w", 1, "--no-plots", "--out", tmp_path / "c")
    assert calibrated.exit_code == 0, calibrated.output
    assert "calibrated: 2 posterior draws" in calibrated.output
    first = run("run", BASELINE, "-n", 4, "-w", 1, "--no-plots", "--first-guess", "--out", tmp_path / "f")
    assert first.exit_code == 0 and "first-guess parameters" in first.output
    assert json.loads((tmp_path / "f" / "manifest.json").read_text())["posterior"] is None
    a = pd.read_csv(tmp_path / "c" / "series.csv")
    b = pd.read_csv(tmp_path / "f" / "series.csv")
    assert not a["value"].equals(b["value"])  # different parameters, different numbers


def test_sweep_and_target_run_on_the_calibration_unless_first_guess(tmp_path):
    """Every value a sweep or target tries takes the same posterior draws as `run` would."""
    args = ["sweep", BASELINE, "-p", "bridging.places=0,40", "-n", 3, "-w", 1, "--set", "end=2018-01-01"]
    calibrated = run(*args, "--out", tmp_path / "c")
    assert calibrated.exit_code == 0, calibrated.output
    made = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert made["posterior"]["draws"] == 1 and made["parameters"].startswith("calibrated")
    first = run(*args, "--first-guess", "--out", tmp_path / "f")
    assert first.exit_code == 0 and json.loads((tmp_path / "f" / "manifest.json").read_text())["posterior"] is None
    assert not pd.read_csv(tmp_path / "c" / "sweep.csv").equals(pd.read_csv(tmp_path / "f" / "sweep.csv"))
    target = run("target", BASELINE, "-p", "uitstroom.housing.contingent.units_per_year", "--low", 0, "--high", 80,
                 "--max", 1000, "--year", 2017, "-n", 3, "-w", 1, "--set", "end=2018-01-01")
    assert target.exit_code == 0 and "calibrated: 1 posterior draws" in target.output


def test_a_set_key_the_calibration_fits_keeps_its_value_and_the_rest_is_still_drawn(tmp_path):
    """With the scenario's own calibration, --set on a fitted key (or a block holding one) fixes that key;
    the other fitted keys are still drawn from the posterior (the same rows as without the --set)."""
    from sim.cli.app import calibrated_draws
    from sim.config.scenario import load

    sc = load(BASELINE, ["inflow.per_year=90"])
    plain, _ = calibrated_draws(load(BASELINE), Path(sc.calibration.posterior), False, 6, 3, 1)
    draws, fixed = calibrated_draws(sc, Path(sc.calibration.posterior), False, 6, 3, 1, [("inflow.per_year", "--set")])
    assert fixed == ["inflow.per_year"] and all("inflow.per_year" not in d for d in draws)
    assert draws == [{k: v for k, v in d.items() if k != "inflow.per_year"} for d in plain]
    result = run("run", BASELINE, "-n", 3, "-w", 1, "--no-plots", "--set", "inflow.per_year=90",
                 "--set", "profiles.regular.stay={dist: fixed, value: 8, unit: years}", "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    made = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert made["parameters"].endswith("inflow.per_year, profiles.regular.stay.mean as set")
    assert made["posterior"]["draws"] == 1
