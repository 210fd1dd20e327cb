"""Parallel scaling: replications per second with 2 worker processes against 1.

Each pool is created once, warmed up (its workers import the model), and reused
for all its replications through ``run_replications(..., executor=pool)``.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor

from common import Result, main, measured, scaled

from sim.experiment.replications import run_replications

NAME = "parallel scaling (2 workers / 1 worker)"
GOAL = ">= 1.8"
WORKERS = 2


def rate(sc, pool, workers: int, replications: int) -> float:
    """Replications per second on ``pool``."""
    started = time.perf_counter()
    run_replications(sc, replications, seed=1, workers=workers, executor=pool)
    return replications / (time.perf_counter() - started)


def run(quick: bool = False, log=print) -> Result:
    load = os.getloadavg()[0]  # other work on the machine skews this benchmark most
    sc = scaled(1)
    rounds, replications = (2, 12) if quick else (3, 40)
    one = two = 0.0
    with ProcessPoolExecutor(max_workers=1) as pool1, ProcessPoolExecutor(max_workers=WORKERS) as pool2:
        for pool, workers in ((pool1, 1), (pool2, WORKERS)):  # warm-up: the workers import the model
            run_replications(sc, 2 * workers, seed=2, workers=workers, executor=pool)
        for _ in range(rounds):  # interleaved; the best round of each is the least disturbed
            one = max(one, rate(sc, pool1, 1, replications))
            two = max(two, rate(sc, pool2, WORKERS, replications))
    ratio = two / one
    details = [(
        f"baseline replications, best of {rounds} rounds of {replications}: {one:.1f}/s with 1 worker, "
        f"{two:.1f}/s with {WORKERS} (os.cpu_count() = {os.cpu_count()}, load average before {load:.2f})"
    )]
    return measured(NAME, ratio, GOAL, details, log)


if __name__ == "__main__":
    main(run, __doc__)
