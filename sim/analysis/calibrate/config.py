"""The calibration file: its schema, the free parameters and the checked :class:`Config`.

A calibration file names a scenario, an observations CSV, uniform priors for scenario
key paths, the distance and the ABC-SMC settings. With a cut-off date (hold-out
validation), fitted observations that end after it are marked ``HOLDOUT``: they are
predicted, not fitted.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ...config import scenario as scenario_mod
from ...model.calendar import Calendar
from ..abc_smc import Box
from .errors import CalibrationError
from .observations import HOLDOUT, Observation, read_observations, record_indices


#: Upper bounds of the method's numbers: beyond them a calibration is a typo, not a plan (the
#: Haarlem calibration uses 600 sets, 12 generations, 3 replications and 200 draws).
MAX_POPULATION = 100_000
MAX_GENERATIONS = 1_000
MAX_REPLICATIONS = 1_000
MAX_DRAWS = 100_000
Finite = Annotated[float, Field(allow_inf_nan=False)]


class _Prior(BaseModel):
    model_config = ConfigDict(extra="forbid")
    low: Finite
    high: Finite
    integer: bool = False


class _Distance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["scaled_rms"] = "scaled_rms"
    discrepancy_relative: float = Field(0.05, ge=0, le=10, allow_inf_nan=False)


class Method(BaseModel):
    """ABC-SMC settings: ``population`` sets per generation, of which ``alpha`` are kept."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["abc-smc"] = "abc-smc"
    population: int = Field(400, ge=4, le=MAX_POPULATION)
    alpha: float = Field(0.5, gt=0, lt=1)
    generations: int = Field(10, ge=1, le=MAX_GENERATIONS)
    min_acceptance: float = Field(0.05, ge=0, le=1)
    #: the proposal kernel: a covariance local to each kept set (Filippi et al. 2013), or twice
    #: the kept sets' weighted covariance for all (Beaumont et al. 2009; the fits before 2026-12-02)
    kernel: Literal["olcm", "gaussian"] = "olcm"
    replications: int = Field(3, ge=1, le=MAX_REPLICATIONS)
    seed: int = Field(1, ge=0)

    @property
    def kept(self) -> int:
        return max(2, int(self.alpha * self.population))


class _Predictive(BaseModel):
    model_config = ConfigDict(extra="forbid")
    draws: int = Field(200, ge=2, le=MAX_DRAWS)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scenario: str
    observations: str
    parameters: dict[str, _Prior] = Field(min_length=1)
    distance: _Distance = _Distance()
    method: Method = Method()
    predictive: _Predictive = _Predictive()


@dataclass(frozen=True)
class Parameter:
    """A free parameter: a scenario key path with a uniform prior on ``[low, high]``."""

    key: str
    low: float
    high: float
    integer: bool = False

    def value(self, x: float) -> float | int:
        return int(round(x)) if self.integer else float(x)


@dataclass(frozen=True)
class Config:
    path: Path
    scenario_path: Path
    observations_path: Path
    scenario_data: dict  # the resolved scenario mapping (``extends:`` applied)
    parameters: tuple[Parameter, ...]
    observations: tuple[Observation, ...]
    method: Method
    discrepancy_relative: float
    predictive_draws: int
    cutoff: dt.date | None = None

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.parameters]

    @property
    def fitted(self) -> list[Observation]:
        return [o for o in self.observations if o.use == "fit"]

    def scales(self) -> np.ndarray:
        """Per fitted observation: observation error and model discrepancy in quadrature."""
        return np.array([math.hypot(o.sd, self.discrepancy_relative * abs(o.value)) for o in self.fitted])


def prior_box(config: Config) -> Box:
    """The parameters' uniform priors, as the algorithm sees them."""
    return Box(np.array([p.low for p in config.parameters]), np.array([p.high for p in config.parameters]))


def parameter_values(config: Config, x: np.ndarray) -> dict[str, float]:
    """One parameter set (a row of x) as scenario key paths and values."""
    return {p.key: p.value(v) for p, v in zip(config.parameters, x)}


def _check_parameters(path: Path, priors: dict[str, _Prior], data: dict) -> tuple[Parameter, ...]:
    params = []
    for key, prior in priors.items():
        if not prior.low < prior.high:
            raise CalibrationError(f"{path}: parameters.{key}: prior low ({prior.low:g}) must be below high ({prior.high:g})")
        p = Parameter(key, prior.low, prior.high, prior.integer)
        for x in (p.low, p.high):
            try:
                scenario_mod.from_mapping(scenario_mod.with_values(data, {key: p.value(x)}), "scenario")
            except scenario_mod.ScenarioError as exc:
                detail = str(exc).replace("\n", "; ")
                raise CalibrationError(
                    f"{path}: parameters.{key}: not a valid scenario key path (setting it to {x:g} gives: {detail})"
                ) from None
        params.append(p)
    return tuple(params)


def _read_yaml(path: Path) -> dict:
    """The calibration file as a mapping, read with the loader that refuses a duplicate key; what
    is not YAML is one line naming the file's line (YAML's own message spans several)."""
    import yaml

    if not path.is_file():
        raise CalibrationError(f"{path}: file not found" if not path.exists()
                               else f"{path}: expected a calibration YAML file, got a folder")
    try:
        data = scenario_mod.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise CalibrationError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = "; ".join(t for t in (exc.context, exc.problem) if t)
        raise CalibrationError(f"{path}: {where}not valid YAML: {what}") from None
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a date such as 2022-02-30
        raise CalibrationError(f"{path}: not valid YAML: {exc}".replace("\n", " ")) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CalibrationError(f"{path}: expected a mapping of keys at the top level (scenario, observations, "
                               "parameters, ...)")
    return data


def load_config(path: str | Path, cutoff: dt.date | None = None) -> Config:
    """Read a calibration file; with ``cutoff``, fitted observations ending after it are held out."""
    path = Path(path)
    raw = _read_yaml(path)
    try:
        spec = _File.model_validate(raw)
    except ValidationError as exc:
        raise CalibrationError(scenario_mod.format_errors(str(path), exc).replace("\n", "; ")) from None
    scenario_path = (path.parent / spec.scenario).resolve()
    if not scenario_path.is_file():
        raise CalibrationError(f"{path}: scenario: file not found: {scenario_path}")
    try:
        data = scenario_mod.load_raw(scenario_path)
        base = scenario_mod.from_mapping(data, str(scenario_path))
    except scenario_mod.ScenarioError as exc:
        raise CalibrationError(f"{path}: scenario: {exc}".replace("\n", "; ")) from None
    obs_path = (path.parent / spec.observations).resolve()
    if not obs_path.is_file():
        raise CalibrationError(f"{path}: observations: file not found: {obs_path}")
    observations = read_observations(obs_path)
    calendar = Calendar(base.start, base.end)
    for obs in observations:
        try:
            record_indices(obs, calendar)
            if obs.municipality and obs.municipality not in base.inflow.municipalities:
                raise CalibrationError(f"{obs.name}: {obs.municipality!r} is not one of the scenario's municipalities "
                                       f"({', '.join(base.inflow.municipalities)})")
        except CalibrationError as exc:
            raise CalibrationError(f"{obs_path}: line {obs.row}: {exc}") from None
    if cutoff is not None:
        observations = [replace(o, use=HOLDOUT) if o.use == "fit" and o.end > cutoff else o for o in observations]
    if not any(o.use == "fit" for o in observations):
        raise CalibrationError(f"{obs_path}: no observation to fit" + (f" up to {cutoff}" if cutoff else ""))
    return Config(
        path=path,
        scenario_path=scenario_path,
        observations_path=obs_path,
        scenario_data=data,
        parameters=_check_parameters(path, spec.parameters, data),
        observations=tuple(observations),
        method=spec.method,
        discrepancy_relative=spec.distance.discrepancy_relative,
        predictive_draws=spec.predictive.draws,
        cutoff=cutoff,
    )
