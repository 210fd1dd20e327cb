"""Queueing theory for the verification tests, and scenarios that reduce the model to a queue."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from sim.scenario import from_mapping


def queue_scenario(c: int, lam: float, stay: dict, *, years: int, withdrawal: float = 0.0,
                   max_list: int | None = None, initial: dict | None = None):
    """The BW model reduced to one place pool with a list: Poisson arrivals (per year),
    ``c`` places, stays from ``stay``, every stay ends in an immediate exit."""
    return from_mapping({
        "name": f"M/G/{c} test",
        "start": "2000-01-01",
        "end": f"{2000 + years}-01-01",
        "profiles": {"regular": {"share": 1.0, "stay": stay}},
        "inflow": {"per_year": lam, "municipalities": {"X": 1.0}},
        "waitlist": {"withdrawal_per_year": withdrawal, "max_length": max_list},
        "providers": {"P": {"places": c, "inflow_share": 1.0}},
        "uitstroom": {
            "destinations": {"independent": 0.0, "intramural": 0.0, "died_or_moved": 1.0},
            "housing": {"contingent_share": 0.0,
                        "contingent": {"units_per_year": 0, "bw_share": 0},
                        "other_route_delay": {"dist": "fixed", "value": 0}},
        },
        "ambulant": {"places": None, "duration": {"dist": "fixed", "value": 0}},
        "initial": initial or {"residents": 0},
    })


def exp_stay(mean_years: float) -> dict:
    return {"dist": "exponential", "mean": mean_years, "unit": "years"}


def erlang_c(c: int, a: float) -> float:
    """P(wait > 0) in M/M/c with offered load a = lambda/mu < c."""
    terms = sum(a**k / math.factorial(k) for k in range(c))
    last = a**c / math.factorial(c) * c / (c - a)
    return last / (terms + last)


def birth_death(lam: float, death, n_max: int) -> np.ndarray:
    """Stationary distribution of a birth-death chain with constant birth rate lam."""
    p = np.ones(n_max + 1)
    for n in range(1, n_max + 1):
        p[n] = p[n - 1] * lam / death(n)
    return p / p.sum()


def mmck_blocking(c: int, K: int, lam: float, mu: float) -> float:
    return float(birth_death(lam, lambda n: min(n, c) * mu, K)[-1])


def erlang_a(c: int, lam: float, mu: float, theta: float, n_max: int = 400) -> tuple[float, float]:
    """(mean number waiting, probability of abandoning) in M/M/c+M."""
    p = birth_death(lam, lambda n: min(n, c) * mu + max(n - c, 0) * theta, n_max)
    queue = np.maximum(np.arange(n_max + 1) - c, 0)
    mean_queue = float(p @ queue)
    return mean_queue, theta * mean_queue / lam


def t_interval(samples, alpha: float) -> tuple[float, float, float]:
    """Mean and two-sided (1 - alpha) t interval of independent replication estimates."""
    x = np.asarray(samples, float)
    half = stats.t.ppf(1 - alpha / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return float(x.mean()), float(x.mean() - half), float(x.mean() + half)
