"""Shared pieces of the benchmarks: scenarios, the bare SimPy M/M/c queue, timing, results.

Every benchmark measures two things side by side in the same process and reports
their ratio, so that the number says something on any machine. Nothing here
asserts a time: a goal that is missed is reported, never raised.
"""

from __future__ import annotations

import copy
import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import simpy

from sim.experiment.replication import Replication
from sim.record.metrics import YEARLY_ROW
from sim.config.scenario import Scenario, from_mapping, load_raw

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "haarlem" / "baseline.yaml"


@dataclass
class Result:
    """One line of the benchmark table."""

    name: str
    value: float | None  # None: not measured (skipped)
    goal: str  # e.g. "<= 3.0"
    passed: bool | None
    unit: str = "x"
    details: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "skip" if self.passed is None else ("pass" if self.passed else "miss")

    def shown(self) -> str:
        return "-" if self.value is None else f"{self.value:.2f}{self.unit}"


def check(value: float, goal: str) -> bool:
    """``goal`` is "<= x" or ">= x"."""
    op, bound = goal.split()
    return value <= float(bound) if op == "<=" else value >= float(bound)


def measured(name: str, value: float, goal: str, details: list[str], log, unit: str = "x") -> Result:
    """Log the details and return the table line for a measured value."""
    for line in details:
        log("  " + line)
    return Result(name, value, goal, check(value, goal), unit=unit, details=details)


def main(run, doc: str) -> None:
    """Command line of one benchmark script: ``--quick`` and a one-line verdict."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    r = run(parser.parse_args().quick)
    print(f"{r.name}: {r.shown()} (goal {r.goal}, {r.verdict})")


# ---------------------------------------------------------------- scenarios


def scaled_raw(factor: float) -> dict:
    """The Haarlem baseline with every size multiplied by ``factor``: places (and their
    schedules), the initial stock, inflow, the contingent, bridging and ambulant places.
    Shares, durations and rates per client stay as they are."""
    data = copy.deepcopy(load_raw(BASELINE))

    def times(x):
        return None if x is None else round(x * factor)

    for provider in data["providers"].values():
        provider["places"] = times(provider["places"])
        for change in provider.get("schedule", []):
            change["places"] = times(change["places"])
    inflow = data["inflow"]
    inflow["per_year"] = _scale_yearly(inflow["per_year"], factor)
    contingent = data["uitstroom"]["housing"]["contingent"]
    contingent["units_per_year"] = _scale_yearly(contingent["units_per_year"], factor)
    for block in ("bridging", "ambulant"):
        if block in data and "places" in data[block]:
            data[block]["places"] = times(data[block]["places"])
    for key in ("residents", "ready_to_leave", "waiting"):
        if key in data.get("initial", {}):
            data["initial"][key] = times(data["initial"][key])
    data["name"] = f"{data['name']} x{factor:g}"
    return data


def _scale_yearly(value, factor):
    if isinstance(value, dict):
        return {year: v * factor for year, v in value.items()}
    return value * factor


def scaled(factor: float) -> Scenario:
    return from_mapping(scaled_raw(factor), f"baseline x{factor:g}")


def places(sc: Scenario) -> int:
    return sum(p.places for p in sc.providers.values())


def journeys(sc: Scenario, rep: Replication) -> int:
    """Client journeys in a replication: the initial residents and waiting list plus every
    arrival (relapses included)."""
    arrivals = rep.yearly[YEARLY_ROW["arrivals"]].sum()
    return int(sc.initial_residents + sc.initial.waiting + arrivals)


def mmc_scenario(servers: int, arrivals_per_day: float, mean_stay_days: float, years: int) -> Scenario:
    """The BW model reduced to an M/M/c queue: one provider, exponential stays, no
    withdrawal, every stay ends in died_or_moved, no bridging, no relapse, unlimited
    ambulant support, an empty start."""
    return from_mapping({
        "name": f"M/M/{servers}",
        "start": "2000-01-01",
        "end": f"{2000 + years}-01-01",
        "profiles": {"all": {"share": 1.0, "stay": {"dist": "exponential", "mean": mean_stay_days, "unit": "days"}}},
        "inflow": {"per_year": arrivals_per_day * 365.25, "municipalities": {"all": 1.0}},
        "waitlist": {"withdrawal_per_year": 0.0},
        "providers": {"servers": {"places": servers, "inflow_share": 1.0}},
        "bridging": {"places": 0},
        "uitstroom": {
            "early_exit_per_year": 0.0,
            "destinations": {"independent": 0.0, "intramural": 0.0, "died_or_moved": 1.0},
            "housing": {"contingent_share": 0.0, "contingent": {"units_per_year": 0, "bw_share": 0},
                        "other_route_delay": {"dist": "fixed", "value": 0, "unit": "years"}},
        },
        "ambulant": {"places": None, "duration": {"dist": "fixed", "value": 0, "unit": "years"}},
        "relapse": {"probability": 0.0},
        "initial": {"residents": 0, "waiting": 0},
    }, "M/M/c benchmark")


# ---------------------------------------------------------------- bare SimPy


def mmc_simpy(customers: int, servers: int, arrivals_per_day: float, mean_stay_days: float,
              seed: int = 1, until: float | None = None) -> int:
    """A textbook SimPy M/M/c queue (``simpy.Resource``), the reference for engine overhead.

    Random numbers are drawn up front with numpy, as the model does, so only the
    engine is compared. Runs until every customer has left (or until ``until``);
    returns the number of customers that arrived.
    """
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / arrivals_per_day, customers).tolist()
    stays = rng.exponential(mean_stay_days, customers).tolist()
    env = simpy.Environment()
    places = simpy.Resource(env, capacity=servers)
    arrived = 0

    def customer(stay):
        with places.request() as request:
            yield request
            yield env.timeout(stay)

    def source():
        nonlocal arrived
        for gap, stay in zip(gaps, stays):
            yield env.timeout(gap)
            arrived += 1
            env.process(customer(stay))

    env.process(source())
    env.run(until=until)
    return arrived


# ---------------------------------------------------------------- timing


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    gc.collect()  # start every timing from the same, clean heap
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def best_of(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """The fastest of ``repeat`` runs (the least disturbed by other load) and its output."""
    best, out = math.inf, None
    for _ in range(repeat):
        seconds, value = timed(fn)
        if seconds < best:
            best, out = seconds, value
    return best, out


def loglog_slope(x, y) -> float:
    """Least-squares slope of log(y) against log(x)."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])
