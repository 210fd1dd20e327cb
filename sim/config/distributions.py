"""Duration distributions read from scenario YAML.

Every duration in a scenario (a stay, a delay, a time already waited) is one of
these, written as a mapping with a ``dist`` key, e.g.::

    {dist: lognormal, mean: 7.5, sd: 6, unit: years}

Parameters are given in the stated ``unit`` (days, months or years); samples are
returned in days, the simulation's time unit. The unit is required: a duration without
one is an error that shows what to write, never a silent default.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

DAYS_PER_YEAR = 365.25
UNIT_DAYS = {"days": 1.0, "months": DAYS_PER_YEAR / 12.0, "years": DAYS_PER_YEAR}

Unit = Literal["days", "months", "years"]
UNITS = ("days", "months", "years")
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    unit: Unit

    @property
    def scale_days(self) -> float:
        return UNIT_DAYS[self.unit]

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` draws, in days."""
        return self._draw(rng, size) * self.scale_days

    def mean_days(self) -> float:
        return self._mean() * self.scale_days

    def _draw(self, rng: np.random.Generator, size: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _mean(self) -> float:  # pragma: no cover
        raise NotImplementedError


class Exponential(_Dist):
    dist: Literal["exponential"]
    mean: Positive

    def _draw(self, rng, size):
        return rng.exponential(self.mean, size)

    def _mean(self):
        return self.mean


class Lognormal(_Dist):
    """Lognormal given by its own mean and standard deviation (not those of the log)."""

    dist: Literal["lognormal"]
    mean: Positive
    sd: Positive

    def log_params(self) -> tuple[float, float]:
        sigma2 = np.log1p((self.sd / self.mean) ** 2)
        return float(np.log(self.mean) - sigma2 / 2), float(np.sqrt(sigma2))

    def _draw(self, rng, size):
        mu, sigma = self.log_params()
        return rng.lognormal(mu, sigma, size)

    def _mean(self):
        return self.mean


class Gamma(_Dist):
    dist: Literal["gamma"]
    mean: Positive
    sd: Positive

    def _draw(self, rng, size):
        shape = (self.mean / self.sd) ** 2
        return rng.gamma(shape, self.mean / shape, size)

    def _mean(self):
        return self.mean


class Weibull(_Dist):
    dist: Literal["weibull"]
    shape: Positive
    scale: Positive

    def _draw(self, rng, size):
        return self.scale * rng.weibull(self.shape, size)

    def _mean(self):
        from scipy.special import gamma

        return float(self.scale * gamma(1.0 + 1.0 / self.shape))


class Uniform(_Dist):
    dist: Literal["uniform"]
    low: NonNegative
    high: NonNegative

    @model_validator(mode="after")
    def _ordered(self):
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be at least low ({self.low})")
        return self

    def _draw(self, rng, size):
        return rng.uniform(self.low, self.high, size)

    def _mean(self):
        return (self.low + self.high) / 2


class Triangular(_Dist):
    """A bounded duration: never below ``low`` or above ``high``, most often near ``mode``."""

    dist: Literal["triangular"]
    low: NonNegative
    mode: NonNegative
    high: NonNegative

    @model_validator(mode="after")
    def _ordered(self):
        if not self.low <= self.mode <= self.high or self.high <= self.low:
            raise ValueError(f"expected low <= mode <= high and low < high (got low {self.low}, mode {self.mode}, "
                             f"high {self.high})")
        return self

    def _draw(self, rng, size):
        return rng.triangular(self.low, self.mode, self.high, size)

    def _mean(self):
        return (self.low + self.mode + self.high) / 3


class Fixed(_Dist):
    dist: Literal["fixed"]
    value: NonNegative

    def _draw(self, rng, size):
        return np.full(size, float(self.value))

    def _mean(self):
        return self.value


class Empirical(_Dist):
    """Observed durations, drawn with replacement (optionally weighted)."""

    dist: Literal["empirical"]
    values: list[NonNegative] = Field(min_length=1)
    weights: list[NonNegative] | None = None

    @model_validator(mode="after")
    def _weights_match(self):
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError("weights must have one entry per value")
            if sum(self.weights) <= 0:
                raise ValueError("weights must not all be zero")
        return self

    def _probabilities(self):
        if self.weights is None:
            return None
        w = np.asarray(self.weights, float)
        return w / w.sum()

    def _draw(self, rng, size):
        return rng.choice(np.asarray(self.values, float), size=size, p=self._probabilities())

    def _mean(self):
        p = self._probabilities()
        return float(np.average(self.values, weights=p))


def _flow(value: Any) -> str:
    """A value as YAML flow text, for an example in a message."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def require_unit(value: Any) -> Any:
    """A duration mapping must state its unit; the message shows the mapping with one. (An
    unknown ``dist`` is left to the discriminator to report.)"""
    if isinstance(value, dict) and value.get("dist") in DIST_NAMES and "unit" not in value:
        example = _flow({**value, "unit": "years"})
        raise ValueError(f"expected a unit: {', '.join(UNITS[:-1])} or {UNITS[-1]}, e.g. {example}")
    return value


DIST_NAMES = ("exponential", "lognormal", "gamma", "weibull", "uniform", "fixed", "empirical")

Duration = Annotated[
    Union[Exponential, Lognormal, Gamma, Weibull, Uniform, Triangular, Fixed, Empirical],
    Field(discriminator="dist"),
    BeforeValidator(require_unit),
]


def length_biased_sample(dist: _Dist, rng: np.random.Generator, size: int) -> np.ndarray:
    """Draw total durations with density proportional to ``s * f(s)`` (in days).

    A resident found in care at a random moment of a stationary system has a stay
    drawn from this length-biased law; the time already spent is then a uniform
    fraction of it. Lognormal and exponential have closed forms; the others are
    drawn by weighted resampling from a large sample.
    """
    if size == 0:
        return np.empty(0)
    if isinstance(dist, Lognormal):
        mu, sigma = dist.log_params()
        return rng.lognormal(mu + sigma**2, sigma, size) * dist.scale_days
    if isinstance(dist, Exponential):
        return rng.gamma(2.0, dist.mean, size) * dist.scale_days
    pool = dist.sample(rng, max(200 * size, 20_000))
    if pool.sum() <= 0:
        return np.zeros(size)
    return rng.choice(pool, size=size, p=pool / pool.sum())


def residual_after_elapsed(dist: _Dist, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(time already spent, time remaining) for residents of a stationary system, in days."""
    total = length_biased_sample(dist, rng, size)
    elapsed = rng.uniform(0.0, 1.0, size) * total
    return elapsed, total - elapsed
