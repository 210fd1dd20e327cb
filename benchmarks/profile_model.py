"""Profile one replication of the scaled baseline with pyinstrument (default: the x10 region).

    python benchmarks/profile_model.py [--scale 10] [--no-gc] [--html profile.html]

Also reports how much of the run the cyclic garbage collector takes (``gc.callbacks``),
which pyinstrument otherwise spreads over whatever allocation triggered a collection.
pyinstrument is needed only here (``pip install pyinstrument``).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import journeys, places, scaled

from sim.experiment.replication import run_replication


class GcClock:
    """Seconds and collections of the cyclic garbage collector, per generation."""

    def __init__(self):
        self.seconds = [0.0, 0.0, 0.0]
        self.collections = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase, info):
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds[info["generation"]] += time.perf_counter() - self._started
            self.collections[info["generation"]] += 1

    def __enter__(self):
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--no-gc", action="store_true", help="disable the cyclic garbage collector during the run")
    parser.add_argument("--html", type=Path, help="also write pyinstrument's HTML report here")
    args = parser.parse_args(argv)
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("pyinstrument is not installed: pip install pyinstrument")
        return 1
    sc = scaled(args.scale)
    rep = run_replication(sc, 1, 1)  # warm-up
    print(f"{sc.name}: {places(sc)} places, {journeys(sc, rep)} journeys")

    with GcClock() as clock:
        started = time.perf_counter()
        run_replication(sc, 1, 0)
        wall = time.perf_counter() - started
    print(f"without profiler: {wall:.2f} s, of which cyclic GC {sum(clock.seconds):.2f} s "
          f"(collections by generation {clock.collections}, seconds {[round(s, 2) for s in clock.seconds]})")

    profiler = Profiler(interval=0.0005)
    if args.no_gc:
        gc.disable()
    profiler.start()
    run_replication(sc, 1, 0)
    profiler.stop()
    gc.enable()
    print(profiler.output_text(unicode=False, color=False))
    if args.html:
        args.html.write_text(profiler.output_html())
    return 0


if __name__ == "__main__":
    sys.exit(main())
