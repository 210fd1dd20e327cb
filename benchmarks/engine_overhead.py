"""Engine overhead: wall time per client journey of the full model against per customer
of a bare SimPy M/M/c queue with the same number of customers, in the same process.

The model run is one whole replication of the Haarlem baseline (``run_replication``:
the world, its monitor and the metrics). The queue has as many servers as the
baseline has places, utilisation 0.9, and runs until its last customer leaves.
"""

from __future__ import annotations

import argparse

from common import Result, check, journeys, mmc_simpy, places, scaled, timed

from sim.replication import run_replication

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
    for line in details:
        log("  " + line)
    return Result(NAME, ratio, GOAL, check(ratio, GOAL), details=details)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    r = run(parser.parse_args().quick)
    print(f"{r.name}: {r.shown()} (goal {r.goal}, {r.verdict})")
