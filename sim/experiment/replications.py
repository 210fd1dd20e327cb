"""Replications: run them (serially or over a pool of processes), stack, summarise.

Replication ``r`` of a run with seed ``s`` depends on ``(s, r)`` only, never on
which worker ran it, so any number of workers gives identical results.
"""

from __future__ import annotations

import math
import warnings
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..config.scenario import Scenario, from_mapping, with_values
from ..model.calendar import Calendar
from .executors import Progress, default_workers, pool_for
from ..record.metrics import KIND, MONTHLY, YEARLY, YEARLY_ROW
from .replication import run_replication



@dataclass
class Results:
    """All replications of one scenario: arrays indexed [replication, metric, time]."""

    scenario: Scenario
    seed: int
    monthly: np.ndarray
    yearly: np.ndarray
    #: [replication, municipality, cohort, metric, year]; see replication.municipal_metrics
    municipal: np.ndarray | None = None
    #: the event log of every replication, when asked for (``log_events=True``)
    events: pd.DataFrame | None = None
    #: one record per client of every replication, when asked for (``keep_clients=True``)
    clients: pd.DataFrame | None = None
    #: what the parameters were, for figures and tables ("calibrated: …" or "first-guess parameters")
    parameters: str = ""

    @property
    def calendar(self) -> Calendar:
        return Calendar(self.scenario.start, self.scenario.end)

    @property
    def replications(self) -> int:
        return self.monthly.shape[0]

    def yearly_values(self, metric: str) -> pd.DataFrame:
        """One row per replication, one column per year."""
        return pd.DataFrame(self.yearly[:, YEARLY_ROW[metric], :], columns=self.calendar.years)

    @property
    def municipalities(self) -> list[str]:
        return list(self.scenario.inflow.municipalities)


def _run_chunk(tasks: list[tuple[Scenario, int, int]], log_events: bool = False,
               keep_clients: bool = False) -> list[tuple[int, tuple]]:
    out = []
    for scenario, seed, r in tasks:
        rep = run_replication(scenario, seed, r, log_events=log_events, keep_clients=keep_clients)
        out.append((r, (rep.monthly, rep.yearly, rep.municipal, rep.events, rep.clients)))
    return out


#: Columns that name a case, an activity and its time as pm4py and other process-mining tools expect.
CASE, ACTIVITY, TIMESTAMP = "case:concept:name", "concept:name", "time:timestamp"


def _case_ids(replication: np.ndarray, entry: np.ndarray) -> np.ndarray:
    """``<replication>/<entry>``: the n-th client to enter replication r is case ``r/n`` in both the
    event log and the client records (each client's first event is its entry, so the two agree)."""
    return np.char.add(np.char.add(replication.astype(str), "/"), entry.astype(str)).astype(object)


def _client_frame(records: list[dict], scenario: Scenario) -> pd.DataFrame:
    """The client records of all replications, by name (times and days in days since the
    start, to a thousandth of a day); ``case:concept:name`` is the client's case in the event log."""
    frame = pd.concat([pd.DataFrame(r) for r in records], ignore_index=True)
    for column, names in (("municipality", scenario.inflow.municipalities), ("profile", scenario.profiles),
                          ("provider", scenario.providers)):
        frame[column] = np.asarray(list(names), object)[frame[column].to_numpy()]
    numbers = frame.select_dtypes("float").columns
    frame[numbers] = frame[numbers].round(3)
    for column in frame.select_dtypes(exclude=["number", "bool"]).columns:  # what did not happen is missing,
        frame[column] = frame[column].mask(frame[column] == "", None)  # not "" (the same in a CSV)
    entry = frame.groupby("replication").cumcount().to_numpy()
    frame.insert(0, CASE, _case_ids(frame["replication"].to_numpy(), entry))
    return frame


def _event_frame(results_by_rep: list[tuple[int, dict]], scenario: Scenario) -> pd.DataFrame:
    """One row per state change of every replication, in process-mining form: the case
    (``<replication>/<entry number>``, as in the client records), the state entered
    (``concept:name``), its time (``time:timestamp``, ISO 8601 to the second), then the
    replication, the day since the start and the client's municipality by name."""
    frames = []
    for r, log in results_by_rep:
        entry, _ = pd.factorize(log["client"])  # numbered in the order the clients entered the run
        frames.append(pd.DataFrame({CASE: _case_ids(np.full(len(entry), r), entry), ACTIVITY: log["state"],
                                    "replication": r, "day": log["day"], "municipality": log["municipality"]}))
    frame = pd.concat(frames, ignore_index=True)
    seconds = np.round(frame["day"].to_numpy() * 86400).astype("int64")
    stamps = pd.Timestamp(scenario.start) + pd.to_timedelta(seconds, unit="s")
    frame.insert(2, TIMESTAMP, stamps.strftime("%Y-%m-%dT%H:%M:%S"))
    names = np.asarray(list(scenario.inflow.municipalities), object)
    frame["municipality"] = names[frame["municipality"].to_numpy()]
    return frame


def _chunks(n: int, workers: int) -> list[list[int]]:
    size = max(1, math.ceil(n / (workers * 4)))
    return [list(range(i, min(i + size, n))) for i in range(0, n, size)]


def posterior_variants(scenario: Scenario, draws: Sequence[dict], per_draw: int = 1) -> list[Scenario]:
    """One scenario per replication: replication r takes parameter draw ``r // per_draw``
    (key paths as in ``--set``), so that bands include parameter uncertainty."""
    data = scenario.model_dump(mode="json")
    by_draw = [from_mapping(with_values(data, values), f"posterior draw {g}") for g, values in enumerate(draws)]
    return [sc for sc in by_draw for _ in range(per_draw)]


def run_replications(scenario: Scenario, replications: int, seed: int = 1, workers: int | None = None,
                     progress: Progress | None = None, executor: Executor | None = None,
                     variants: Sequence[Scenario] | None = None, log_events: bool = False,
                     keep_clients: bool = False) -> Results:
    """Run ``replications`` replications; ``progress(k)`` is called as k more finish.

    ``variants`` (optional) gives replication r its own scenario ``variants[r]``, e.g.
    a draw from a calibration's posterior (see :func:`posterior_variants`). ``log_events``
    keeps one row per client state change, ``keep_clients`` one record per client (memory
    grows with the run: ask only when needed).
    """
    if variants is not None and len(variants) < replications:
        raise ValueError(f"{replications} replications need as many variants, got {len(variants)}")
    workers = default_workers() if workers is None else workers
    done: dict[int, tuple[np.ndarray, ...]] = {}

    def collect(chunk):
        for r, arrays in chunk:
            done[r] = arrays
        if progress:
            progress(len(chunk))

    def tasks(reps):
        return [(variants[r] if variants is not None else scenario, seed, r) for r in reps]

    with pool_for(executor, workers) as pool:
        if pool is None:
            for reps in _chunks(replications, 1):
                collect(_run_chunk(tasks(reps), log_events, keep_clients))
        else:
            futures = [pool.submit(_run_chunk, tasks(reps), log_events, keep_clients)
                       for reps in _chunks(replications, workers)]
            try:
                for future in as_completed(futures):
                    collect(future.result())
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    order = sorted(done)
    return Results(
        scenario=scenario,
        seed=seed,
        monthly=np.stack([done[r][0] for r in order]),
        yearly=np.stack([done[r][1] for r in order]),
        municipal=np.stack([done[r][2] for r in order]),
        events=_event_frame([(r, done[r][3]) for r in order], scenario) if log_events else None,
        clients=_client_frame([done[r][4] for r in order], scenario) if keep_clients else None,
    )


# ---------------------------------------------------------------- summaries


def mean_ci(values: np.ndarray, level: float = 0.95, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and its t-based confidence interval over replications (NaNs ignored)."""
    values = np.asarray(values, float)
    n = np.sum(~np.isnan(values), axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(values, axis=axis)
        sd = np.nanstd(values, axis=axis, ddof=1)
        half = stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1)) * sd / np.sqrt(n)
    half = np.where(n > 1, half, np.nan)
    return mean, mean - half, mean + half


def summarise(results: Results) -> pd.DataFrame:
    """Per metric and year: mean with 95% CI, and percentiles over replications."""
    years = results.calendar.years
    rows = []
    for i, metric in enumerate(YEARLY):
        values = results.yearly[:, i, :]
        mean, lo, hi = mean_ci(values)
        with warnings.catch_warnings():  # all-NaN years (no placements) give NaN, not a warning
            warnings.simplefilter("ignore", RuntimeWarning)
            p5, p50, p95 = np.nanpercentile(values, [5, 50, 95], axis=0)
        for k, year in enumerate(years):
            rows.append((metric, KIND[metric], year, mean[k], lo[k], hi[k], p5[k], p50[k], p95[k],
                         int(np.sum(~np.isnan(values[:, k])))))
    return pd.DataFrame(rows, columns=["metric", "kind", "year", "mean", "ci_low", "ci_high", "p5", "p50", "p95", "n"])


def series_frame(results: Results) -> pd.DataFrame:
    """Long format: replication, date, metric, value (monthly; NaN rows dropped)."""
    reps, metrics, times = results.monthly.shape
    dates = [d.isoformat() for d in results.calendar.dates]
    frame = pd.DataFrame({
        "replication": np.repeat(np.arange(reps), metrics * times),
        "date": np.tile(np.asarray(dates, dtype=object), reps * metrics),
        "metric": np.tile(np.repeat(np.asarray(MONTHLY, dtype=object), times), reps),
        "value": results.monthly.reshape(-1),
    })
    return frame.dropna(subset=["value"]).reset_index(drop=True)
