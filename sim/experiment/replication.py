"""One replication: build the world with its recorder, run it, turn the record into metrics.

A replication returns small arrays (see :mod:`sim.record.metrics`), so that many
replications stack and travel cheaply between processes.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import numpy as np

from ..config.scenario import Scenario
from ..model.world import World
from ..record.metrics import financed_metrics, monthly_metrics, municipal_metrics, yearly_metrics
from ..record.monitor import Monitor


@dataclass
class Replication:
    monthly: np.ndarray  # (len(MONTHLY), len(dates)); flows are NaN on the last date
    yearly: np.ndarray  # (len(YEARLY), len(years))
    municipal: np.ndarray  # (municipalities, 2 cohorts, len(MUNICIPAL), len(years)); see municipal_metrics
    financed: np.ndarray | None = None  # (2 financings, len(FINANCED), len(dates)); see financed_metrics
    journeys: dict | None = None
    monitor: Monitor | None = None
    events: dict | None = None  # the event log, when asked for (see Monitor.event_log)
    clients: dict | None = None  # one record per client, when asked for (see Monitor.client_records)


@contextmanager
def _gc_paused():
    """A replication makes many short-lived objects but no garbage cycles worth collecting
    mid-run; the cyclic collector was 44% of a large run's time (benchmarks/README.md)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run_replication(scenario: Scenario, seed: int, replication: int, *, keep_journeys: bool = False,
                    keep_monitor: bool = False, log_events: bool = False,
                    keep_clients: bool = False) -> Replication:
    with _gc_paused():
        world = World(scenario, seed, replication, partial(Monitor, log_events=log_events,
                                                          keep_clients=keep_clients or keep_monitor))
        mon = world.run()
        monthly = monthly_metrics(mon, scenario)
        return Replication(
            monthly=monthly,
            yearly=yearly_metrics(mon, monthly),
            municipal=municipal_metrics(mon, scenario),
            financed=financed_metrics(mon, monthly),
            journeys=mon.journeys() if keep_journeys else None,
            monitor=mon if keep_monitor else None,
            events=mon.event_log(),
            clients=mon.client_records(replication) if keep_clients else None,
        )
