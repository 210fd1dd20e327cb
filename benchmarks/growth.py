"""Growth: time and peak memory of one replication as the region grows.

Every size of the Haarlem baseline (places, initial stock, inflow, contingent,
bridging and ambulant places) is multiplied by the same factor. The sizes are run
in interleaved rounds (x1, x10, x40, x1, x10, x40, ...) so that other load on the
machine falls on every size alike; time is the best of the rounds. Peak memory is
what ``tracemalloc`` sees allocated during one further run (Python objects and numpy
arrays; not the interpreter itself). The exponent is the slope of log(time) against
log(size), between every pair of sizes and by least squares over all of them; a
slope of 1 means the time per journey stays the same. The goal holds for the
largest pairwise slope.
"""

from __future__ import annotations

import tracemalloc
from itertools import combinations

from common import Result, best_of, check, journeys, loglog_slope, main, places, scaled

from sim.experiment.replication import run_replication

NAME = "growth (exponent of time vs size)"
GOAL = "<= 1.05"
SIZES = (1, 10, 40, 160)
QUICK_SIZES = (1, 3, 10)
ROUNDS, QUICK_ROUNDS = 3, 3


def peak_memory(sc) -> int:
    tracemalloc.start()
    try:
        run_replication(sc, 1, 0)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def timed_rounds(scenarios: list, rounds: int) -> tuple[list[list[float]], list]:
    """The time of each scenario in each of ``rounds`` interleaved rounds, and a replication of each."""
    times: list[list[float]] = []
    reps: list = [None] * len(scenarios)
    for _ in range(rounds):
        times.append([])
        for i, sc in enumerate(scenarios):
            seconds, reps[i] = best_of(lambda sc=sc: run_replication(sc, 1, 0), 1)
            times[-1].append(seconds)
    return times, reps


def pairwise_slopes(sizes, seconds) -> dict[tuple, float]:
    """Slope of log(time) against log(size) between every pair of sizes."""
    return {(a, b): loglog_slope((sizes[a], sizes[b]), (seconds[a], seconds[b]))
            for a, b in combinations(range(len(sizes)), 2)}


def run(quick: bool = False, log=print) -> Result:
    sizes = QUICK_SIZES if quick else SIZES
    scenarios = [scaled(size) for size in sizes]
    times, reps = timed_rounds(scenarios, QUICK_ROUNDS if quick else ROUNDS)
    seconds = [min(column) for column in zip(*times)]
    details = []
    for size, sc, best, rep in zip(sizes, scenarios, seconds, reps):
        peak = peak_memory(sc)
        n = journeys(sc, rep)
        details.append(f"x{size:<3} {places(sc):6d} places {n:7d} journeys: {best:6.2f} s "
                       f"({best * 1e6 / n:5.1f} us/journey), peak {peak / 1e6:6.1f} MB "
                       f"({peak / places(sc) / 1e3:5.1f} kB/place)")
        log("  " + details[-1])
    exponent = loglog_slope(sizes, seconds)
    top = loglog_slope(sizes[-2:], seconds[-2:])
    details.append(f"exponent over all sizes {exponent:.2f}; between x{sizes[-2]} and x{sizes[-1]} alone {top:.2f}")
    log("  " + details[-1])
    slopes = pairwise_slopes(sizes, seconds)
    details.append("slope between every pair: " + ", ".join(
        f"x{sizes[a]}-x{sizes[b]} {slope:.2f}" for (a, b), slope in slopes.items()))
    log("  " + details[-1])
    # how much the slopes move from one round to the next: the noise of this machine
    spread = [pairwise_slopes(sizes, row) for row in times]
    details.append("slope within each round (noise): " + ", ".join(
        f"x{sizes[a]}-x{sizes[b]} {min(r[(a, b)] for r in spread):.2f}..{max(r[(a, b)] for r in spread):.2f}"
        for a, b in slopes))
    log("  " + details[-1])
    worst = max(slopes.values())
    return Result(NAME, worst, GOAL, check(worst, GOAL), unit="", details=details)


if __name__ == "__main__":
    main(run, __doc__)
