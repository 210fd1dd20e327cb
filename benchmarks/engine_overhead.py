"""Engine overhead: wall time per client journey of the full model against per customer
of a bare SimPy M/M/c queue with the same number of customers, in the same process.

The model run is one whole replication of the Haarlem baseline (``run_replication``:
the world, its monitor and the metrics). The queue has as many servers as the
baseline has places, utilisation 0.9, and runs until its last customer leaves.
"""

from __future__ import annotations


from common import Result, journeys, main, measured, mmc_simpy, places, scaled, timed

from sim.experiment.replication import run_replication

NAME = "engine overhead (model / bare SimPy per journey)"
GOAL = "<= 3.0"


def run(quick: bool = False, log=print) -> Result:
    sc = scaled(1)
    rounds = 5 if quick else 15
    rep = run_replication(sc, 1, 0)  # warm-up, and the journey count
    n = journeys(sc, rep)
    servers = places(sc)
    model_best = bare_best = float("inf")
    for _ in range(rounds):  # interleaved, so that both see the same machine load
        model_best = min(model_best, timed(lambda: run_replication(sc, 1, 0))[0])
        bare_best = min(bare_best, timed(lambda: mmc_simpy(n, servers, 1.0, 0.9 * servers))[0])
    ratio = model_best / bare_best
    details = [
        f"{n} journeys of the baseline ({servers} places): {model_best * 1e6 / n:.1f} us each",
        f"bare SimPy M/M/{servers}, {n} customers: {bare_best * 1e6 / n:.1f} us each",
    ]
    return measured(NAME, ratio, GOAL, details, log)


if __name__ == "__main__":
    main(run, __doc__)
