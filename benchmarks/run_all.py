"""Run every benchmark and print one table: name, measured ratio or exponent, goal, pass/miss.

    python benchmarks/run_all.py           # full (a few minutes)
    python benchmarks/run_all.py --quick   # a few seconds each, for CI

Goals are reported, never asserted: the exit code is 0 unless a benchmark fails to run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engine_overhead
import growth
import parallel_scaling
import peers

BENCHMARKS = (engine_overhead, parallel_scaling, growth, peers)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def table(results) -> str:
    width = max(len(r.name) for r in results)
    lines = [f"{'benchmark':<{width}}  {'measured':>9}  {'goal':>7}  result", "-" * (width + 30)]
    for r in results:
        lines.append(f"{r.name:<{width}}  {r.shown():>9}  {r.goal:>7}  {r.verdict}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (a few seconds each), for CI")
    args = parser.parse_args(argv)
    print(f"bwsim benchmarks{' (quick)' if args.quick else ''}, {dt.date.today().isoformat()}: "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {cpu_model()}")
    results = []
    for bench in BENCHMARKS:
        print(f"{bench.NAME}")
        started = time.perf_counter()
        results.append(bench.run(quick=args.quick))
        print(f"  ({time.perf_counter() - started:.1f} s)")
    print()
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
