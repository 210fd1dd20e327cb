"""Goal seeking: the smallest value of a parameter that meets a target often enough.

The question is "how many places (or contingent homes, ...) does it take for the
waitlist at the end of 2022 to be at most 20 in at least 80% of the runs?". The
answer is found by bisection over simulated runs: each value tried is run with
the same seed and replications (common random numbers), the share of
replications that meet ``metric(year) <= max`` is counted, and the interval
``[low, high]`` is halved until it is one unit wide (``integer``) or narrower
than ``tolerance``.

Bisection assumes that the share meeting the condition does not fall as the
parameter rises (more places, shorter list). A replication whose metric is
missing (e.g. no one placed, so no median wait) counts as not meeting it.

The answer comes with its uncertainty: the estimated share at the answer and at
the largest value tried below it, each with a Wilson 95% interval. When those
intervals still straddle the required share, the answer is not sharp: more
replications would be needed to pin it down.
"""

from __future__ import annotations

import math
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import stats

from .executors import Progress, default_workers, pool_for
from .replications import run_replications
from .sweep import (ParameterError, check_parameter, check_year, drawn, metric_index, metric_per_replication,
                    scenario_at)

Number = float | int


class TargetError(ValueError):
    """The target cannot be reached in the range, or the question is malformed."""


def wilson(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion."""
    if n == 0:
        return (0.0, 1.0)
    z = stats.norm.ppf(0.5 + level / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class Trial:
    """One value tried: how many replications met the condition."""

    value: Number
    met: int
    n: int

    @property
    def share(self) -> float:
        return self.met / self.n

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.met, self.n)


@dataclass
class Target:
    key: str
    metric: str
    year: int | None
    max_value: float
    probability: float
    low: Number
    high: Number
    replications: int
    seed: int
    answer: Number
    trials: list[Trial] = field(default_factory=list)  # in the order tried

    def meets(self, trial: Trial) -> bool:
        """At least the required share of the trial's replications met the condition."""
        return _meets(self.probability, trial)

    def trial(self, value: Number) -> Trial:
        return next(t for t in self.trials if t.value == value)

    @property
    def at_answer(self) -> Trial:
        return self.trial(self.answer)

    @property
    def below(self) -> Trial | None:
        """The largest value tried below the answer (None when the answer is the low end)."""
        lower = [t for t in self.trials if t.value < self.answer]
        return max(lower, key=lambda t: t.value) if lower else None

    @property
    def sharp(self) -> bool:
        """The Wilson intervals separate the answer (meets) from the value below it (fails)."""
        if self.at_answer.interval[0] < self.probability:
            return False
        return self.below is None or self.below.interval[1] < self.probability

    @property
    def plausible(self) -> tuple[Number, Number] | None:
        """The lowest and highest values tried whose Wilson interval includes the required share:
        with this many replications the threshold could lie anywhere between them."""
        values = [t.value for t in self.trials if t.interval[0] <= self.probability <= t.interval[1]]
        return (min(values), max(values)) if values else None

    @property
    def condition(self) -> str:
        when = f"in {self.year}" if self.year is not None else "averaged over the years"
        return f"{self.metric} {when} <= {self.max_value:g}"


def _meets(probability: float, trial: Trial) -> bool:
    return trial.met >= probability * trial.n - 1e-9


def _integral(value: Number, name: str) -> int:
    if float(value) != int(value):
        raise TargetError(f"--{name} {value}: expected a whole number (or use --no-integer)")
    return int(value)


def check_question(data: dict, key: str, low: Number, high: Number, metric: str, year: int | None,
                   probability: float, replications: int, integer: bool, tolerance: float | None,
                   source: str = "<scenario>") -> tuple[Number, Number, float]:
    """Validate a goal-seeking question before running anything: ``(low, high, tolerance)``."""
    for flag, value in (("--low", low), ("--high", high), ("--tolerance", tolerance)):
        if value is not None and not math.isfinite(value):
            raise TargetError(f"{flag} {value:g}: expected a finite number")
    if not 0 < probability <= 1:
        raise TargetError(f"--probability {probability:g}: expected a share in (0, 1]")
    if replications < 1:
        raise TargetError("at least one replication is needed")
    if integer:
        low, high = _integral(low, "low"), _integral(high, "high")
    if not low < high:
        raise TargetError(f"--low {low:g} must be below --high {high:g}")
    tolerance = (high - low) / 1000 if tolerance is None else tolerance
    if not integer and tolerance <= 0:
        raise TargetError("the tolerance must be positive")
    metric_index(metric)
    try:
        check_parameter(data, key, [low, high] if integer else [low, high, (low + high) / 2], source)
    except ParameterError as exc:
        if not integer and "valid integer" in str(exc):
            raise ParameterError(f"{exc}\n{key} takes whole numbers: search with --integer") from None
        raise
    check_year(scenario_at(data, key, high, source), year)
    return low, high, tolerance


def find_target(data: dict, key: str, low: Number, high: Number, metric: str, max_value: float,
                year: int | None = None, probability: float = 0.8, replications: int = 30, seed: int = 1,
                integer: bool = True, tolerance: float | None = None, workers: int | None = None,
                progress: Progress | None = None, source: str = "<scenario>",
                executor: Executor | None = None, draws: list[dict] | None = None, per_draw: int = 1) -> Target:
    """The smallest value of ``key`` in ``[low, high]`` with ``metric(year) <= max_value`` in at least
    ``probability`` of the replications (with ``draws``, replication r of every value takes posterior
    draw ``r // per_draw``). Raises :class:`TargetError` if even ``high`` falls short,
    :class:`~sim.experiment.sweep.ParameterError` for an unknown key, metric or year."""
    low, high, tolerance = check_question(data, key, low, high, metric, year, probability, replications, integer,
                                          tolerance, source)

    workers = default_workers() if workers is None else workers
    trials: dict[Number, Trial] = {}
    with pool_for(executor, workers) as pool:

        def meets(value: Number) -> bool:
            if value not in trials:
                sc = scenario_at(data, key, value, source)
                results = run_replications(sc, replications, seed=seed, workers=workers, progress=progress,
                                           executor=pool, variants=drawn(sc, draws, per_draw, replications))
                values = metric_per_replication(results, metric, year)
                met = int(np.sum(np.isfinite(values) & (values <= max_value)))
                trials[value] = Trial(value, met, replications)
            return _meets(probability, trials[value])

        if not meets(high):
            top = trials[high]
            raise TargetError(f"not reachable within [{low:g}, {high:g}]: at {key}={high:g} only "
                              f"{top.share:.0%} of replications ({top.met}/{top.n}) meet {metric} "
                              f"{'in ' + str(year) if year is not None else 'averaged over the years'} "
                              f"<= {max_value:g}; {probability:.0%} needed")
        answer = low if meets(low) else _bisect(meets, low, high, integer, tolerance)
    return Target(key, metric, year, max_value, probability, low, high, replications, seed, answer,
                  list(trials.values()))


def _bisect(meets: Callable[[Number], bool], low: Number, high: Number, integer: bool, tolerance: float) -> Number:
    """The smallest value in (low, high] that meets, given that high does and low does not."""
    lo, hi = low, high
    while (hi - lo > 1) if integer else (hi - lo > tolerance):
        mid = (lo + hi) // 2 if integer else (lo + hi) / 2
        if meets(mid):
            hi = mid
        else:
            lo = mid
    return hi


__all__ = ["ParameterError", "Target", "TargetError", "Trial", "check_question", "find_target", "wilson"]
