"""Growth: time and peak memory of one replication as the region grows.

Every size of the Haarlem baseline (places, initial stock, inflow, contingent,
bridging and ambulant places) is multiplied by the same factor. Time is the best of
a few runs; peak memory is what ``tracemalloc`` sees allocated during one further
run (Python objects and numpy arrays; not the interpreter itself). The exponent is
the slope of a least-squares line through log(time) against log(size); a slope of 1
means time per place stays the same.
"""

from __future__ import annotations

import tracemalloc

from common import Result, best_of, check, journeys, loglog_slope, main, places, scaled

from sim.experiment.replication import run_replication

NAME = "growth (exponent of time vs size)"
GOAL = "<= 1.1"
SIZES = (1, 10, 40)
QUICK_SIZES = (1, 3, 10)


def peak_memory(sc) -> int:
    tracemalloc.start()
    try:
        run_replication(sc, 1, 0)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run(quick: bool = False, log=print) -> Result:
    sizes = QUICK_SIZES if quick else SIZES
    seconds, details = [], []
    for size in sizes:
        sc = scaled(size)
        repeat = 2 if size == sizes[-1] else 3
        best, rep = best_of(lambda sc=sc: run_replication(sc, 1, 0), repeat)
        peak = peak_memory(sc)
        seconds.append(best)
        n = journeys(sc, rep)
        details.append(f"x{size:<3} {places(sc):6d} places {n:7d} journeys: {best:6.2f} s "
                       f"({best * 1e6 / n:5.1f} us/journey), peak {peak / 1e6:6.1f} MB "
                       f"({peak / places(sc) / 1e3:5.1f} kB/place)")
        log("  " + details[-1])
    exponent = loglog_slope(sizes, seconds)
    top = loglog_slope(sizes[-2:], seconds[-2:])
    details.append(f"exponent over all sizes {exponent:.2f}; between x{sizes[-2]} and x{sizes[-1]} alone {top:.2f}")
    log("  " + details[-1])
    return Result(NAME, exponent, GOAL, check(exponent, GOAL), unit="", details=details)


if __name__ == "__main__":
    main(run, __doc__)
