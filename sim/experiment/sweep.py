"""Sweeping one scenario parameter over a range of values, with common random numbers.

A parameter is a key path as in ``--set`` (``uitstroom.housing.contingent.units_per_year``,
``providers.RIBW K/AM.places``). Each value is run with the same seed, so the curve
of the metric against the parameter is smooth: replication ``r`` meets the same
clients at every value. The result has one row per value: the mean of the metric
with its 95% CI and the 5th and 95th percentiles over replications.

The helpers for a parameter (:func:`check_parameter`, :func:`scenario_at`) are
shared with :mod:`sim.experiment.target`.
"""

from __future__ import annotations

import math
import re
import warnings
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..config.scenario import Scenario, ScenarioError, from_mapping, with_values
from ..record.metrics import YEARLY, YEARLY_ROW
from .executors import Progress, default_workers, pool_for
from .replications import Results, mean_ci, posterior_variants, run_replications

MAX_VALUES = 200


class ParameterError(ValueError):
    """A parameter key, range, metric or year that cannot be used; the message says why."""


# ---------------------------------------------------------------- a parameter of a scenario


def key_parts(key: str) -> list[str]:
    """The parts of a key path, split as :func:`sim.config.scenario.apply_override` splits them."""
    return [p for p in key.strip().split(".") if p]


def with_value(data: dict, key: str, value: Any) -> dict:
    """A copy of the scenario mapping with ``key`` set to ``value`` (a number, not YAML text)."""
    return with_values(data, {".".join(key_parts(key)): value})


def scenario_at(data: dict, key: str, value: Any, source: str = "<scenario>") -> Scenario:
    """The validated scenario with ``key`` set to ``value``; :class:`ParameterError` if invalid."""
    try:
        return from_mapping(with_value(data, key, value), f"{source} with {key}={value}")
    except ScenarioError as exc:
        raise ParameterError(str(exc)) from None


def _missing_level(data: dict, parts: list[str]) -> tuple[str, list[str]] | None:
    """The first part of the path absent from the mapping, and the keys found at that level."""
    node: Any = data
    for i, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            keys = sorted(map(str, node)) if isinstance(node, dict) else []
            return ".".join(parts[: i + 1]), keys
        node = node[part]
    return None


def check_parameter(data: dict, key: str, values: list[float], source: str = "<scenario>") -> None:
    """Raise :class:`ParameterError` unless every value gives a valid scenario.

    A key path that the scenario does not spell out is accepted only if the schema knows it
    (a default); the message for a typo lists the keys that exist at that level.
    """
    parts = key_parts(key)
    if not parts:
        raise ParameterError("empty parameter key")
    missing = _missing_level(data, parts)
    for value in values:
        try:
            from_mapping(with_value(data, key, value), source)
        except ScenarioError as exc:
            message = str(exc)
            if missing is not None and ("unknown key" in message or f": {key}:" not in message):
                where, keys = missing
                known = f" (there: {', '.join(keys)})" if keys else ""
                raise ParameterError(f"{source}: {key}: unknown key path, {where!r} is not in the scenario"
                                     f"{known}") from None
            raise ParameterError(f"{key}={value}: {message}") from None


def metric_index(metric: str) -> int:
    if metric not in YEARLY:
        raise ParameterError(f"unknown metric {metric!r}; expected one of: {', '.join(YEARLY)}")
    return YEARLY_ROW[metric]


def metric_per_replication(results: Results, metric: str, year: int | None) -> np.ndarray:
    """The metric in ``year`` per replication, or its mean over the run's years if ``year`` is None."""
    values = results.yearly[:, metric_index(metric), :]
    if year is None:
        with warnings.catch_warnings():  # a replication with no value in any year gives NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(values, axis=1)
    years = results.calendar.years
    if year not in years:
        raise ParameterError(f"year {year} is not in the run ({years[0]}–{years[-1]})")
    return values[:, years.index(year)]


def check_year(scenario: Scenario, year: int | None) -> None:
    if year is not None and not scenario.start.year <= year < scenario.end.year:
        raise ParameterError(f"year {year} is not in the run ({scenario.start.year}–{scenario.end.year - 1})")


# ---------------------------------------------------------------- ranges


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def _number(text: str, spec: str) -> float | int:
    text = text.strip()
    if not re.fullmatch(_NUMBER, text):
        raise ParameterError(f"--param {spec}: {text!r} is not a number")
    value = float(text)
    return int(value) if re.fullmatch(r"[-+]?\d+", text) else value


def parse_range(spec: str) -> tuple[str, list[float | int]]:
    """``KEY=start:stop:step`` (stop included when the steps reach it) or ``KEY=v1,v2,...``."""
    if "=" not in spec:
        raise ParameterError(f"--param {spec}: expected KEY=start:stop:step or KEY=v1,v2,...")
    key, text = (s.strip() for s in spec.rsplit("=", 1))
    if not key_parts(key):
        raise ParameterError(f"--param {spec}: empty key")
    if ":" in text:
        pieces = text.split(":")
        if len(pieces) != 3:
            raise ParameterError(f"--param {spec}: expected start:stop:step, e.g. {key}=0:60:10")
        start, stop, step = (_number(p, spec) for p in pieces)
        if step <= 0:
            raise ParameterError(f"--param {spec}: the step must be positive")
        if stop < start:
            raise ParameterError(f"--param {spec}: stop ({stop}) is below start ({start})")
        count = math.floor((stop - start) / step + 1e-9) + 1
        if count > MAX_VALUES:
            raise ParameterError(f"--param {spec}: {count} values; at most {MAX_VALUES}")
        exact = all(isinstance(v, int) for v in (start, stop, step))
        values = [start + i * step if exact else round(start + i * step, 12) for i in range(count)]
    else:
        values = [_number(p, spec) for p in text.split(",") if p.strip()]
        if not values:
            raise ParameterError(f"--param {spec}: no values")
        if len(values) > MAX_VALUES:
            raise ParameterError(f"--param {spec}: {len(values)} values; at most {MAX_VALUES}")
    return key, values


# ---------------------------------------------------------------- the sweep


@dataclass
class Sweep:
    key: str
    metric: str
    year: int | None
    values: list[float | int]
    per_replication: np.ndarray  # [replication, value]
    seed: int
    scenario_name: str
    parameters: str = ""  # "calibrated: …" or "first-guess parameters", for the figure

    @property
    def what(self) -> str:
        return f"{self.metric} in {self.year}" if self.year is not None else f"{self.metric}, mean over the years"

    def frame(self) -> pd.DataFrame:
        mean, lo, hi = mean_ci(self.per_replication)
        with warnings.catch_warnings():  # a value with no finite result gives NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            p5, p95 = np.nanpercentile(self.per_replication, [5, 95], axis=0)
        n = np.sum(np.isfinite(self.per_replication), axis=0)
        return pd.DataFrame({"parameter": self.key, "value": self.values, "metric": self.metric,
                             "year": "mean" if self.year is None else self.year, "mean": mean,
                             "ci_low": lo, "ci_high": hi, "p5": p5, "p95": p95, "n": n})


def check_sweep(data: dict, key: str, values: list[float | int], metric: str, year: int | None,
                source: str = "<scenario>") -> list[Scenario]:
    """Validate a sweep before running anything; the scenario at each value."""
    if not values:
        raise ParameterError("no values to sweep")
    metric_index(metric)
    check_parameter(data, key, values, source)
    scenarios = [scenario_at(data, key, v, source) for v in values]
    check_year(scenarios[0], year)
    return scenarios


def drawn(scenario: Scenario, draws: list[dict] | None, per_draw: int, replications: int) -> list | None:
    """Replication r's scenario with posterior draw r // per_draw, or None without draws."""
    return posterior_variants(scenario, draws, per_draw)[:replications] if draws else None


def run_sweep(data: dict, key: str, values: list[float | int], metric: str, year: int | None = None,
              replications: int = 30, seed: int = 1, workers: int | None = None, progress: Progress | None = None,
              source: str = "<scenario>", executor: Executor | None = None, draws: list[dict] | None = None,
              per_draw: int = 1) -> Sweep:
    """Run the scenario mapping ``data`` at each value of ``key`` with the same seed. With ``draws``
    (posterior parameter sets), replication r of every value takes draw ``r // per_draw``."""
    scenarios = check_sweep(data, key, values, metric, year, source)
    workers = default_workers() if workers is None else workers
    with pool_for(executor, workers) as pool:
        columns = [metric_per_replication(run_replications(sc, replications, seed=seed, workers=workers,
                                                           progress=progress, executor=pool,
                                                           variants=drawn(sc, draws, per_draw, replications)),
                                          metric, year)
                   for sc in scenarios]
    return Sweep(key, metric, year, list(values), np.column_stack(columns), seed, scenarios[0].name)
