"""The verdeel settings: which regime, from when, how much money, and the table of shares.

Cheap to import (pydantic, no numpy): the command line reads :data:`REGIMES` for its help.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator


DEFAULT_PHASE_IN = [round(0.1 * k, 1) for k in range(11)]
#: ``macro_budget: scenario_cost``: the run's own mean regional cost, year by year (budget-neutral).
SCENARIO_COST = "scenario_cost"
#: More euros a year than this (a trillion) is a typo, not a region's BW budget.
MAX_EUROS = 1e12
#: ``pass_on.amount: expected_cost``: the region's mean simulated cost, in the year, of the clients
#: the member municipalities pay for under two tracks (new clients; and existing clients' ambulant
#: care when the cohort rule gives it to the woonplaats).
EXPECTED_COST = "expected_cost"
#: Settings a key variant may not change: they need another run of the scenario, or are no key.
RUN_KEYS = ("regime", "responsibility_year", "wlz.year", "wlz.client_share", "variants", "municipalities",
            "cohort.waitlisted", "cohort.relapse", "shares")
#: Each cohort rule key: the scenario's ``attribution`` key the run needs, and its value for each choice.
COHORT_ATTRIBUTION = {"waitlisted": ("existing", {"new": "placed", "existing": "waitlisted"}),
                      "relapse": ("relapse", {"new": "new", "existing": "existing"})}


class VerdeelError(ValueError):
    """Settings or a municipality table that cannot be used; the message names the file and key or row."""


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Wlz(_Part):
    """The 2021 opening of the Wlz to people with a lasting psychiatric need: a share of the macro
    budget (from ``year`` on) and, if ``client_share`` > 0, that share of the clients in care on
    1 January of ``year`` leave BW with their cost (computed from a second cohort split of the run)."""

    year: int = Field(2021, ge=1900, le=2200)
    budget_share: float = Field(0.0, ge=0, lt=1)
    client_share: float = Field(0.0, ge=0, le=1)


class PassOn(_Part):
    """two_track: the money for the clients the member municipalities pay for, passed on by the
    holder of the historic budget (the centrumgemeente) while the objective part is smaller."""

    amount: Any = 0.0
    key: str = "inflow_share"

    @field_validator("amount")
    @classmethod
    def _amount(cls, value):
        if value == EXPECTED_COST:
            return value
        return _yearly(value, "the amount", f"a number of euros, {{year: euros}} or {EXPECTED_COST!r}")


class CohortRule(_Part):
    """Who counts as an existing client (stays with the centrumgemeente) under two tracks.

    ``waitlisted``: clients on the waitlist (indicated) before the cohort date, placed later: new
    (the default: only clients placed before the date are existing) or existing. ``relapse``: an
    existing client who comes back after leaving: new or existing. Both change how the run
    attributes its clients (``attribution.existing`` and ``attribution.relapse`` of the scenario),
    so a variant cannot change them. ``ambulant_after_exit``: who pays an existing client's
    ambulant support after the stay."""

    waitlisted: Literal["new", "existing"] = "new"
    relapse: Literal["new", "existing"] = "new"
    ambulant_after_exit: Literal["centrumgemeente", "woonplaats"] = "centrumgemeente"


class Settings(BaseModel):
    """The verdeel settings (a YAML file); see ``scenarios/haarlem/verdeel.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    regime: Literal["historic", "objective", "phased", "two_track"]
    start_year: int = Field(ge=1900, le=2200, description="first year of the ingroeipad (the money)")
    responsibility_year: int | None = Field(None, ge=1900, le=2200,
                                            description="new clients with their woonplaats from 1 January "
                                                        "(the cohort date; default: start_year)")
    macro_budget: Any = Field(None, description="euros a year in price_year prices: a number, {year: number}, "
                                                "or scenario_cost")
    price_year: int | None = Field(None, ge=1900, le=2200, description="the prices of the scenario's costs and "
                                                                        "of macro_budget")
    budget_index: Any = Field(0.0, description="yearly growth of the budget: a rate or {year: rate}")
    cost_index: Any = Field(0.0, description="yearly growth of the cost of care: a rate or {year: rate}")
    wlz: Wlz = Wlz()
    phase_in: list[float] = Field(default_factory=lambda: list(DEFAULT_PHASE_IN), min_length=1)
    regional_pool: float = Field(0.0, ge=0, le=1)
    pass_on: PassOn = PassOn()
    cohort: CohortRule = CohortRule()
    municipalities: Path
    shares: Literal["regional", "national"] = Field(
        "regional", description="regional: the historic and objective columns are shares of the region's macro "
                                "budget (each sums to 1; the region is budget-neutral); national: shares of the "
                                "national macro budget (macro_budget is the national one; they need not sum to 1)")
    objective_column: str = "objective_share"
    woonplaats_column: str | None = Field(None, description="reweight the simulated woonplaats to this column")
    amounts: Path | None = Field(None, description="CSV of historic_amount and objective_amount per municipality "
                                                   "and year")
    variants: dict[str, dict] = Field(default_factory=dict, description="name: settings that differ (keys, budget)")
    _source: str = PrivateAttr("<settings>")
    _variants: dict = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> str:
        """The file the settings came from, for messages."""
        return self._source

    @field_validator("macro_budget")
    @classmethod
    def _budget(cls, value):
        if value is None or value == SCENARIO_COST:
            return value
        return _yearly(value, "the budget", f"a number of euros or {SCENARIO_COST!r}")

    @field_validator("budget_index", "cost_index")
    @classmethod
    def _index(cls, value):
        rates = value.values() if isinstance(value, dict) else [value]
        if isinstance(value, dict) and not value:
            raise ValueError("expected at least one year")
        if isinstance(value, dict) and any(isinstance(y, bool) or not isinstance(y, int) for y in value):
            raise ValueError(f"expected years as keys, got {list(value)}")
        for rate in rates:
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) \
                    or not -0.5 <= rate <= 1:
                raise ValueError(f"expected a yearly rate between -0.5 and 1, e.g. 0.02 for 2% (got {rate!r})")
        return {int(y): float(r) for y, r in value.items()} if isinstance(value, dict) else float(value)

    @model_validator(mode="after")
    def _complete(self):
        if self.macro_budget is None and self.amounts is None:
            raise ValueError("macro_budget: missing; write euros a year, {year: euros} or scenario_cost "
                             "(or give the published amounts with amounts: FILE.csv)")
        if self.shares == "national" and self.macro_budget == SCENARIO_COST:
            raise ValueError("macro_budget: scenario_cost is the region's own cost; national shares need the national "
                             "macro budget in euros")
        if self.price_year is None and (self.budget_index or self.cost_index):
            raise ValueError("price_year: missing; budget_index and cost_index grow from the prices of that year")
        return self

    @property
    def responsibility(self) -> int:
        """The year from which new clients are their woonplaats's (the cohort date's year)."""
        return self.start_year if self.responsibility_year is None else self.responsibility_year

    @property
    def first_year(self) -> int:
        """The first year in which anything differs from the historic regime."""
        return min(self.start_year, self.responsibility) if self.regime == "two_track" else self.start_year

    @property
    def national_columns(self) -> list[str]:
        """The key columns read as national shares (none with regional shares)."""
        if self.shares != "national":
            return []
        return list(dict.fromkeys(["historic_share", self.objective_column,
                                   *(v.objective_column for v in self._variants.values())]))

    @property
    def variant_settings(self) -> dict[str, "Settings"]:
        """The key and budget variants, each as whole settings (validated when loaded)."""
        return dict(self._variants)

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


def _amount(value, what: str, expected: str = f"a number of euros or {SCENARIO_COST!r}") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what}: expected {expected}, got {value!r}")
    if value < 0:
        raise ValueError(f"{what} cannot be negative (got {value:g})")
    if value > MAX_EUROS:
        raise ValueError(f"{what}: expected at most {MAX_EUROS:g} euros a year (got {value:g})")
    return float(value)


def _yearly(value, what: str, expected: str):
    """Euros: one number, or {year: number} (each year holds until the next listed)."""
    if isinstance(value, dict):
        if not value:
            raise ValueError("expected at least one year")
        out = {}
        for year, amount in value.items():
            if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2200:
                raise ValueError(f"expected years (1900 to 2200) as keys, got {year!r}")
            out[year] = _amount(amount, f"{what} for {year}", expected)
        return out
    return _amount(value, what, expected)


def _keys(data: dict, prefix: str = "") -> list[str]:
    """Every dotted key path in a mapping (``wlz.year``), mappings included (``wlz``)."""
    out = []
    for key, value in data.items():
        out.append(f"{prefix}{key}")
        if isinstance(value, dict):
            out += _keys(value, f"{prefix}{key}.")
    return out


def settings_from_mapping(data: dict, source: str = "<settings>", base: Path | None = None) -> Settings:
    """Validate a settings mapping; relative ``municipalities`` and ``amounts`` paths are taken
    from ``base``. Each of ``variants`` is the mapping with the variant's keys merged over it,
    validated the same way; a variant may not change what needs another run (:data:`RUN_KEYS`)."""
    from ...config.scenario import deep_merge, format_errors

    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise VerdeelError(format_errors(source, exc)) from None
    paths = {key: getattr(settings, key) for key in ("municipalities", "amounts")}
    if base is not None:
        settings = settings.model_copy(update={key: base / path for key, path in paths.items()
                                               if path is not None and not path.is_absolute()})
    settings._source = source
    plain = {k: v for k, v in data.items() if k != "variants"}
    for name, changes in settings.variants.items():
        where = f"{source}: variants.{name}"
        fixed = [key for key in _keys(changes) if key in RUN_KEYS]
        if fixed:
            raise VerdeelError(f"{where}: {fixed[0]}: a variant cannot change it (it needs another run, or "
                               "another table: name a column of this one instead); give it its own settings file")
        variant = settings_from_mapping(deep_merge(plain, changes), where, base)
        settings._variants[name] = variant
    return settings


def read_settings_data(path: Path, _seen: tuple[Path, ...] = ()) -> dict:
    """The settings mapping with ``based_on:`` resolved: this file's keys merged over the parent's
    (a path relative to this file). Table paths stay relative to the file read (a parent's are
    rewritten to be)."""
    import os

    from ...config.scenario import deep_merge, read_yaml

    path = Path(path)
    if path.resolve() in _seen:
        raise VerdeelError(f"{path}: based_on: forms a cycle")
    data = read_yaml(path, VerdeelError)
    parent = data.pop("based_on", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise VerdeelError(f"{path}: based_on: expected a file name, got {parent!r}")
    parent_path = path.parent / parent
    inherited = read_settings_data(parent_path, _seen + (path.resolve(),))
    for key in ("municipalities", "amounts"):
        if isinstance(inherited.get(key), str) and not Path(inherited[key]).is_absolute():
            inherited[key] = os.path.relpath(parent_path.parent / inherited[key], path.parent)
    return deep_merge(inherited, data)


def load_settings(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Settings:
    """Read a settings YAML file (``based_on:`` resolved) and apply ``key=value`` overrides (values read as YAML)."""
    from ...config.scenario import ScenarioError, apply_override

    path = Path(path)
    data = read_settings_data(path)
    for assignment in overrides:
        try:
            data = apply_override(data, assignment)
        except ScenarioError as exc:
            raise VerdeelError(f"{path}: {exc}".replace("--set", "--setting")) from None
    return settings_from_mapping(data, str(path), base=path.parent)
