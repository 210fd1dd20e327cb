"""Verification against queueing theory.

Each check compares a theoretical value with the t confidence interval of R
independent replication estimates. Every interval is at level 1 - ALPHA with
ALPHA = 0.001, so a correct model fails any one check with probability 0.1%
(about 1% for the whole file). The seeds are fixed, so a run is repeatable; the
rates are stated so that anyone can re-derive the intervals.
"""

from __future__ import annotations

import numpy as np

from sim.config.distributions import DAYS_PER_YEAR
from sim.model.states import FLOW, JOURNEY_PLACED, JOURNEY_WITHDRAWN, LEVEL
from sim.experiment.replication import run_replication

from tests.queueing import erlang_a, erlang_c, exp_stay, mmck_blocking, queue_scenario, t_interval

ALPHA = 0.001
REPS = 40
SEED = 20151


def _journeys(scenario, rep):
    return run_replication(scenario, SEED, rep, keep_journeys=True, keep_monitor=True)


def _window(j, warm_days, end_days):
    """Clients who joined the list in [warm, end): their wait and how they left."""
    mask = (j["joined"] >= warm_days) & (j["joined"] < end_days)
    return (j["left"] - j["joined"])[mask], j["how"][mask]


def _time_average(mon, level: str, warm_days: float) -> float:
    """Time-average of a level from the warm-up date to the end of the run."""
    days = mon.calendar.days
    i = int(np.searchsorted(days, warm_days))
    area = mon.snap_area[:, LEVEL[level]]
    return (area[-1] - area[i]) / (days[-1] - days[i])


def test_fifo_place_pool_matches_erlang_c():
    c, lam, mean_stay = 3, 24.0, 0.1  # per year; rho = 0.8
    years, warm = 150, 5
    sc = queue_scenario(c, lam, exp_stay(mean_stay), years=years)
    mean_wait, p_wait = [], []
    for rep in range(REPS):
        r = _journeys(sc, rep)
        # joiners late in the run may still be waiting: leave the last 5 years out
        waits, _ = _window(r.journeys, warm * DAYS_PER_YEAR, (years - 5) * DAYS_PER_YEAR)
        mean_wait.append(waits.mean() / DAYS_PER_YEAR)
        p_wait.append((waits > 0).mean())
    a = lam * mean_stay
    pc = erlang_c(c, a)
    wq = pc / (c / mean_stay - lam)
    m, lo, hi = t_interval(mean_wait, ALPHA)
    assert lo <= wq <= hi, f"mean wait {m:.3f} [{lo:.3f}, {hi:.3f}] vs Erlang C {wq:.3f}"
    assert hi - lo < 0.5 * wq, "interval too wide to be a real check"
    m, lo, hi = t_interval(p_wait, ALPHA)
    assert lo <= pc <= hi, f"P(wait) {m:.3f} [{lo:.3f}, {hi:.3f}] vs Erlang C {pc:.3f}"


def test_finite_list_matches_mmck_blocking():
    c, K, lam, mean_stay = 2, 5, 25.0, 0.1  # list of K - c = 3
    years, warm = 60, 2
    sc = queue_scenario(c, lam, exp_stay(mean_stay), years=years, max_list=K - c)
    blocked = []
    for rep in range(REPS):
        mon = run_replication(sc, SEED, rep, keep_monitor=True).monitor
        i = int(np.searchsorted(mon.calendar.days, warm * DAYS_PER_YEAR))
        turned = mon.flows[FLOW["turned_away"], i:].sum()
        arrivals = mon.flows[FLOW["arrivals"], i:].sum()
        blocked.append(turned / arrivals)
    pk = mmck_blocking(c, K, lam, 1 / mean_stay)
    m, lo, hi = t_interval(blocked, ALPHA)
    assert lo <= pk <= hi, f"blocking {m:.4f} [{lo:.4f}, {hi:.4f}] vs M/M/c/K {pk:.4f}"
    assert hi - lo < 0.3 * pk


def test_withdrawal_matches_erlang_a():
    c, lam, mean_stay, theta = 3, 33.0, 0.1, 5.0  # overloaded without withdrawal (rho = 1.1)
    years, warm = 60, 2
    sc = queue_scenario(c, lam, exp_stay(mean_stay), years=years, withdrawal=theta)
    mean_queue, p_abandon, little = [], [], []
    for rep in range(REPS):
        r = _journeys(sc, rep)
        mon = r.monitor
        mean_queue.append(_time_average(mon, "waiting", warm * DAYS_PER_YEAR))
        waits, how = _window(r.journeys, warm * DAYS_PER_YEAR, (years - 2) * DAYS_PER_YEAR)
        p_abandon.append((how == JOURNEY_WITHDRAWN).mean())
        # Little's law on the list: L = lambda * W, both measured in this replication
        joined = len(waits) / (years - 2 - warm)
        little.append(mean_queue[-1] - joined * waits.mean() / DAYS_PER_YEAR)
    lq, pa = erlang_a(c, lam, 1 / mean_stay, theta)
    m, lo, hi = t_interval(mean_queue, ALPHA)
    assert lo <= lq <= hi, f"mean waiting {m:.3f} [{lo:.3f}, {hi:.3f}] vs Erlang A {lq:.3f}"
    m, lo, hi = t_interval(p_abandon, ALPHA)
    assert lo <= pa <= hi, f"P(withdraw) {m:.4f} [{lo:.4f}, {hi:.4f}] vs Erlang A {pa:.4f}"
    m, lo, hi = t_interval(little, ALPHA)
    assert lo <= 0 <= hi, f"L - lambda W = {m:.4f} [{lo:.4f}, {hi:.4f}]"


def test_stays_without_queue_match_m_g_infinity():
    lam, mean_stay = 500.0, 0.2  # occupancy Poisson with mean 100
    stay = {"dist": "lognormal", "mean": mean_stay, "sd": 0.3, "unit": "years"}
    years, warm = 10, 3  # stays have a long tail: warm up for 15 mean stays
    sc = queue_scenario(100_000, lam, stay, years=years)
    mean_occ, var_ratio = [], []
    for rep in range(REPS):
        r = run_replication(sc, SEED, rep, keep_journeys=True, keep_monitor=True)
        assert np.all(r.journeys["how"] == JOURNEY_PLACED)
        mean_occ.append(_time_average(r.monitor, "in_care", warm * DAYS_PER_YEAR))
        yearly = r.monitor.snap_levels[:, LEVEL["in_care"]][r.monitor.calendar.days >= warm * DAYS_PER_YEAR][::12]
        var_ratio.append(yearly.var(ddof=1) / yearly.mean())
    m, lo, hi = t_interval(mean_occ, ALPHA)
    assert lo <= lam * mean_stay <= hi, f"occupancy {m:.2f} [{lo:.2f}, {hi:.2f}] vs {lam * mean_stay}"
    # Poisson: variance equals the mean (yearly records a year apart, nearly independent)
    m, lo, hi = t_interval(var_ratio, ALPHA)
    assert lo <= 1.0 <= hi, f"variance/mean {m:.3f} [{lo:.3f}, {hi:.3f}]"


def test_initial_residents_start_in_equilibrium():
    """Residents at the start get the residual of their stay given the time already spent.

    Starting M/G/inf with n0 = lambda E[S] residents drawn this way, E[N(t)] = n0 at every
    t. Fresh stays for those residents would make occupancy dip in the first years
    (they leave too early for a long-tailed stay); this checks the first four years.
    """
    lam, mean_stay = 50.0, 2.0
    stay = {"dist": "lognormal", "mean": mean_stay, "sd": 3.0, "unit": "years"}
    sc = queue_scenario(100_000, lam, stay, years=4,
                        initial={"residents": int(lam * mean_stay)})
    at = {12: [], 24: [], 48: []}  # months after the start
    for rep in range(2 * REPS):
        mon = run_replication(sc, SEED, rep, keep_monitor=True).monitor
        for month in at:
            at[month].append(mon.snap_levels[month, LEVEL["in_care"]])
    for month, values in at.items():
        m, lo, hi = t_interval(values, ALPHA)
        assert lo <= lam * mean_stay <= hi, f"month {month}: {m:.1f} [{lo:.1f}, {hi:.1f}]"


def test_residual_law_differs_from_fresh_stays():
    """The check above can fail: fresh stays for the initial residents leave too early."""
    from sim.config.distributions import Lognormal, residual_after_elapsed

    rng = np.random.default_rng(1)
    law = Lognormal(dist="lognormal", mean=2.0, sd=3.0, unit="years")
    _, residual = residual_after_elapsed(law, rng, 50_000)
    fresh = law.sample(rng, 50_000)
    # equilibrium residual mean is E[S^2] / (2 E[S]) = (sd^2 + mean^2) / (2 mean)
    expected = (3.0**2 + 2.0**2) / (2 * 2.0) * DAYS_PER_YEAR
    assert abs(residual.mean() / expected - 1) < 0.05
    assert abs(fresh.mean() / expected - 1) > 0.3
