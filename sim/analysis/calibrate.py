"""Calibration: fit a scenario's free parameters to observations with ABC-SMC.

This module holds the configuration, the matching of simulated to observed values,
checkpoints, outputs and validation; the algorithm itself is in ``sim.abc_smc``.

The method is the adaptive population Monte Carlo ABC of Lenormand, Jabot and
Deffuant (2013, "Adaptive approximate Bayesian computation for complex models",
Computational Statistics 28:2777): a population of ``N`` parameter sets is drawn
from the prior; each generation keeps the ``alpha * N`` sets closest to the
observations (the tolerance is the alpha-quantile of the distances, so it adapts
by itself), refills the population by resampling the kept sets by weight and
perturbing them with a Gaussian kernel (twice their weighted covariance), and
gives each new set the importance weight prior / proposal. It stops when the
share of new sets that beat the previous tolerance drops below
``min_acceptance`` or after ``generations`` generations. The kept sets with
their weights are the posterior: a set of plausible parameter values, not a
point.

Parameters have uniform priors on ``[low, high]``. The kernel works on the logit
of each parameter's position in its range, so proposals never leave the prior
and the importance weights stay exact (the prior of a logit of a uniform is the
logistic density).

Every parameter set is simulated with the same seed and replications ``0..k-1``
(common random numbers), the distance is the root mean square of
``(mean of the k replications - observed) / scale`` over the fitted
observations, with ``scale`` the observation's own error and a model
discrepancy added in quadrature. Each generation is checkpointed atomically, and
generation ``t`` draws its random numbers from ``(seed, t)`` only, so a resumed
run gives exactly the result of an uninterrupted one.

The library never prints; progress goes to a callback.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import math
import os
import tempfile
import time
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..config import scenario as scenario_mod
from .abc_smc import Box, Generation, abc_smc, scaled_rms
from ..model.calendar import Calendar
from ..experiment.replications import default_workers
from ..experiment.replication import KIND, MONTHLY, MUNICIPAL, MUNICIPAL_STOCKS, run_replication

MATCHES = ("point", "total", "average")
USES = ("fit", "check")
HOLDOUT = "holdout"  # a fit observation after the validation cut-off
OBS_COLUMNS = ("date_or_period", "metric", "value", "source", "match")
SERIES = ("waitlist", "ready_to_leave", "occupied")
BAND = (5.0, 95.0)  # the 90% band of predictions and intervals


class CalibrationError(ValueError):
    """A calibration that cannot be run; the message names the file and key."""


@dataclass(frozen=True)
class ProgressEvent:
    """``done`` of ``total`` tasks of ``stage`` are finished; ``info`` summarises a finished generation."""

    stage: str
    done: int
    total: int
    info: str = ""


Progress = Callable[[ProgressEvent], None]


def _no_progress(_event: ProgressEvent) -> None:
    return None


# ---------------------------------------------------------------- the configuration


class _Prior(BaseModel):
    model_config = ConfigDict(extra="forbid")
    low: float
    high: float
    integer: bool = False


class _Distance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["scaled_rms"] = "scaled_rms"
    discrepancy_relative: float = Field(0.05, ge=0)


class Method(BaseModel):
    """ABC-SMC settings: ``population`` sets per generation, of which ``alpha`` are kept."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["abc-smc"] = "abc-smc"
    population: int = Field(400, ge=4)
    alpha: float = Field(0.5, gt=0, lt=1)
    generations: int = Field(10, ge=1)
    min_acceptance: float = Field(0.05, ge=0, le=1)
    replications: int = Field(3, ge=1)
    seed: int = 1

    @property
    def kept(self) -> int:
        return max(2, int(self.alpha * self.population))


class _Predictive(BaseModel):
    model_config = ConfigDict(extra="forbid")
    draws: int = Field(200, ge=2)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scenario: str
    observations: str
    parameters: dict[str, _Prior] = Field(min_length=1)
    distance: _Distance = _Distance()
    method: Method = Method()
    predictive: _Predictive = _Predictive()


@dataclass(frozen=True)
class Parameter:
    key: str
    low: float
    high: float
    integer: bool = False

    def value(self, x: float) -> float | int:
        return int(round(x)) if self.integer else float(x)


@dataclass(frozen=True)
class Observation:
    """One observed number and how the model output is matched to it."""

    row: int
    metric: str
    start: dt.date
    end: dt.date  # equal to start for a point in time; inclusive last day of a period
    match: str
    value: float
    sd: float
    use: str
    source: str
    note: str = ""
    municipality: str | None = None  # ``occupied[Heemstede]``: that municipality's residents only

    @property
    def period(self) -> str:
        return self.start.isoformat() if self.match == "point" else f"{self.start}/{self.end}"

    @property
    def label(self) -> str:
        return f"{self.metric}[{self.municipality}]" if self.municipality else self.metric

    @property
    def name(self) -> str:
        return f"{self.label} {self.period}"


@dataclass(frozen=True)
class Config:
    path: Path
    scenario_path: Path
    observations_path: Path
    scenario_data: dict  # the resolved scenario mapping (``extends:`` applied)
    parameters: tuple[Parameter, ...]
    observations: tuple[Observation, ...]
    method: Method
    discrepancy_relative: float
    predictive_draws: int
    cutoff: dt.date | None = None

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.parameters]

    @property
    def fitted(self) -> list[Observation]:
        return [o for o in self.observations if o.use == "fit"]

    def scales(self) -> np.ndarray:
        """Per fitted observation: observation error and model discrepancy in quadrature."""
        return np.array([math.hypot(o.sd, self.discrepancy_relative * abs(o.value)) for o in self.fitted])


def _check_parameters(path: Path, priors: dict[str, _Prior], data: dict) -> tuple[Parameter, ...]:
    params = []
    for key, prior in priors.items():
        if not prior.low < prior.high:
            raise CalibrationError(f"{path}: parameters.{key}: prior low ({prior.low:g}) must be below high ({prior.high:g})")
        p = Parameter(key, prior.low, prior.high, prior.integer)
        for x in (p.low, p.high):
            try:
                scenario_mod.from_mapping(scenario_mod.with_values(data, {key: p.value(x)}), "scenario")
            except scenario_mod.ScenarioError as exc:
                detail = str(exc).replace("\n", "; ")
                raise CalibrationError(
                    f"{path}: parameters.{key}: not a valid scenario key path (setting it to {x:g} gives: {detail})"
                ) from None
        params.append(p)
    return tuple(params)


def _date(text: str, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise CalibrationError(f"{where}: not a date (YYYY-MM-DD): {text!r}") from None


def _next_day(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=1)


def read_observations(path: str | Path) -> list[Observation]:
    """Read and check an observations CSV (columns ``OBS_COLUMNS``; optional ``sd``, ``use``, ``note``)."""
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(f"{path}: observations file not found")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    if not rows:
        raise CalibrationError(f"{path}: no observations")
    missing = [c for c in OBS_COLUMNS if c not in rows[0]]
    if missing:
        raise CalibrationError(f"{path}: missing column(s) {', '.join(missing)}")
    out = []
    for i, row in enumerate(rows, start=2):  # line 1 is the header
        where = f"{path}: line {i}"
        metric, municipality = _split_metric(row["metric"].strip(), where)
        match = row["match"].strip()
        if match not in MATCHES:
            raise CalibrationError(f"{where}: match {match!r} must be one of {', '.join(MATCHES)}")
        stock = metric in MUNICIPAL_STOCKS if municipality else KIND[metric] == "stock"
        if match == "point" and not stock:
            raise CalibrationError(f"{where}: {metric} is a flow; match it as a period 'total' or 'average'")
        if match == "total" and stock:
            raise CalibrationError(f"{where}: {metric} is a stock; a period 'total' needs a flow")
        if municipality and match == "average":
            raise CalibrationError(f"{where}: a municipality's {metric} is kept per year; match it as 'point' or 'total'")
        when = row["date_or_period"].strip()
        if match == "point":
            if "/" in when:
                raise CalibrationError(f"{where}: a point observation needs one date, got {when!r}")
            start = end = _date(when, where)
        else:
            if "/" not in when:
                raise CalibrationError(f"{where}: a '{match}' observation needs a period start/end, got {when!r}")
            start, end = (_date(part, where) for part in when.split("/", 1))
            if start.day != 1 or _next_day(end).day != 1 or end < start:
                raise CalibrationError(f"{where}: the period {when} must run from a first to a last day of a month")
        try:
            value = float(row["value"])
            sd = float(row.get("sd") or "nan")
        except ValueError:
            raise CalibrationError(f"{where}: value and sd must be numbers") from None
        if not sd > 0:
            raise CalibrationError(f"{where}: sd (the observation error) must be a positive number")
        use = (row.get("use") or "fit").strip()
        if use not in USES:
            raise CalibrationError(f"{where}: use {use!r} must be one of {', '.join(USES)}")
        out.append(Observation(i, metric, start, end, match, value, sd, use, row["source"].strip(),
                               (row.get("note") or "").strip(), municipality))
    return out


def _split_metric(text: str, where: str) -> tuple[str, str | None]:
    """``waitlist`` for the region, ``occupied[Heemstede]`` for one municipality's residents."""
    metric, _, rest = text.partition("[")
    municipality = rest.removesuffix("]").strip() if rest else None
    known = MUNICIPAL if municipality else MONTHLY
    if metric not in known or (rest and not rest.endswith("]")):
        what = "per municipality " if municipality else ""
        raise CalibrationError(f"{where}: metric {text!r} is not produced {what}by the model (known: {', '.join(known)}"
                               + ("" if municipality else "; per municipality: metric[name]") + ")")
    return metric, municipality


def record_indices(obs: Observation, calendar: Calendar) -> list[int]:
    """The monthly records an observation is matched to.

    A point date that is the first of a month is that month's record; the last
    day of a month is read at the end of the day, i.e. the next month's record.
    A period covers the monthly records whose month starts inside it.
    """
    dates = calendar.dates
    if obs.municipality:
        return [_year_index(obs, calendar)]
    if obs.match == "point":
        for day in (obs.start, _next_day(obs.start)):
            if day in dates:
                return [dates.index(day)]
        if calendar.start <= obs.start < calendar.end:
            raise CalibrationError(f"{obs.name}: a point in time must be the first or last day of a month")
        raise CalibrationError(f"{obs.name}: outside the run ({calendar.start} to {calendar.end})")
    stop = _next_day(obs.end)
    if obs.start not in dates or stop not in dates:
        raise CalibrationError(f"{obs.name}: the period is not within the run ({calendar.start} to {calendar.end})")
    return list(range(dates.index(obs.start), dates.index(stop)))


def _year_index(obs: Observation, calendar: Calendar) -> int:
    """Municipal metrics are yearly: stocks on 31 December, flows over a calendar year."""
    year = obs.start.year
    whole_year = (obs.start == dt.date(year, 12, 31) if obs.match == "point"
                  else (obs.start, obs.end) == (dt.date(year, 1, 1), dt.date(year, 12, 31)))
    if not whole_year:
        raise CalibrationError(f"{obs.name}: per municipality only 31 December (stocks) or a calendar year (flows)")
    if _next_day(dt.date(year, 12, 31)) > calendar.end:
        raise CalibrationError(f"{obs.name}: outside the run ({calendar.start} to {calendar.end})")
    return calendar.years.index(year)


def load_config(path: str | Path, cutoff: dt.date | None = None) -> Config:
    """Read a calibration file; with ``cutoff``, fitted observations ending after it are held out."""
    path = Path(path)
    raw = scenario_mod.read_yaml(path, CalibrationError)
    try:
        spec = _File.model_validate(raw)
    except ValidationError as exc:
        raise CalibrationError(scenario_mod.format_errors(str(path), exc)) from None
    scenario_path = (path.parent / spec.scenario).resolve()
    if not scenario_path.is_file():
        raise CalibrationError(f"{path}: scenario: file not found: {scenario_path}")
    try:
        data = scenario_mod.load_raw(scenario_path)
        base = scenario_mod.from_mapping(data, str(scenario_path))
    except scenario_mod.ScenarioError as exc:
        raise CalibrationError(f"{path}: scenario: {exc}") from None
    obs_path = (path.parent / spec.observations).resolve()
    observations = read_observations(obs_path)
    calendar = Calendar(base.start, base.end)
    for obs in observations:
        try:
            record_indices(obs, calendar)
            if obs.municipality and obs.municipality not in base.inflow.municipalities:
                raise CalibrationError(f"{obs.name}: {obs.municipality!r} is not one of the scenario's municipalities "
                                       f"({', '.join(base.inflow.municipalities)})")
        except CalibrationError as exc:
            raise CalibrationError(f"{obs_path}: line {obs.row}: {exc}") from None
    if cutoff is not None:
        observations = [replace(o, use=HOLDOUT) if o.use == "fit" and o.end > cutoff else o for o in observations]
    if not any(o.use == "fit" for o in observations):
        raise CalibrationError(f"{obs_path}: no observation to fit" + (f" up to {cutoff}" if cutoff else ""))
    return Config(
        path=path,
        scenario_path=scenario_path,
        observations_path=obs_path,
        scenario_data=data,
        parameters=_check_parameters(path, spec.parameters, data),
        observations=tuple(observations),
        method=spec.method,
        discrepancy_relative=spec.distance.discrepancy_relative,
        predictive_draws=spec.predictive.draws,
        cutoff=cutoff,
    )


# ---------------------------------------------------------------- scenario plumbing


def _drop_dated_after(node: Any, end: dt.date) -> Any:
    """A copy without list entries that carry a ``date`` after ``end`` (schedules, conversions, ...)."""
    if isinstance(node, dict):
        return {k: _drop_dated_after(v, end) for k, v in node.items()}
    if isinstance(node, list):
        return [_drop_dated_after(v, end) for v in node
                if not (isinstance(v, dict) and "date" in v and dt.date.fromisoformat(str(v["date"])) > end)]
    return node


def trimmed(data: dict, end: dt.date) -> dict:
    """The scenario run only up to ``end`` when that is earlier: dated changes after it are dropped.

    Nothing after ``end`` can change what happens before it, so the records up to
    ``end`` have the same distribution. If the trimmed scenario does not validate
    (e.g. a list that must not be empty), the full run is kept.
    """
    if end >= scenario_mod.from_mapping(data).end:
        return data
    out = {**_drop_dated_after(data, end), "end": end}
    try:
        scenario_mod.from_mapping(out)
    except scenario_mod.ScenarioError:
        return data
    return out


def fit_data(config: Config) -> dict:
    """The scenario for fitting: it stops at the first record after the last fitted observation."""
    last = max(_next_day(o.end) for o in config.fitted)
    return trimmed(config.scenario_data, last)


@dataclass(frozen=True)
class Matcher:
    """Turns a replication's records into one number per observation.

    Regional observations read the monthly matrix; a municipality's read the yearly
    per-municipality array (summed over both cohorts).
    """

    rows: tuple[int, ...]
    indices: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]
    groups: tuple[int, ...] = ()  # municipality index per observation, -1 for the region

    @classmethod
    def build(cls, observations: Sequence[Observation], calendar: Calendar,
              municipalities: Sequence[str] = ()) -> "Matcher":
        names = list(municipalities)
        return cls(tuple(MUNICIPAL.index(o.metric) if o.municipality else MONTHLY.index(o.metric) for o in observations),
                   tuple(tuple(record_indices(o, calendar)) for o in observations),
                   tuple(o.match for o in observations),
                   tuple(names.index(o.municipality) if o.municipality else -1 for o in observations))

    def __call__(self, monthly: np.ndarray, municipal: np.ndarray | None = None) -> np.ndarray:
        out = np.empty(len(self.rows))
        groups = self.groups or (-1,) * len(self.rows)
        for k, (row, idx, op, group) in enumerate(zip(self.rows, self.indices, self.ops, groups)):
            if group >= 0:
                out[k] = municipal[group, :, row, idx[0]].sum()
                continue
            values = monthly[row, list(idx)]
            out[k] = values.sum() if op == "total" else values.mean()
        return out


def simulate_set(data: dict, values: dict[str, Any], seed: int, reps: Sequence[int], matcher: Matcher,
                 series: Sequence[str] = ()) -> tuple[np.ndarray, np.ndarray | None]:
    """One parameter set, a few replications: matched values (reps, obs) and optional monthly series."""
    sc = scenario_mod.from_mapping(scenario_mod.with_values(data, values))
    matched = np.empty((len(reps), len(matcher.rows)))
    rows = [MONTHLY.index(m) for m in series]
    monthly = np.empty((len(reps), len(rows), len(Calendar(sc.start, sc.end).dates))) if rows else None
    for i, r in enumerate(reps):
        rep = run_replication(sc, seed, r)
        matched[i] = matcher(rep.monthly, rep.municipal)
        if monthly is not None:
            monthly[i] = rep.monthly[rows]
    return matched, monthly


def run_sets(tasks: list[tuple], stage: str, progress: Progress, executor: Executor | None) -> list[tuple]:
    """Run ``simulate_set(*task)`` for each task, in order, over the executor if any."""
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


# ---------------------------------------------------------------- checkpoints


def write_atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Write through ``write(tmp)`` to a temporary file beside ``path``, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def digest(config: Config) -> str:
    """What a checkpoint depends on (stopping rules excluded, so a run can be extended)."""
    payload = {
        "scenario": fit_data(config),
        "parameters": [vars(p) for p in config.parameters],
        "observations": [(o.label, o.period, o.match, o.value, o.sd) for o in config.fitted],
        "discrepancy": config.discrepancy_relative,
        "method": config.method.model_dump(exclude={"generations", "min_acceptance"}),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def save_checkpoint(folder: Path, gen: Generation, key: str) -> Path:
    path = folder / f"gen_{gen.index:03d}.npz"

    def write(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            np.savez(fh, u=gen.u, weights=gen.weights, distances=gen.distances, sims=gen.sims,
                     scalars=np.array([gen.epsilon, gen.acceptance, gen.simulated, gen.index]),
                     digest=np.array(key))

    return write_atomic(path, write)


def load_checkpoints(folder: Path, key: str) -> list[Generation]:
    """Every checkpointed generation, in order; an error if they belong to another configuration."""
    history = []
    for path in sorted(folder.glob("gen_*.npz")):
        with np.load(path) as z:
            if str(z["digest"]) != key:
                raise CalibrationError(f"{path}: checkpoint of a different configuration; run without --resume")
            eps, acc, simulated, index = z["scalars"]
            if int(index) != len(history):
                raise CalibrationError(f"{path}: generation {int(index)} follows {len(history) - 1}; checkpoints incomplete")
            history.append(Generation(int(index), z["u"], z["weights"], z["distances"], z["sims"], float(eps),
                                      float(acc), int(simulated)))
    return history


# ---------------------------------------------------------------- the calibration


@dataclass
class Calibration:
    config: Config
    history: list[Generation]
    posterior: pd.DataFrame  # one row per kept set: parameters, weight, distance
    fitted: pd.DataFrame
    predictive: pd.DataFrame
    wall_seconds: float
    out: Path
    resumed_from: int = 0
    series: dict = field(default_factory=dict)


def posterior_frame(config: Config, gen: Generation) -> pd.DataFrame:
    box = _box(config)
    x = box.to_x(gen.u)
    frame = pd.DataFrame({p.key: [p.value(v) for v in x[:, i]] for i, p in enumerate(config.parameters)})
    frame["weight"] = gen.normalised
    frame["distance"] = gen.distances
    return frame


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """Quantiles (0-1) of a weighted sample, interpolating the weighted empirical CDF at mid-points."""
    order = np.argsort(values, kind="stable")
    v, w = np.asarray(values, float)[order], np.asarray(weights, float)[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(q, cdf, v)


def fitted_table(config: Config, posterior: pd.DataFrame) -> pd.DataFrame:
    rows = []
    w = posterior["weight"].to_numpy()
    for p in config.parameters:
        x = posterior[p.key].to_numpy(float)
        p5, p50, p95 = weighted_quantile(x, w, [0.05, 0.5, 0.95])
        rows.append({"parameter": p.key, "prior_low": p.low, "prior_high": p.high, "mean": float(np.average(x, weights=w)),
                     "median": p50, "p5": p5, "p95": p95, "width_vs_prior": (p95 - p5) / (0.9 * (p.high - p.low))})
    return pd.DataFrame(rows)


def _box(config: Config) -> Box:
    return Box(np.array([p.low for p in config.parameters]), np.array([p.high for p in config.parameters]))


def parameter_values(config: Config, x: np.ndarray) -> dict[str, float]:
    """One parameter set (a row of x) as scenario key paths and values."""
    return {p.key: p.value(v) for p, v in zip(config.parameters, x)}


def predictive(config: Config, draws_x: np.ndarray, stage: str, progress: Progress,
               executor: Executor | None) -> tuple[np.ndarray, np.ndarray]:
    """Draw r on the full horizon with replication r: matched values (draws, obs) and series."""
    data = config.scenario_data
    sc = scenario_mod.from_mapping(data)
    matcher = Matcher.build(config.observations, Calendar(sc.start, sc.end), list(sc.inflow.municipalities))
    tasks = [(data, parameter_values(config, x), config.method.seed, (r,), matcher, SERIES) for r, x in enumerate(draws_x)]
    results = run_sets(tasks, stage, progress, executor)
    return np.concatenate([m for m, _ in results]), np.concatenate([s for _, s in results])


def predictive_table(config: Config, prior: np.ndarray, post: np.ndarray) -> pd.DataFrame:
    rows = []
    for k, o in enumerate(config.observations):
        a = np.nanpercentile(prior[:, k], [BAND[0], 50, BAND[1]])
        b = np.nanpercentile(post[:, k], [BAND[0], 50, BAND[1]])
        rows.append({"observation": o.name, "metric": o.label, "date_or_period": o.period, "match": o.match,
                     "use": o.use, "observed": o.value, "sd": o.sd, "prior_p5": a[0], "prior_p50": a[1],
                     "prior_p95": a[2], "post_mean": float(np.nanmean(post[:, k])), "post_p5": b[0],
                     "post_p50": b[1], "post_p95": b[2], "covered_prior": bool(a[0] <= o.value <= a[2]),
                     "covered": bool(b[0] <= o.value <= b[2]),
                     "error_of_mean": float(np.nanmean(post[:, k])) - o.value})
    return pd.DataFrame(rows)


def calibrate(config: Config, out: str | Path, workers: int | None = None, resume: bool = False,
              progress: Progress | None = None, plots: bool = True) -> Calibration:
    """Fit ``config`` and write the results folder ``out`` (checkpoints in ``out/checkpoints``)."""
    progress = progress or _no_progress
    out = Path(out)
    started = time.perf_counter()
    method = config.method
    data = fit_data(config)
    sc = scenario_mod.from_mapping(data)
    matcher = Matcher.build(config.fitted, Calendar(sc.start, sc.end), list(sc.inflow.municipalities))
    observed = np.array([o.value for o in config.fitted])
    box = _box(config)
    key = digest(config)
    folder = out / "checkpoints"
    if resume:
        history = load_checkpoints(folder, key) if folder.is_dir() else []
    else:
        history = []
        for old in folder.glob("gen_*.npz"):
            old.unlink()
    resumed_from = len(history)
    workers = default_workers() if workers is None else workers
    executor = ProcessPoolExecutor(max_workers=workers) if workers > 1 else None
    try:
        def simulate(x: np.ndarray, t: int) -> np.ndarray:
            reps = tuple(range(method.replications))
            tasks = [(data, parameter_values(config, row), method.seed, reps, matcher) for row in x]
            return np.stack([m for m, _ in run_sets(tasks, f"generation {t}", progress, executor)])

        def on_generation(gen: Generation) -> None:
            save_checkpoint(folder, gen, key)
            progress(ProgressEvent(f"generation {gen.index}", 1, 1, info=(
                f"tolerance {gen.epsilon:.3f}, acceptance {gen.acceptance:.2f}, ESS {gen.ess:.0f}")))

        history = abc_smc(simulate, scaled_rms(observed, config.scales()), box, method, history, on_generation)
        posterior = posterior_frame(config, history[-1])
        rng = np.random.default_rng([method.seed, 10_000])
        n = config.predictive_draws
        prior_x = box.low + (box.high - box.low) * rng.random((n, len(box.low)))
        post_x = box.to_x(history[-1].u)[rng.choice(len(posterior), size=n, p=history[-1].normalised)]
        prior_m, prior_s = predictive(config, prior_x, "prior predictive", progress, executor)
        post_m, post_s = predictive(config, post_x, "posterior predictive", progress, executor)
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)
    result = Calibration(config, history, posterior, fitted_table(config, posterior),
                         predictive_table(config, prior_m, post_m), time.perf_counter() - started, out, resumed_from,
                         {"prior": prior_s, "posterior": post_s})
    write_calibration(result, plots)
    return result


# ---------------------------------------------------------------- writing


def _write_text(path: Path, text: str) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    write_atomic(path, lambda tmp: frame.to_csv(tmp, index=False))


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (imported on first use: the CLI starts faster)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _write_png(path: Path, fig) -> None:
    def write(tmp: Path) -> None:
        fig.savefig(tmp, dpi=90, format="png")

    try:
        write_atomic(path, write)
    finally:
        pyplot().close(fig)


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    def cell(v) -> str:
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "no"
        if isinstance(v, (float, np.floating)):
            return f"{v:.{digits}g}"
        return str(v)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def _relative(path: Path, folder: Path) -> str:
    """``path`` as written relative to the calibration file's folder (portable manifests)."""
    return os.path.relpath(path, folder.resolve())


def generations_frame(history: list[Generation]) -> pd.DataFrame:
    return pd.DataFrame([{"generation": g.index, "tolerance": g.epsilon, "acceptance": g.acceptance, "ess": g.ess,
                          "simulated_sets": g.simulated} for g in history])


def write_calibration(result: Calibration, plots: bool = True) -> None:
    out, config = result.out, result.config
    _write_csv(out / "posterior.csv", result.posterior)
    _write_csv(out / "fitted.csv", result.fitted)
    _write_text(out / "fitted.md", markdown_table(result.fitted))
    _write_csv(out / "predictive.csv", result.predictive)
    _write_csv(out / "generations.csv", generations_frame(result.history))
    from ..report.output import package_versions

    manifest = {
        "config": str(config.path), "scenario": _relative(config.scenario_path, config.path.parent),
        "observations": _relative(config.observations_path, config.path.parent),
        "cutoff": str(config.cutoff) if config.cutoff else None, "digest": digest(config),
        "method": config.method.model_dump(), "discrepancy_relative": config.discrepancy_relative,
        "generations": len(result.history), "simulated_sets": result.history[-1].simulated,
        "replications_per_set": config.method.replications, "predictive_draws": config.predictive_draws,
        "resumed_from_generation": result.resumed_from, "wall_seconds": round(result.wall_seconds, 1),
        "packages": package_versions(),
    }
    _write_text(out / "manifest.json", json.dumps(manifest, indent=2))
    if plots:
        _write_png(out / "observations.png", plot_observations(result.predictive))
        _write_png(out / "series.png", plot_series(config, result.series))
        _write_png(out / "marginals.png", plot_marginals(config, result.posterior))
        _write_png(out / "pairs.png", plot_pairs(config, result.posterior))


# ---------------------------------------------------------------- figures


def plot_observations(table: pd.DataFrame, title: str = "Observations against the simulated 90% band"):
    plt = pyplot()
    n = len(table)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.5 * rows), squeeze=False)
    for ax, r in zip(axes.flat, table.itertuples(index=False)):
        for x, prefix, colour, label in ((0, "prior", "0.6", "prior"), (1, "post", "tab:blue", "calibrated")):
            lo, mid, hi = getattr(r, f"{prefix}_p5"), getattr(r, f"{prefix}_p50"), getattr(r, f"{prefix}_p95")
            ax.plot([x, x], [lo, hi], color=colour, lw=6, alpha=0.6, solid_capstyle="butt")
            ax.plot([x], [mid], "o", color=colour, ms=4)
        ax.errorbar([0.5], [r.observed], yerr=[[1.645 * r.sd]], fmt="D", color="tab:red", ms=5, capsize=3)
        ax.set_xticks([0, 0.5, 1], ["prior", "obs", "fit"], fontsize=7)
        ax.set_xlim(-0.5, 1.5)
        ax.tick_params(labelsize=7)
        ax.set_title(f"{r.metric}\n{r.date_or_period} ({r.use})", fontsize=8)
        ax.grid(alpha=0.3, axis="y")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle(title + " (bars: 5-95% of runs, dot: median; red: observed ± 1.645 sd)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_series(config: Config, series: dict):
    plt = pyplot()
    sc = scenario_mod.from_mapping(config.scenario_data)
    dates = np.array(Calendar(sc.start, sc.end).dates, dtype="datetime64[D]")
    fig, axes = plt.subplots(len(SERIES), 1, figsize=(8, 2.6 * len(SERIES)), sharex=True)
    for i, (ax, metric) in enumerate(zip(axes, SERIES)):
        for name, colour in (("prior", "0.6"), ("posterior", "tab:blue")):
            values = series[name][:, i, :]
            lo, mid, hi = np.nanpercentile(values, [BAND[0], 50, BAND[1]], axis=0)
            ax.fill_between(dates, lo, hi, color=colour, alpha=0.3, linewidth=0, label=f"{name} 5-95%")
            ax.plot(dates, mid, color=colour, lw=1.2)
        for o in config.observations:
            if o.metric == metric and o.match == "point" and not o.municipality:
                day = np.datetime64(o.start)
                colour = {"fit": "tab:red", "check": "k", HOLDOUT: "tab:orange"}[o.use]
                ax.errorbar([day], [o.value], yerr=[[1.645 * o.sd]], fmt="D", color=colour, ms=4, capsize=2)
        ax.set_ylabel(metric, fontsize=8)
        ax.grid(alpha=0.3)
        if metric != "occupied":
            ax.set_ylim(bottom=0)
    axes[0].legend(fontsize=7, loc="upper right")
    axes[0].set_title("Monthly stocks: prior and calibrated 90% bands; observations (red fit, orange held out, black check)",
                      fontsize=8)
    fig.tight_layout()
    return fig


def plot_marginals(config: Config, posterior: pd.DataFrame):
    plt = pyplot()
    d = len(config.parameters)
    cols = min(3, d)
    rows = math.ceil(d / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.4 * rows), squeeze=False)
    w = posterior["weight"].to_numpy()
    for ax, p in zip(axes.flat, config.parameters):
        x = posterior[p.key].to_numpy(float)
        ax.hist(x, bins=25, range=(p.low, p.high), weights=w, color="tab:blue", alpha=0.7)
        ax.axhline(1.0 / 25, color="0.5", ls="--", lw=1, label="prior")
        for q in weighted_quantile(x, w, [0.05, 0.95]):
            ax.axvline(q, color="k", lw=0.8, ls=":")
        ax.set_xlim(p.low, p.high)
        ax.set_title(p.key, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[d:]:
        ax.set_visible(False)
    fig.suptitle("Posterior marginals (weighted; dotted: 90% interval; dashed: uniform prior)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_pairs(config: Config, posterior: pd.DataFrame):
    plt = pyplot()
    d = len(config.parameters)
    fig, axes = plt.subplots(d, d, figsize=(1.6 * d + 1, 1.6 * d + 1), squeeze=False)
    w = posterior["weight"].to_numpy()
    size = 40 * w / w.max()
    for i, pi in enumerate(config.parameters):
        for j, pj in enumerate(config.parameters):
            ax = axes[i, j]
            ax.tick_params(labelsize=6)
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                ax.hist(posterior[pi.key], bins=20, range=(pi.low, pi.high), weights=w, color="tab:blue", alpha=0.7)
                ax.set_xlim(pi.low, pi.high)
            else:
                ax.scatter(posterior[pj.key], posterior[pi.key], s=size, alpha=0.4, color="tab:blue", linewidths=0)
                ax.set_xlim(pj.low, pj.high)
                ax.set_ylim(pi.low, pi.high)
            if i == d - 1:
                ax.set_xlabel(pj.key.split(".", 1)[-1], fontsize=6)
            if j == 0:
                ax.set_ylabel(pi.key.split(".", 1)[-1], fontsize=6)
    fig.suptitle("Posterior: pairs of parameters over their prior ranges (point size = weight)", fontsize=9)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- hold-out validation


@dataclass
class Validation:
    calibration: Calibration
    holdout: pd.DataFrame  # one row per held-out observation

    @property
    def coverage(self) -> float:
        return float(self.holdout["covered"].mean())


def validate(config: Config, out: str | Path, workers: int | None = None, resume: bool = False,
             progress: Progress | None = None, plots: bool = True) -> Validation:
    """Fit on observations up to ``config.cutoff`` and score the prediction of the later ones."""
    if config.cutoff is None:
        raise CalibrationError(f"{config.path}: validation needs a cut-off date")
    if not any(o.use == HOLDOUT for o in config.observations):
        raise CalibrationError(f"{config.observations_path}: no fitted observation after {config.cutoff} to predict")
    result = calibrate(config, out, workers, resume, progress, plots)
    table = result.predictive[result.predictive["use"] == HOLDOUT].copy()
    table["relative_error"] = table["error_of_mean"] / table["observed"].abs()
    table["z"] = table["error_of_mean"] / table["sd"]
    holdout = table[["observation", "observed", "sd", "post_mean", "post_p5", "post_p95", "covered", "error_of_mean",
                     "relative_error", "z", "prior_p5", "prior_p95", "covered_prior"]].reset_index(drop=True)
    out = Path(out)
    _write_csv(out / "holdout.csv", holdout)
    summary = (f"Fitted on {len(config.fitted)} observations up to {config.cutoff}; "
               f"{len(holdout)} held out. Coverage of the 90% band: {holdout['covered'].mean():.0%} "
               f"(prior: {holdout['covered_prior'].mean():.0%}); mean absolute error of the mean: "
               f"{holdout['error_of_mean'].abs().mean():.2f}; mean absolute relative error: "
               f"{holdout['relative_error'].abs().mean():.1%}.\n\n")
    _write_text(out / "holdout.md", summary + markdown_table(holdout))
    if plots:
        _write_png(out / "holdout.png", plot_observations(
            table.reset_index(drop=True), f"Held-out observations after {config.cutoff}"))
    return Validation(result, holdout)


# ---------------------------------------------------------------- carrying the posterior forward


def read_posterior(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(f"{path}: posterior file not found")
    frame = pd.read_csv(path)
    if "weight" not in frame.columns or len(frame) == 0:
        raise CalibrationError(f"{path}: not a posterior (needs parameter columns and a 'weight' column)")
    if (frame["weight"] < 0).any() or frame["weight"].sum() <= 0:
        raise CalibrationError(f"{path}: weights must be non-negative and not all zero")
    return frame


def sample_posterior(path: str | Path, n: int, seed: int) -> list[dict[str, float]]:
    """``n`` parameter sets drawn by weight (with replacement) from a posterior.csv."""
    frame = read_posterior(path)
    keys = [c for c in frame.columns if c not in ("weight", "distance")]
    w = frame["weight"].to_numpy(float)
    rows = np.random.default_rng(seed).choice(len(frame), size=n, p=w / w.sum())
    return [{k: frame[k].iloc[i].item() for k in keys} for i in rows]


def posterior_overrides(row: dict[str, float]) -> list[str]:
    """A posterior row as ``--set key.path=value`` assignments (values written as YAML numbers)."""
    return [f"{key}={yaml.safe_dump(value).splitlines()[0]}" for key, value in row.items()]
