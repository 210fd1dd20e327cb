"""Comparing scenarios with common random numbers (CRN).

Every scenario runs with the same seed, so replication ``r`` of each scenario
gives the same client the same fate. The difference between a scenario and the
first one (the reference) is then computed replication by replication (paired),
which removes most of the noise the scenarios share. Next to each paired 95% t
interval the comparison keeps the half-width an unpaired (Welch) interval would
have had, so that the gain from CRN can be reported.

The result is a tidy frame, one row per scenario, metric and year. Levels:
``mean, ci_low, ci_high``; differences against the reference: ``diff_mean,
diff_ci_low, diff_ci_high, paired_half_width, unpaired_half_width,
width_ratio`` (paired / unpaired); these are NaN on the reference's own rows.
Each metric is in its reporting unit (column ``unit``): blocked place-days as
place-years (``blocked_place_years``), cost in € million.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..config.distributions import DAYS_PER_YEAR
from .executors import Progress, default_workers, pool_for
from .replications import Results, mean_ci, posterior_variants, run_replications
from ..record.metrics import KIND, MONTHLY, MUNICIPAL, YEARLY, YEARLY_ROW
from ..config.scenario import Scenario, from_mapping



@dataclass(frozen=True)
class Metric:
    """A key metric of the comparison: which yearly metric it reads and how it is shown."""

    name: str
    source: str
    label: str
    unit: str = ""
    scale: float = 1.0
    digits: int = 1


#: The key metrics, in report order. ``cost`` is left out while the model has no such metric.
KEY_METRICS = (
    Metric("waitlist", "waitlist", "People on the waitlist, 31 December", "people"),
    Metric("wait_placed_median", "wait_placed_median", "Median wait of those placed in the year", "months"),
    Metric("wait_placed_p90", "wait_placed_p90", "Longest waits (90th percentile) of those placed in the year",
           "months"),
    Metric("blocked_place_years", "blocked_place_days", "Places held by residents ready to leave, over the year",
           "place-years", scale=1 / DAYS_PER_YEAR),
    Metric("ready_to_leave", "ready_to_leave", "Residents ready to leave, waiting for a home, 31 December", "people"),
    Metric("admissions", "admissions", "Admissions in the year", "people"),
    Metric("exits_independent", "exits_independent", "Exits to an independent home in the year", "people"),
    Metric("exits_intramural", "exits_intramural", "Exits to other intramural care (Wlz, GGZ) in the year", "people"),
    Metric("exits_died_or_moved", "exits_died_or_moved", "Exits by death or moving away in the year", "people"),
    Metric("exits_early", "exits_early", "Early exits (care ended during the stay) in the year", "people"),
    Metric("ambulant", "ambulant", "People with ambulant support, 31 December", "people"),
    Metric("bridged", "bridged", "People in overbruggingszorg, 31 December", "people"),
    Metric("cost", "cost", "Cost of care in the year", "€ million", scale=1e-6, digits=2),
)

COLUMNS = ["scenario", "metric", "unit", "year", "n", "mean", "ci_low", "ci_high", "diff_mean", "diff_ci_low",
           "diff_ci_high", "paired_half_width", "unpaired_half_width", "width_ratio"]


class CompareError(ValueError):
    """Scenarios that cannot be compared (different periods, too few replications, ...)."""


def key_metrics() -> tuple[Metric, ...]:
    """The key metrics the model records now (``cost`` only once it is a yearly metric)."""
    return tuple(m for m in KEY_METRICS if m.source in YEARLY)


def metric_kind(metric: Metric) -> str:
    """``stock`` (read on a date, plotted monthly), ``flow`` or ``wait`` (per year)."""
    kind = KIND.get(metric.source, "flow")
    return "stock" if kind == "stock" and metric.source in MONTHLY else kind


def metric_values(results: Results, metric: Metric) -> np.ndarray:
    """[replication, year] in the metric's reporting unit."""
    return results.yearly[:, YEARLY_ROW[metric.source], :] * metric.scale


def unique_labels(names: list[str]) -> list[str]:
    """The names, with ``(2)``, ``(3)``, ... added where a name repeats."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


# ---------------------------------------------------------------- what a scenario changes


@dataclass(frozen=True)
class Change:
    """One key whose resolved value differs from the reference's (``None``: absent or null)."""

    key: str
    before: Any
    after: Any


#: Keys that name or describe a scenario rather than change what it does.
NOT_A_CHANGE = ("name", "description")


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Key path -> value for every leaf of a scenario mapping. A distribution (a mapping with
    ``dist``) and a list are leaves, kept whole."""
    if isinstance(data, dict) and data and "dist" not in data:
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def scenario_changes(reference: Scenario, other: Scenario) -> list[Change]:
    """Every key of ``other`` (resolved, as JSON) that differs from ``reference``, in the
    scenario's key order; its name and description are not counted as changes."""
    a, b = flatten(reference.model_dump(mode="json")), flatten(other.model_dump(mode="json"))
    changes = []
    for key in list(b) + [k for k in a if k not in b]:
        if key.split(".")[0] in NOT_A_CHANGE:
            continue
        before, after = a.get(key), b.get(key)
        if before == after:
            continue
        # a null block on one side, filled in on the other: its keys below say what changed
        if (key not in a and after is None) or (key not in b and before is None):
            continue
        changes.append(Change(key, before, after))
    return changes


def _dates(value: Any) -> list[dt.date]:
    """The ISO dates in a value (a date, a list of dated entries, ...)."""
    if isinstance(value, str):
        try:
            return [dt.date.fromisoformat(value)] if len(value) == 10 else []
        except ValueError:
            return []
    if isinstance(value, dict):
        return [d for v in value.values() for d in _dates(v)]
    if isinstance(value, list):
        return [d for v in value for d in _dates(v)]
    return []


def policy_start(changes: list[Change], start: dt.date) -> dt.date | None:
    """The first date from which a scenario differs from the reference: the earliest date in what
    it changes (a capacity change, an ``extra_from`` or ``start``: for a list, only its entries
    that differ), else ``start`` (a change without a date holds from the start); None if nothing
    changes."""
    if not changes:
        return None
    dates = []
    for c in changes:
        if isinstance(c.before, list) or isinstance(c.after, list):
            old, new = c.before or [], c.after or []
            dates += _dates([e for e in new if e not in old] + [e for e in old if e not in new])
        else:
            dates += _dates(c.after) + _dates(c.before)
    return max(start, min(dates)) if dates else start


@dataclass
class Comparison:
    """The runs of every scenario (the first is the reference) and their tidy comparison frame.
    ``posterior``: ``{"file", "draws", "replications_per_draw"}`` when parameters were drawn from
    a calibration's posterior, else None."""

    labels: list[str]
    results: list[Results]
    frame: pd.DataFrame
    posterior: dict | None = field(default=None)

    def changes(self, k: int) -> list[Change]:
        """What scenario ``k`` changes against the reference."""
        return scenario_changes(self.results[0].scenario, self.results[k].scenario)

    def policy_start(self, k: int) -> dt.date | None:
        """The first date from which scenario ``k`` differs from the reference (None: it does not)."""
        return policy_start(self.changes(k), self.results[k].scenario.start)

    def identical_to(self, k: int) -> int | None:
        """The first earlier scenario whose every replication gave the same numbers as ``k``'s."""
        for j in range(k):
            a, b = self.results[j], self.results[k]
            if all(np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True) for f in ("monthly", "yearly")):
                return j
        return None

    @property
    def reference(self) -> str:
        return self.labels[0]

    @property
    def seed(self) -> int:
        return self.results[0].seed

    @property
    def replications(self) -> int:
        return self.results[0].replications

    @property
    def years(self) -> list[int]:
        return self.results[0].calendar.years

    def by_label(self, label: str) -> Results:
        return self.results[self.labels.index(label)]

    def rows(self, year: int) -> pd.DataFrame:
        return self.frame[self.frame.year == year]


# ---------------------------------------------------------------- statistics


def paired_ci(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean of ``b - a`` per column with its 95% t interval (replications where both exist)."""
    return mean_ci(np.asarray(b, float) - np.asarray(a, float))


def welch_half_width(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> np.ndarray:
    """Half-width of the unpaired 95% interval of ``mean(b) - mean(a)`` per column (Welch)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        na, nb = np.sum(~np.isnan(a), axis=0), np.sum(~np.isnan(b), axis=0)
        va, vb = np.nanvar(a, axis=0, ddof=1) / na, np.nanvar(b, axis=0, ddof=1) / nb
        df = (va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1))
        df = np.where(np.isfinite(df), df, np.maximum(np.minimum(na, nb) - 1, 1))
        half = stats.t.ppf(0.5 + level / 2, df) * np.sqrt(va + vb)
    return np.where((na > 1) & (nb > 1), half, np.nan)


def comparison_frame(labels: list[str], results: list[Results]) -> pd.DataFrame:
    """The tidy frame of levels and paired differences against ``results[0]``."""
    years = results[0].calendar.years
    rows = []
    for metric in key_metrics():
        ref = metric_values(results[0], metric)
        for k, (label, res) in enumerate(zip(labels, results)):
            values = metric_values(res, metric)
            mean, lo, hi = mean_ci(values)
            n = np.sum(~np.isnan(values), axis=0)
            if k == 0:  # the reference's own rows hold its levels only
                nan = np.full(len(years), np.nan)
                diff, paired, unpaired = (nan, nan, nan), nan, nan
            else:
                diff = paired_ci(ref, values)
                paired = (diff[2] - diff[1]) / 2
                unpaired = welch_half_width(ref, values)
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = np.where(unpaired > 0, paired / np.where(unpaired > 0, unpaired, 1), np.nan)
            for j, year in enumerate(years):
                rows.append((label, metric.name, metric.unit, year, int(n[j]), mean[j], lo[j], hi[j], diff[0][j], diff[1][j],
                             diff[2][j], paired[j], unpaired[j], ratio[j]))
    return pd.DataFrame(rows, columns=COLUMNS)


def informative(frame: pd.DataFrame, year: int | None = None) -> pd.DataFrame:
    """The difference rows that say something about the gain from CRN: not the reference's own
    rows, and not those where the difference was the same in every replication (a zero-width
    paired interval, usually a metric the scenario does not touch)."""
    rows = frame.dropna(subset=["width_ratio"])
    rows = rows[rows.paired_half_width > 0]
    return rows if year is None else rows[rows.year == year]


def crn_gain(frame: pd.DataFrame, year: int | None = None) -> pd.DataFrame:
    """Per metric, the median ratio of paired to unpaired CI width over the :func:`informative`
    rows (of ``year``, or of every year), and the factor in replications it is worth: an unpaired
    comparison would need ``1 / ratio**2`` times as many for the same precision."""
    order = [m.name for m in key_metrics()]
    rows = informative(frame, year)
    out = rows.groupby("metric")["width_ratio"].median().reindex(order).dropna().to_frame("median_ratio")
    out["replication_factor"] = 1 / out["median_ratio"] ** 2
    return out


# ---------------------------------------------------------------- running


def compare(scenarios: list[Scenario], replications: int, seed: int = 1, workers: int | None = None,
            progress: Progress | None = None, labels: list[str] | None = None,
            executor: Executor | None = None, draws: list[dict] | None = None,
            per_draw: int = 1) -> Comparison:
    """Run every scenario with the same seed and compare each with the first.

    One pool of processes serves all scenarios (or ``executor`` if given); ``progress(k)``
    is called as k more replications finish, over all scenarios. With ``draws`` (posterior
    parameter sets), replication r of every scenario takes draw ``r // per_draw``, so the
    pairs share their parameters as well as their random numbers.
    """
    if not scenarios:
        raise CompareError("no scenarios to compare")
    if replications < 2:
        raise CompareError("a comparison needs at least 2 replications for its confidence intervals")
    first = scenarios[0]
    for sc in scenarios[1:]:
        if (sc.start, sc.end) != (first.start, first.end):
            raise CompareError(f"scenario {sc.name!r} runs {sc.start} to {sc.end}, but the reference "
                               f"{first.name!r} runs {first.start} to {first.end}; compared scenarios must cover "
                               "the same period")
    labels = unique_labels(labels or [sc.name for sc in scenarios])
    if len(labels) != len(scenarios):
        raise CompareError("one label per scenario expected")
    workers = default_workers() if workers is None else workers
    with pool_for(executor, workers) as pool:
        results = [run_replications(sc, replications, seed=seed, workers=workers, progress=progress, executor=pool,
                                    variants=posterior_variants(sc, draws, per_draw)[:replications] if draws else None)
                   for sc in scenarios]
    posterior = {"file": None, "draws": len(draws), "replications_per_draw": per_draw} if draws else None
    return Comparison(labels, results, comparison_frame(labels, results), posterior)


# ---------------------------------------------------------------- saving and loading

ARRAYS = "arrays.npz"
META = "comparison.json"
CSV = "comparison.csv"
PARQUET = "comparison.parquet"


#: The per-replication arrays of :class:`Results` that a saved comparison keeps.
ARRAY_FIELDS = ("monthly", "yearly", "municipal")


def save(comparison: Comparison, folder: str | Path, fmt: str = "csv") -> None:
    """Write ``comparison.csv`` (or ``comparison.parquet``, ``fmt``), ``comparison.json`` (labels,
    seed, every scenario's own resolved parameters, what each changes against the reference and
    from when, the posterior used, metric names) and ``arrays.npz`` (every replication's arrays)
    into an existing folder."""
    folder = Path(folder)
    if fmt == "parquet":
        comparison.frame.to_parquet(folder / PARQUET, index=False)
    else:
        comparison.frame.to_csv(folder / CSV, index=False)
    starts = [comparison.policy_start(k) for k in range(len(comparison.results))]
    meta = {
        "labels": comparison.labels,
        "seed": comparison.seed,
        "replications": comparison.replications,
        "posterior": comparison.posterior,
        "metrics": {"monthly": list(MONTHLY), "yearly": list(YEARLY), "municipal": list(MUNICIPAL)},
        "scenarios": [r.scenario.model_dump(mode="json") for r in comparison.results],
        "changes": [[asdict(c) for c in comparison.changes(k)] for k in range(len(comparison.results))],
        "policy_start": [None if d is None else d.isoformat() for d in starts],
    }
    (folder / META).write_text(json.dumps(meta, indent=2, default=str))
    arrays = {}
    for k, res in enumerate(comparison.results):
        for name in ARRAY_FIELDS:
            arrays[f"{name}_{k}"] = getattr(res, name)
    np.savez_compressed(folder / ARRAYS, **arrays)


def _by_name(array: np.ndarray, saved: list[str], now: tuple[str, ...], axis: int) -> np.ndarray:
    """Reorder the metric axis from the saved metric names to the current ones (NaN if absent)."""
    moved = np.moveaxis(array, axis, 0)
    out = np.full((len(now),) + moved.shape[1:], np.nan)
    for i, name in enumerate(now):
        if name in saved:
            out[i] = moved[saved.index(name)]
    return np.moveaxis(out, 0, axis)


def load(folder: str | Path) -> Comparison:
    """A comparison saved by :func:`save`; the frame is recomputed from the arrays."""
    folder = Path(folder)
    for name in (META, ARRAYS):
        if not (folder / name).is_file():
            raise CompareError(f"{folder / name}: file not found (not a saved comparison)")
    meta = json.loads((folder / META).read_text())
    metrics = meta["metrics"]
    current = {"monthly": MONTHLY, "yearly": YEARLY, "municipal": MUNICIPAL}
    results = []
    with np.load(folder / ARRAYS) as arrays:
        for k, data in enumerate(meta["scenarios"]):
            fields = {}
            for name in ARRAY_FIELDS:
                key = f"{name}_{k}"
                saved, now = metrics.get(name), current.get(name)
                if key not in arrays:
                    raise CompareError(f"{folder / ARRAYS}: no {name!r} arrays (saved by another version); recompute")
                if name in ("monthly", "yearly"):  # [replication, metric, time]: reorder by name
                    fields[name] = _by_name(arrays[key], saved, now, axis=1)
                elif saved is None or now is None or list(saved) == list(now):
                    fields[name] = arrays[key]
                else:
                    raise CompareError(f"{folder / ARRAYS}: {name!r} metrics differ from this version's; recompute")
            results.append(Results(scenario=from_mapping(data, f"{folder / META}: scenarios[{k}]"),
                                   seed=meta["seed"], **fields))
    return Comparison(meta["labels"], results, comparison_frame(meta["labels"], results), meta.get("posterior"))
