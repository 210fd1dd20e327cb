"""Global sensitivity of outputs to the free parameters (Morris), and the split of a
posterior run's variance into a parameter and a stochastic part (the runs themselves:
``experiment.posterior_variants``).

Morris elementary effects (SALib) are computed on the unit hypercube of each
parameter's range, so ``mu_star`` reads as "how much the output moves when the
parameter goes across its whole range" (in the output's own unit, e.g. people on
the waitlist), and ``sigma`` flags interactions and non-linearity. Every Morris
point is simulated with the same replications (common random numbers) and
averaged over them; the points run on ``executor`` when one is given (a process pool,
Dask), else on a local pool of ``workers`` processes, with the same numbers either way.
The library never prints; the results folder is written by
:func:`sim.report.calibration_report.write_morris`.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import Executor
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..config import scenario as scenario_mod
from ..experiment.executors import pool_for
from ..model.calendar import Calendar
from .calibrate import (
    CalibrationError,
    Config,
    Matcher,
    Observation,
    Progress,
    no_progress,
    read_posterior,
    run_sets,
    weighted_quantile,
)

OUTPUTS = ("waitlist", "occupied", "ready_to_leave")


# ---------------------------------------------------------------- Morris


def ranges_from_posterior(path: str | Path, keys: Sequence[str], q: tuple[float, float] = (0.05, 0.95)) -> dict:
    """Each parameter's weighted 5-95% interval in a posterior.csv."""
    frame = read_posterior(path)
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        raise CalibrationError(f"{path}: no column for parameter(s) {', '.join(missing)}")
    w = frame["weight"].to_numpy(float)
    out = {}
    for key in keys:
        lo, hi = weighted_quantile(frame[key].to_numpy(float), w, list(q))
        out[key] = (float(lo), float(hi) if hi > lo else float(lo) + 1e-9)
    return out


def check_ranges(config: Config, ranges: dict | None = None, source: str | Path | None = None) -> None:
    """Every corner the Morris design can reach (each parameter at either end of its range) is a
    scenario the schema accepts; else :class:`CalibrationError` naming the parameter (and the
    ``source`` of the ranges, e.g. a posterior.csv)."""
    ranges = ranges or {}
    for p in config.parameters:
        low, high = ranges.get(p.key, (p.low, p.high))
        for value in (low, high):
            try:
                scenario_mod.from_mapping(scenario_mod.with_values(config.scenario_data, {p.key: p.value(value)}),
                                          str(config.scenario_path))
            except scenario_mod.ScenarioError as exc:
                where = "posterior 5-95% range" if p.key in ranges else "prior range"
                raise CalibrationError(f"{f'{source}: ' if source else ''}{p.key}: its {where} {low:g} to {high:g} "
                                       "reaches a value the scenario "
                                       f"refuses: {exc}") from None


def morris(config: Config, year: int = 2022, trajectories: int = 20, levels: int = 4, replications: int = 4,
           outputs: Sequence[str] = OUTPUTS, ranges: dict | None = None, seed: int | None = None,
           workers: int | None = None, progress: Progress | None = None,
           executor: Executor | None = None) -> pd.DataFrame:
    """Morris screening of the stocks ``outputs`` on 31 December of ``year``; one row per output and parameter."""
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample

    progress = progress or no_progress
    seed = config.method.seed if seed is None else seed
    data = config.scenario_data
    sc = scenario_mod.from_mapping(data)
    day = dt.date(year, 12, 31)
    targets = [Observation(0, m, day, day, "point", 0.0, 1.0, "check", "") for m in outputs]
    try:
        matcher = Matcher.build(targets, Calendar(sc.start, sc.end))
    except CalibrationError:
        raise CalibrationError(f"{config.scenario_path}: the run ({sc.start} to {sc.end}) does not reach "
                               f"31 December {year}") from None
    ranges = ranges or {}
    params = config.parameters
    bounds = [list(ranges.get(p.key, (p.low, p.high))) for p in params]
    check_ranges(config, ranges)
    problem = {"num_vars": len(params), "names": [p.key for p in params], "bounds": bounds}
    x = morris_sample.sample(problem, N=trajectories, num_levels=levels, seed=seed)
    reps = tuple(range(replications))
    tasks = [(data, {p.key: p.value(v) for p, v in zip(params, row)}, seed, reps, matcher) for row in x]
    with pool_for(executor, workers) as pool:
        y = np.stack([m.mean(axis=0) for m, _ in run_sets(tasks, "morris", progress, pool)])
    rows = []
    for k, output in enumerate(outputs):
        res = morris_analyze.analyze(problem, x, y[:, k], num_levels=levels, seed=seed)
        order = np.argsort(-np.asarray(res["mu_star"]))
        rank = np.empty(len(params), int)
        rank[order] = np.arange(1, len(params) + 1)
        for i, p in enumerate(params):
            rows.append({"output": output, "date": day.isoformat(), "parameter": p.key, "low": bounds[i][0],
                         "high": bounds[i][1], "mu": float(res["mu"][i]), "mu_star": float(res["mu_star"][i]),
                         "mu_star_conf": float(res["mu_star_conf"][i]), "sigma": float(res["sigma"][i]),
                         "rank": int(rank[i]), "output_mean": float(np.mean(y[:, k]))})
    return pd.DataFrame(rows)
