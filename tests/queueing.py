"""Queueing theory for the verification tests, and scenarios that reduce the model to a queue."""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, special, stats

from sim.config.scenario import from_mapping


def queue_scenario(c: int, lam: float, stay: dict, *, years: int, withdrawal: float = 0.0,
                   max_list: int | None = None, initial: dict | None = None,
                   classes: dict[str, dict] | None = None):
    """The BW model reduced to one place pool with a list: Poisson arrivals (per year),
    ``c`` places, stays from ``stay``, every stay ends in an immediate exit.

    ``classes`` (optional) splits the arrivals into profiles, name -> {"share", "priority"},
    all with the same ``stay``; without it there is one profile, "regular".
    """
    classes = classes or {"regular": {"share": 1.0}}
    return from_mapping({
        "name": f"M/G/{c} test",
        "start": "2000-01-01",
        "end": f"{2000 + years}-01-01",
        "profiles": {name: {**spec, "stay": stay} for name, spec in classes.items()},
        "inflow": {"per_year": lam, "municipalities": {"X": 1.0}},
        "waitlist": {"withdrawal_per_year": withdrawal, "max_length": max_list},
        "providers": {"P": {"places": c, "inflow_share": 1.0}},
        "uitstroom": {
            "destinations": {"independent": 0.0, "intramural": 0.0, "died_or_moved": 1.0},
            "housing": {"contingent_share": 0.0,
                        "contingent": {"units_per_year": 0, "bw_share": 0},
                        "other_route_delay": {"dist": "fixed", "value": 0, "unit": "years"}},
        },
        "ambulant": {"places": None, "duration": {"dist": "fixed", "value": 0, "unit": "years"}},
        "initial": initial or {"residents": 0},
    })


def exp_stay(mean_years: float) -> dict:
    return {"dist": "exponential", "mean": mean_years, "unit": "years"}


def erlang_c(c: int, a: float) -> float:
    """P(wait > 0) in M/M/c with offered load a = lambda/mu < c."""
    terms = sum(a**k / math.factorial(k) for k in range(c))
    last = a**c / math.factorial(c) * c / (c - a)
    return last / (terms + last)


def mmc_wait_sf(c: int, lam: float, mu: float, t: float) -> float:
    """P(W > t) for the wait W in FIFO M/M/c: C(c, a) exp(-(c mu - lam) t)."""
    return erlang_c(c, lam / mu) * math.exp(-(c * mu - lam) * t)


def mm1_busy_period_sf(lam: float, mu: float, t: float) -> float:
    """P(B > t) for the busy period B of an M/M/1 queue (arrival rate lam < service rate mu).

    Density f(s) = sqrt(mu/lam) / s * exp(-(lam + mu) s) * I_1(2 s sqrt(lam mu));
    written with the scaled Bessel function ive so that it does not overflow.
    """
    decay = (math.sqrt(mu) - math.sqrt(lam)) ** 2
    root = math.sqrt(lam * mu)

    def density(s: float) -> float:
        if s <= 0:
            return mu
        return math.sqrt(mu / lam) / s * math.exp(-decay * s) * special.ive(1, 2 * s * root)

    return 1.0 - integrate.quad(density, 0.0, t, limit=200)[0]


def mmc_lifo_wait_sf(c: int, lam: float, mu: float, t: float) -> float:
    """P(W > t) in M/M/c served last come first served (non-preemptive).

    A client who finds all places taken is served once the stack above it has
    cleared: while anyone waits, places free at rate c mu, so the wait is an M/M/1
    busy period with rates lam and c mu. Same mean as FIFO, heavier tail.
    """
    return erlang_c(c, lam / mu) * mm1_busy_period_sf(lam, c * mu, t)


def cobham_waits(c: int, lams, mu: float) -> list[float]:
    """Mean wait per class in non-preemptive priority M/M/c, all classes with rate mu.

    Class k (0 = served first) arriving at rate lams[k]: with sigma_k the load
    of classes 0..k, sum(lams[:k+1]) / (c mu), and C the Erlang C probability of
    the total load (Cobham 1954),
        W_k = (C / (c mu)) / ((1 - sigma_{k-1}) (1 - sigma_k)).
    """
    total = sum(lams)
    w0 = erlang_c(c, total / mu) / (c * mu)
    waits, sigma = [], 0.0
    for lam in lams:
        before, sigma = sigma, sigma + lam / (c * mu)
        waits.append(w0 / ((1 - before) * (1 - sigma)))
    return waits


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
