"""Simulating parameter sets: a few replications each, matched to the observations, over any
``concurrent.futures.Executor`` (a local process pool, Dask) or in this process.

A set's result depends on the scenario, its values, the seed and the replication numbers
only, never on where or in which order it ran: the same seed gives the same numbers with
one worker, many, or a Dask cluster.
"""

from __future__ import annotations

from concurrent.futures import Executor, as_completed
from typing import Any, Sequence

import numpy as np

from ...config import scenario as scenario_mod
from ...experiment.replication import run_replication
from ...record.metrics import MONTHLY
from ...model.calendar import Calendar
from .matching import Matcher
from .progress import Progress, ProgressEvent


def simulate_set(data: dict, values: dict[str, Any], seed: int, reps: Sequence[int], matcher: Matcher,
                 series: Sequence[str] = ()) -> tuple[np.ndarray, np.ndarray | None]:
    """One parameter set, a few replications: matched values (reps, obs) and optional monthly series."""
    sc = scenario_mod.from_mapping(scenario_mod.with_values(data, values))
    matched = np.empty((len(reps), len(matcher.rows)))
    rows = [MONTHLY.index(m) for m in series]
    monthly = np.empty((len(reps), len(rows), len(Calendar(sc.start, sc.end).dates))) if rows else None
    for i, r in enumerate(reps):
        rep = run_replication(sc, seed, r)
        matched[i] = matcher(rep.monthly, rep.municipal, rep.financed)
        if monthly is not None:
            monthly[i] = rep.monthly[rows]
    return matched, monthly


def run_sets(tasks: list[tuple], stage: str, progress: Progress, executor: Executor | None) -> list[tuple]:
    """Run ``simulate_set(*task)`` for each task, results in task order, over the executor if any."""
    out: list = [None] * len(tasks)
    progress(ProgressEvent(stage, 0, len(tasks)))
    if executor is None:
        for i, task in enumerate(tasks):
            out[i] = simulate_set(*task)
            progress(ProgressEvent(stage, i + 1, len(tasks)))
        return out
    futures = {executor.submit(simulate_set, *task): i for i, task in enumerate(tasks)}
    try:
        for done, future in enumerate(as_completed(futures), start=1):
            out[futures[future]] = future.result()
            progress(ProgressEvent(stage, done, len(tasks)))
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return out
