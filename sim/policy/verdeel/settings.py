"""The verdeel settings: which regime, from when, how much money, and the table of shares.

Cheap to import (pydantic, no numpy): the command line reads :data:`REGIMES` for its help.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

REGIMES = ("historic", "objective", "phased", "two_track")
DEFAULT_PHASE_IN = [round(0.1 * k, 1) for k in range(11)]
#: ``macro_budget: scenario_cost``: the run's own mean regional cost, year by year (budget-neutral).
SCENARIO_COST = "scenario_cost"
#: More euros a year than this (a trillion) is a typo, not a region's BW budget.
MAX_EUROS = 1e12


class VerdeelError(ValueError):
    """Settings or a municipality table that cannot be used; the message names the file and key or row."""


class Settings(BaseModel):
    """The verdeel settings (a YAML file); see ``scenarios/haarlem/verdeel.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    regime: Literal["historic", "objective", "phased", "two_track"]
    start_year: int = Field(ge=1900, le=2200)
    macro_budget: Any = Field(description="euros a year: a number, {year: number}, or scenario_cost")
    phase_in: list[float] = Field(default_factory=lambda: list(DEFAULT_PHASE_IN), min_length=1)
    regional_pool: float = Field(0.0, ge=0, le=1)
    municipalities: Path
    objective_column: str = "objective_share"
    _source: str = PrivateAttr("<settings>")

    @property
    def source(self) -> str:
        """The file the settings came from, for messages."""
        return self._source

    @field_validator("macro_budget")
    @classmethod
    def _budget(cls, value):
        if value == SCENARIO_COST:
            return value
        if isinstance(value, dict):
            if not value:
                raise ValueError("expected at least one year")
            out = {}
            for year, amount in value.items():
                if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2200:
                    raise ValueError(f"expected years (1900 to 2200) as keys, got {year!r}")
                out[year] = _amount(amount, f"the budget for {year}")
            return out
        return _amount(value, "the budget")

    @field_validator("phase_in")
    @classmethod
    def _phase_in(cls, value):
        if any(not 0 <= f <= 1 for f in value):
            raise ValueError(f"objective fractions must lie in [0, 1] (got {value})")
        if any(b < a for a, b in zip(value, value[1:])):
            raise ValueError(f"the ingroeipad must not go back: fractions must be monotone non-decreasing "
                             f"(got {value})")
        if not math.isclose(value[-1], 1.0, abs_tol=1e-9):
            raise ValueError(f"the ingroeipad must end at 1.0, fully objective (got {value[-1]:g})")
        return value

    @property
    def full_year(self) -> int:
        """The first year that is 100% objective."""
        if self.regime == "objective":
            return self.start_year
        return self.start_year + next(k for k, f in enumerate(self.phase_in) if math.isclose(f, 1.0, abs_tol=1e-9))


def _amount(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what}: expected a number of euros or {SCENARIO_COST!r}, got {value!r}")
    if value < 0:
        raise ValueError(f"{what} cannot be negative (got {value:g})")
    if value > MAX_EUROS:
        raise ValueError(f"{what}: expected at most {MAX_EUROS:g} euros a year (got {value:g})")
    return float(value)


def settings_from_mapping(data: dict, source: str = "<settings>", base: Path | None = None) -> Settings:
    """Validate a settings mapping; a relative ``municipalities`` path is taken from ``base``."""
    from ...config.scenario import format_errors

    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise VerdeelError(format_errors(source, exc)) from None
    if base is not None and not settings.municipalities.is_absolute():
        settings = settings.model_copy(update={"municipalities": base / settings.municipalities})
    settings._source = source
    return settings


def load_settings(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Settings:
    """Read a settings YAML file and apply ``key=value`` overrides (values read as YAML)."""
    from ...config.scenario import ScenarioError, apply_override, read_yaml

    path = Path(path)
    data = read_yaml(path, VerdeelError)
    for assignment in overrides:
        try:
            data = apply_override(data, assignment)
        except ScenarioError as exc:
            raise VerdeelError(f"{path}: {exc}".replace("--set", "--setting")) from None
    return settings_from_mapping(data, str(path), base=path.parent)
