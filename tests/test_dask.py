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

app = load_app()
from sim.experiment.executors import DaskExecutor, open_executor, slots
from sim.experiment.replications import run_replications
from sim.config.scenario import load

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
