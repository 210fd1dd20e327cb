"""Verification of the waitlist's service order against queueing theory.

The checks in tests/test_theory.py (mean wait, P(wait), blocking, Erlang A) are
the same for every order that gives a free place to someone on the list: a list
served last come first served, or one that ignores priority, passes them. These
checks see the order:

* FIFO, one class (M/M/c): the wait W has P(W > t) = C(c, a) exp(-(c mu - lam) t),
  C the Erlang C probability. Served LIFO, a client who finds every place taken
  waits an M/M/1 busy period (rates lam and c mu): the same mean, but more short
  waits and a heavier tail. P(W > t) is checked at t = 0.5, 1 and 2 mean waits,
  where LIFO is far lower, and at 6 mean waits, where LIFO is higher.
* Priority, two classes with the same exponential stay (non-preemptive M/M/c):
  the mean wait of class k is Cobham's W_k = (C / (c mu)) / ((1 - s_{k-1})(1 - s_k)),
  s_k the load of classes 0..k. Ignoring priority gives both classes the FIFO wait.

Each check compares a theoretical value with the t interval of REPS independent
replication estimates at level 1 - ALPHA with ALPHA = 0.001, so a correct model
fails any one check with probability 0.1% (about 0.6% for the six checks here).
The seeds are fixed, so a run is repeatable; the rates are stated so that anyone
can re-derive the intervals. Each check also asserts that its interval is
narrower than the distance from the right value to the one the wrong order gives
(LIFO; priority ignored), so intervals of that width around the two values do not
overlap and a pass rules the mistake out. The widths are 0.06 to 0.7 of those
distances. Serving the list LIFO, or leaving the priority out of its order, turns
every one of the checks of the matching test red (tried by editing the heap key
of ``Waitlist`` in sim/model/pools.py).
"""

from __future__ import annotations

import numpy as np

from sim.config.distributions import DAYS_PER_YEAR
from sim.model.states import JOURNEY_PLACED
from sim.experiment.replication import run_replication

from tests.queueing import (cobham_waits, exp_stay, mmc_lifo_wait_sf, mmc_wait_sf, queue_scenario,
                       t_interval)

ALPHA = 0.001
REPS = 40
SEED = 1954  # Cobham's year

# rates per year: c = 3 places, exponential stays of 0.01 year (3.65 days). Short stays
# and many arrivals a year make the monthly bookkeeping cheap next to the clients.
C, MEAN_STAY = 3, 0.01
MU = 1 / MEAN_STAY
WARM, TAIL = 1, 1  # years (100 mean stays) left out at the start and the end (then joiners may still wait)


def _waits(scenario, years: int, rep: int) -> tuple[np.ndarray, np.ndarray]:
    """Waits (years) and profile index of the clients who joined in [WARM, years - TAIL)."""
    j = run_replication(scenario, SEED, rep, keep_journeys=True).journeys
    mask = (j["joined"] >= WARM * DAYS_PER_YEAR) & (j["joined"] < (years - TAIL) * DAYS_PER_YEAR)
    assert np.all(j["how"][mask] == JOURNEY_PLACED)  # no withdrawal in these scenarios
    return (j["left"] - j["joined"])[mask] / DAYS_PER_YEAR, j["profile"][mask]


def test_fifo_wait_distribution_matches_erlang_c():
    lam, years = 240.0, 30  # rho = 0.8: P(wait) = 0.647, mean wait 3.9 days
    sc = queue_scenario(C, lam, exp_stay(MEAN_STAY), years=years)
    mean_wait = cobham_waits(C, [lam], MU)[0]  # one class: the Erlang C mean C / (c mu - lam)
    multiples = (0.5, 1.0, 2.0, 6.0)
    ts = [k * mean_wait for k in multiples]
    tails = []
    for rep in range(REPS):
        waits, _ = _waits(sc, years, rep)
        tails.append([(waits > t).mean() for t in ts])
    tails = np.array(tails)
    for i, (k, t) in enumerate(zip(multiples, ts)):
        fifo, lifo = mmc_wait_sf(C, lam, MU, t), mmc_lifo_wait_sf(C, lam, MU, t)
        m, lo, hi = t_interval(tails[:, i], ALPHA)
        assert lo <= fifo <= hi, (f"P(W > {k} mean waits) {m:.4f} [{lo:.4f}, {hi:.4f}] vs FIFO {fifo:.4f}"
                                  f" (LIFO {lifo:.4f})")
        assert hi - lo < abs(fifo - lifo), f"interval too wide to tell FIFO {fifo:.4f} from LIFO {lifo:.4f}"


def test_priority_classes_match_cobham():
    lam, share, years = 210.0, 0.5, 35  # rho = 0.7; half the arrivals urgent (served first)
    classes = {"urgent": {"share": share, "priority": 0}, "regular": {"share": 1 - share, "priority": 1}}
    sc = queue_scenario(C, lam, exp_stay(MEAN_STAY), years=years, classes=classes)
    expected = cobham_waits(C, [share * lam, (1 - share) * lam], MU)  # 0.92 and 3.07 days
    fifo = cobham_waits(C, [lam], MU)[0]  # both classes, if priority were ignored: 2.0 days
    means = []
    for rep in range(REPS):
        waits, profile = _waits(sc, years, rep)
        means.append([waits[profile == k].mean() for k in range(len(classes))])
    means = np.array(means)
    for k, name in enumerate(classes):
        m, lo, hi = t_interval(means[:, k], ALPHA)
        d = DAYS_PER_YEAR
        assert lo <= expected[k] <= hi, (f"{name}: mean wait {m * d:.2f} [{lo * d:.2f}, {hi * d:.2f}] days"
                                         f" vs Cobham {expected[k] * d:.2f} (FIFO {fifo * d:.2f})")
        assert hi - lo < abs(expected[k] - fifo), f"{name}: interval too wide to tell priority from FIFO"
