"""Replications on a Dask cluster equal the serial run with the same seed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")

from distributed import LocalCluster
from typer.testing import CliRunner

from sim.cli import load_app
from sim.config.scenario import load
from sim.experiment.executors import DaskExecutor, open_executor, slots
from sim.experiment.replications import run_replications

app = load_app()

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "haarlem" / "baseline.yaml"
SEED = 11
REPLICATIONS = 4


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c:
        yield c


@pytest.fixture(scope="module")
def serial():
    return run_replications(load(BASELINE), REPLICATIONS, seed=SEED, workers=1)


def test_dask_equals_serial(cluster, serial):
    with open_executor("dask", scheduler=cluster.scheduler_address) as ex:
        assert isinstance(ex, DaskExecutor)
        assert slots(ex) == 2
        results = run_replications(load(BASELINE), REPLICATIONS, seed=SEED, workers=slots(ex), executor=ex)
    assert np.array_equal(results.monthly, serial.monthly, equal_nan=True)
    assert np.array_equal(results.yearly, serial.yearly, equal_nan=True)


def test_local_cluster_without_address(serial):
    """No scheduler address: the executor starts (and closes) its own LocalCluster."""
    with open_executor("dask", workers=2) as ex:
        assert ex.cluster is not None and slots(ex) == 2
        results = run_replications(load(BASELINE), 2, seed=SEED, workers=2, executor=ex)
    assert ex.cluster.status.name == "closed"
    assert np.array_equal(results.monthly, serial.monthly[:2], equal_nan=True)


def test_cli_runs_on_a_dask_scheduler(cluster, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(BASELINE), "-n", "2", "--no-plots", "--out", str(out),
                                      "--executor", "dask", "--scheduler", cluster.scheduler_address])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "manifest.json").read_text())["replications"] == 2


def test_scheduler_needs_dask():
    result = CliRunner().invoke(app, ["run", str(BASELINE), "--scheduler", "tcp://127.0.0.1:1"])
    assert result.exit_code == 2


def test_unknown_executor():
    with pytest.raises(ValueError, match="unknown executor"):
        open_executor("threads")


def _invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("command, args, files", [
    ("compare", [BASELINE, BASELINE.parent / "more-contingent.yaml", "-n", 2], ["comparison.csv"]),
    ("sweep", [BASELINE, "-p", "uitstroom.housing.contingent.units_per_year=10,30", "-n", 2], ["sweep.csv"]),
])
def test_every_command_that_runs_replications_gives_the_same_numbers_on_dask(cluster, tmp_path, command, args,
                                                                             files):
    """compare and sweep (run, verdeel, calibrate and sensitivity have their own tests) write the
    same files on a Dask cluster as with a local pool of 2 workers."""
    local, dask = tmp_path / "local", tmp_path / "dask"
    assert _invoke(command, *args, "-w", 2, "--out", local).exit_code == 0
    result = _invoke(command, *args, "--out", dask, "--executor", "dask", "--scheduler", cluster.scheduler_address)
    assert result.exit_code == 0, result.output
    for name in files:
        assert (dask / name).read_bytes() == (local / name).read_bytes(), name


def test_target_gives_the_same_answer_on_dask(cluster):
    args = ["target", BASELINE, "-p", "uitstroom.housing.contingent.units_per_year", "--low", 0, "--high", 40,
            "--metric", "ready_to_leave", "--max", 60, "--year", 2016, "-n", 2]
    local = _invoke(*args, "-w", 2)
    dask = _invoke(*args, "--executor", "dask", "--scheduler", cluster.scheduler_address)
    assert local.exit_code == dask.exit_code == 0, dask.output
    assert "Smallest" in local.stdout and local.stdout == dask.stdout  # stdout: the table and answer, no timings


@pytest.mark.parametrize("address", ["not-an-address", "tcp://", "http://localhost:8786"])
def test_a_scheduler_address_that_is_not_one_is_one_line(address):
    result = _invoke("run", BASELINE, "-n", 1, "--executor", "dask", "--scheduler", address)
    assert result.exit_code == 2
    assert "--scheduler" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 2
