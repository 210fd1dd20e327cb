"""The scenario: its YAML schema, loading with ``extends:``, overrides, validation.

A scenario file is a mapping validated by :class:`Scenario`. Unknown keys, wrong
types, negative rates, shares that do not sum to one and dates outside the run
all raise :class:`ScenarioError`, whose message names the file, the key path and
what was expected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .distributions import Duration

SHARE_TOLERANCE = 1e-6

Probability = Annotated[float, Field(ge=0, le=1)]
Rate = Annotated[float, Field(ge=0, allow_inf_nan=False)]
#: Above this many new indications a year a scenario is not a region (the whole country has ~25,000 places).
MAX_INFLOW = 1_000_000
Count = Annotated[int, Field(ge=0)]
#: Initial residents may exceed the places (a region over its contract, or places cut below the
#: stock: nobody is admitted until enough have left), but not by more than this factor: beyond it
#: the number is a typo, not a region.
MAX_OVERFULL = 1.5
#: What to write for a required key that is missing (no silent default), by key path.
MISSING = {
    "waitlist": "missing; write the block with the withdrawal rate, e.g. waitlist: {withdrawal_per_year: 0.25} "
                "(0 if nobody leaves the list without a place)",
    "waitlist.withdrawal_per_year": "missing; write the rate at which a waiting client leaves the list, per year, "
                                    "e.g. withdrawal_per_year: 0.25 (0 if nobody leaves the list without a place)",
    "uitstroom.housing.stock.units": "missing; write the units on the start date, e.g. units: 20",
    "uitstroom.housing.stock.tenancy": "missing; write how long a tenant stays in a unit, "
                                       "e.g. tenancy: {dist: lognormal, mean: 2, sd: 1.5, unit: years}",
    "uitstroom.housing.stock.share": "missing; write the share of residents leaving to independent housing "
                                     "who may use the stock, e.g. share: 0.3",
}
#: A number per calendar year, or one number for every year. A mapping is a step
#: function: each listed year holds until the next listed year.
YearlyValue = Rate | dict[int, Rate]


class ScenarioError(ValueError):
    """A scenario that cannot be run; the message says where and why."""


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _check_shares(shares: dict[str, float], what: str) -> None:
    total = sum(shares.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise ValueError(f"{what} must sum to 1 (got {total:g})")


class Profile(_Block):
    share: Probability
    priority: int = Field(1, description="lower is served first on the waitlist")
    stay: Duration


class Inflow(_Block):
    per_year: YearlyValue
    growth_per_year: float = Field(0.0, ge=-1.0, le=10.0, allow_inf_nan=False, description="relative yearly trend on a single per_year number")
    municipalities: dict[str, Probability] = Field(min_length=1)

    @model_validator(mode="after")
    def _sum(self):
        _check_shares(self.municipalities, "municipality shares")
        rates = self.per_year.values() if isinstance(self.per_year, dict) else [self.per_year]
        if isinstance(self.per_year, dict) and self.growth_per_year:
            raise ValueError("growth_per_year applies to a single per_year number; with per_year given year by "
                             "year, write the growth into those numbers and set growth_per_year: 0")
        if max(rates, default=0) > MAX_INFLOW:
            raise ValueError(f"per_year: expected at most {MAX_INFLOW:,} new indications a year, got {max(rates):g}")
        return self


class Review(_Block):
    """Waitlist review: waiting clients interviewed, some of whom leave the list."""

    per_year: Rate = 0.0
    removal_share: Probability = 0.0
    start: dt.date | None = None
    end: dt.date | None = None

    @model_validator(mode="after")
    def _ordered(self):
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


class Waitlist(_Block):
    policy: Literal["per_provider", "central"] = "per_provider"
    withdrawal_per_year: Rate = Field(description="required: the rate at which a waiting client leaves the list")
    max_length: Count | None = Field(None, description="per list; arrivals finding it full are turned away")
    intake_stop: Count | None = Field(None, description="no new clients while the region's lists hold this many")
    review: Review = Review()


class CapacityChange(_Block):
    date: dt.date
    places: Count


class Provider(_Block):
    places: Count
    inflow_share: Probability
    bridging: bool = False
    schedule: list[CapacityChange] = []
    waitlist_of: str | None = Field(None, description="fill these places from another provider's list")
    financing: Literal["zin", "pgb"] = Field("zin", description="zorg in natura (contracted) or persoonsgebonden budget")

    @model_validator(mode="after")
    def _sorted(self):
        dates = [c.date for c in self.schedule]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError("schedule dates must be in strictly increasing order (one change a date)")
        return self


class Bridging(_Block):
    places: Count | None = Field(0, description="null = unlimited")
    for_everyone: bool = Field(False, description="every waiting client is eligible, whatever the provider")
    withdrawal_factor: Rate = 1.0
    stay_factor: Annotated[float, Field(gt=0)] = 1.0


class Contingent(_Block):
    units_per_year: YearlyValue
    bw_share: Probability
    release: Literal["monthly", "quarterly", "poisson"] = "monthly"
    carry_over: bool = False
    extra_per_year: Rate = Field(0.0, description="extra units a year for BW only, from extra_from")
    extra_from: dt.date | None = None


class StockChange(_Block):
    date: dt.date
    units: Count


class HousingStock(_Block):
    """A stock of homes for people leaving BW whose units free only when the tenant leaves
    (omklapwoningen, Housing First units, Skaeve Huse). A resident ready to leave for independent
    housing may use it if its fate says so (``share``). Such a resident waits in the stock's queue
    (first come first served) AND by its own route (the contingent queue if its fate says
    contingent, else the other route's delay) and takes whichever home comes first; the other
    request is cancelled. A contingentwoning offered at the same moment as a unit wins, and the
    unit goes to the next in the stock's queue. A tenant holds the unit for its tenancy; then the
    unit goes to the next in the queue, and the tenant comes back into the inflow with probability
    ``relapse`` (instead of ``relapse.probability``, which applies to the other exits)."""

    units: Count = Field(description="units on the start date")
    schedule: list[StockChange] = Field([], description="[{date, units}]: the units from each date (strictly "
                                                        "increasing dates); fewer units close as tenants leave")
    initial_occupied: Count | None = Field(None, description="units occupied on the start date by tenancies already "
                                                             "running (not clients of the run; they do not relapse), "
                                                             "each with the rest of a tenancy found in a steady "
                                                             "state; default: every unit")
    tenancy: Duration = Field(description="how long a tenant stays in a unit")
    relapse: Probability = Field(0.0, description="probability that a tenant who leaves the unit comes back into "
                                                  "the inflow (joins the waitlist again as a new entry)")
    share: Probability = Field(description="share of residents leaving to independent housing who may use the "
                                           "stock, drawn per client")

    @field_validator("schedule")
    @classmethod
    def _sorted(cls, schedule):
        dates = [c.date for c in schedule]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError("dates must be in strictly increasing order (one change a date)")
        return schedule

    @model_validator(mode="after")
    def _within(self):
        if self.initial_occupied is not None and self.initial_occupied > self.units:
            raise ValueError(f"initial_occupied ({self.initial_occupied}) cannot exceed units ({self.units})")
        return self


class Housing(_Block):
    contingent_share: Probability
    contingent: Contingent
    stock: HousingStock | None = Field(None, description="a stock of homes whose units free only when the tenant "
                                                         "leaves; none when absent")
    other_route_delay: Duration
    # A policy lever that stays relative when the delay itself is calibrated: 0.5 halves every
    # other-route delay, whatever the fitted delay is.
    other_route_factor: float = Field(1.0, gt=0, description="multiplies every other-route delay")


class Destinations(_Block):
    independent: Probability
    intramural: Probability
    died_or_moved: Probability

    @model_validator(mode="after")
    def _sum(self):
        _check_shares(self.model_dump(), "destination probabilities")
        return self


class Uitstroom(_Block):
    early_exit_per_year: Rate = 0.0
    destinations: Destinations
    housing: Housing


class Ambulant(_Block):
    places: Count | None = Field(None, description="null = unlimited")
    duration: Duration


class BeschermdThuis(_Block):
    """Ambulantisering: a share of new clients is offered BW-level support at home instead
    of a place. It needs a home and a slot; when either fails the client joins the list."""

    share: Probability = 0.0
    start: dt.date | None = None
    home_probability: Probability = 1.0
    places: Count | None = Field(None, description="null = unlimited")
    duration: Duration = {"dist": "fixed", "value": 2.0, "unit": "years"}


class OutsideContract(_Block):
    """Urgent placements bought outside contract when no contracted place is free."""

    per_year: Count = 0
    profiles: list[str] = ["urgent"]


class AboveContract(_Block):
    """Overschrijding: when no contracted place is free, a provider places a client of these profiles
    above its contracted number, up to ``share`` of its places (rounded up). A place above contract
    returns to contract when a contracted resident leaves; it costs ``costs.above_contract_day``."""

    share: Probability = 0.0
    profiles: list[str] = ["urgent"]


class Conversion(_Block):
    """A one-off conversion of places (e.g. MO into BW) whose residents become BW residents."""

    date: dt.date
    provider: str
    places: Count


class CapacityPath(_Block):
    """Places for the whole region from each date, divided over the providers. ``ramp: step``
    changes the places on each date; ``ramp: linear`` reaches the first date's places on that
    date and then moves one place at a time, evenly spread, so that each next date's number
    is reached on its date."""

    changes: list[CapacityChange] = Field(min_length=1)
    shrink: Literal["proportional", "largest_first"] = "proportional"
    ramp: Literal["step", "linear"] = "step"

    @model_validator(mode="after")
    def _sorted(self):
        dates = [c.date for c in self.changes]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError("capacity_path dates must be in strictly increasing order")
        return self


class Costs(_Block):
    """Euros per day of each kind of care (for cost per year and per municipality)."""

    place_day: Rate = 0.0
    bridging_day: Rate = 0.0
    ambulant_day: Rate = 0.0
    beschermd_thuis_day: Rate = 0.0
    outside_contract_day: Rate = 0.0
    above_contract_day: Rate | None = Field(None, description="a day above contract (overschrijding); "
                                                                "default: place_day")


class Attribution(_Block):
    """How costs are attributed: by municipality of origin, and by cohort for the two-track
    verdeelmodel (clients in care before ``cohort_date`` stay with the centrumgemeente)."""

    cohort_date: dt.date | None = None
    existing: Literal["placed", "waitlisted"] = Field(
        "placed", description="who is in the existing cohort: clients placed before cohort_date (placed), or "
                              "also those who joined the waitlist before it, placed whenever (waitlisted)")
    relapse: Literal["new", "existing"] = Field(
        "new", description="a relapse of an existing client: a new client (new), or still in the existing "
                           "cohort, with the cost of its later care (existing)")


class Relapse(_Block):
    probability: Probability = 0.0
    delay: Duration = {"dist": "fixed", "value": 1.0, "unit": "years"}


class Initial(_Block):
    residents: Count | None = Field(None, description="default: every place occupied")
    ready_to_leave: Count = 0
    waiting: Count = 0
    waited: Duration = {"dist": "fixed", "value": 0.0, "unit": "years"}

    @model_validator(mode="after")
    def _ready_within(self):
        if self.residents is not None and self.ready_to_leave > self.residents:
            raise ValueError("ready_to_leave cannot exceed residents")
        return self


class Calibration(_Block):
    """Where the scenario's calibration lives. The CLI (run, compare, verdeel) draws the fitted
    parameters from ``posterior`` unless told ``--first-guess``, and draws ``observed`` on the
    figures. The model itself never reads this block. Relative paths are relative to the file
    that gives them."""

    posterior: str | None = Field(None, description="posterior.csv of a calibration (bwsim calibrate)")
    observed: str | None = Field(None, description="observations CSV drawn on the figures")


class Scenario(_Block):
    name: str
    description: str = ""
    start: dt.date
    end: dt.date
    profiles: dict[str, Profile] = Field(min_length=1)
    inflow: Inflow
    waitlist: Waitlist
    providers: dict[str, Provider] = Field(min_length=1)
    bridging: Bridging = Bridging()
    uitstroom: Uitstroom
    ambulant: Ambulant
    relapse: Relapse = Relapse()
    initial: Initial = Initial()
    capacity_path: CapacityPath | None = None
    beschermd_thuis: BeschermdThuis = BeschermdThuis()
    outside_contract: OutsideContract = OutsideContract()
    above_contract: AboveContract = AboveContract()
    conversions: list[Conversion] = []
    costs: Costs = Costs()
    attribution: Attribution = Attribution()
    calibration: Calibration = Calibration()

    @model_validator(mode="after")
    def _consistent(self):
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        _check_shares({k: p.share for k, p in self.profiles.items()}, "profile shares")
        _check_shares({k: p.inflow_share for k, p in self.providers.items()}, "provider inflow_share")
        dated = [(f"providers.{name}.schedule", c.date) for name, p in self.providers.items() for c in p.schedule]
        dated += [("conversions", c.date) for c in self.conversions]
        if self.capacity_path:
            dated += [("capacity_path.changes", c.date) for c in self.capacity_path.changes]
        stock = self.uitstroom.housing.stock
        if stock:
            dated += [("uitstroom.housing.stock.schedule", c.date) for c in stock.schedule]
        for key, date in dated:
            if not self.start <= date <= self.end:
                raise ValueError(f"{key}: date {date} is outside the run ({self.start} to {self.end})")
        starts = [("waitlist.review.start", self.waitlist.review.start), ("beschermd_thuis.start", self.beschermd_thuis.start),
                  ("uitstroom.housing.contingent.extra_from", self.uitstroom.housing.contingent.extra_from),
                  ("attribution.cohort_date", self.attribution.cohort_date)]
        for key, date in starts:
            if date is not None and date > self.end:
                raise ValueError(f"{key}: {date} is after the end of the run ({self.end}), so it would never apply")
        if self.capacity_path:
            scheduled = [name for name, p in self.providers.items() if p.schedule]
            if scheduled:
                raise ValueError(f"capacity_path sets every provider's places, so providers.{scheduled[0]}"
                                 ".schedule must be empty (give one or the other)")
        for name, provider in self.providers.items():
            target = provider.waitlist_of
            if target is not None and (target not in self.providers or self.providers[target].waitlist_of):
                raise ValueError(f"providers.{name}.waitlist_of: expected a provider with its own list, got {target!r}")
        for conversion in self.conversions:
            if conversion.provider not in self.providers:
                raise ValueError(f"conversions: unknown provider {conversion.provider!r}")
        for profile in self.outside_contract.profiles if self.outside_contract.per_year else ():
            if profile not in self.profiles:
                raise ValueError(f"outside_contract.profiles: unknown profile {profile!r}")
        for profile in self.above_contract.profiles if self.above_contract.share else ():
            if profile not in self.profiles:
                raise ValueError(f"above_contract.profiles: unknown profile {profile!r}")
        for key, value in (("inflow.per_year", self.inflow.per_year),
                           ("uitstroom.housing.contingent.units_per_year",
                            self.uitstroom.housing.contingent.units_per_year)):
            if isinstance(value, dict) and min(value) > self.start.year:
                raise ValueError(f"{key}: the first year listed ({min(value)}) is after the start year {self.start.year}")
        residents = self.initial_residents
        if self.initial.ready_to_leave > residents:
            raise ValueError("initial.ready_to_leave cannot exceed the initial residents")
        places = self.places_at_start()
        if residents > MAX_OVERFULL * max(places, 1):
            raise ValueError(f"initial.residents: {residents} residents for {places} places on {self.start}; expected "
                             f"at most {MAX_OVERFULL:g} × the places (leave it out for every place occupied)")
        return self

    def places_at_start(self) -> int:
        """Contracted places on the start date (a capacity path or schedule dated on it included)."""
        if self.capacity_path:
            on_start = [c.places for c in self.capacity_path.changes if c.date <= self.start]
            if on_start:
                return on_start[-1]
        total = 0
        for p in self.providers.values():
            on_start = [c.places for c in p.schedule if c.date <= self.start]
            total += on_start[-1] if on_start else p.places
        return total

    @property
    def initial_residents(self) -> int:
        if self.initial.residents is not None:
            return self.initial.residents
        return sum(p.places for p in self.providers.values())

    def digest(self) -> str:
        """A short hash of the resolved scenario, for the manifest."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def add_years(date: dt.date, years: int) -> dt.date:
    """The same day ``years`` later (29 February becomes 28 February)."""
    try:
        return date.replace(year=date.year + years)
    except ValueError:
        return date.replace(year=date.year + years, day=28)


def value_in_year(value: float | dict[int, float], year: int) -> float:
    """A :data:`YearlyValue` for one calendar year (step function over listed years)."""
    if not isinstance(value, dict):
        return float(value)
    listed = [y for y in sorted(value) if y <= year]
    return float(value[listed[-1]]) if listed else float(value[min(value)])


# ---------------------------------------------------------------- loading


class Replace(dict):
    """A mapping tagged ``!replace`` in YAML: under ``extends:`` it takes the place of the
    parent's mapping whole instead of being merged into it (``providers: !replace {...}``
    drops every provider of the parent that it does not list)."""


def plain(value: Any) -> Any:
    """``value`` with every :class:`Replace` turned back into a plain dict (after merging)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def deep_merge(base: dict, override: dict) -> dict:
    """``override`` merged into ``base``, mapping by mapping. A mapping tagged ``!replace``
    (:class:`Replace`) replaces the base's whole, and so does a distribution (a mapping with a
    ``dist`` key): a child that writes one does not inherit the parent's unit or parameters."""
    out = dict(base)
    for key, value in override.items():
        if (isinstance(value, dict) and not isinstance(value, Replace) and isinstance(out.get(key), dict)
                and "dist" not in value):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key written twice in one mapping (YAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:  # an unhashable key: let YAML report it
                continue
            if first != key_node.start_mark.line + 1:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is written twice (lines {first} and {key_node.start_mark.line + 1}); "
                    "keep one", key_node.start_mark)
        return super().construct_mapping(node, deep)

    def construct_replace(self, node):
        """``!replace {...}``: a mapping that replaces the parent's under ``extends:``."""
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, "!replace goes on a mapping (a list or a single value replaces the parent's anyway)",
                node.start_mark)
        return Replace(self.construct_mapping(node, deep=True))


_UniqueKeyLoader.add_constructor("!replace", _UniqueKeyLoader.construct_replace)


def safe_load(text: str):
    """``yaml.safe_load`` that refuses duplicate keys and knows ``!replace`` (see :class:`Replace`)."""
    return yaml.load(text, Loader=_UniqueKeyLoader)


def yaml_problem(exc: Exception) -> str:
    """What is wrong in a YAML text and where, on one line."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if problem and mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(exc).split())


def read_yaml(path: Path, error: type[ValueError] = ScenarioError) -> dict:
    """A YAML file holding a mapping; anything else raises ``error`` naming the file."""
    if not path.is_file():
        raise error(f"{path}: file not found")
    try:
        data = safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a date such as 2022-02-30
        raise error(f"{path}: not valid YAML: {yaml_problem(exc)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise error(f"{path}: expected a mapping of keys at the top level")
    return data


def load_raw(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict:
    """The scenario mapping with ``extends:`` resolved (paths relative to the file): this file's
    keys deep-merged over the parent's, a mapping tagged ``!replace`` replacing the parent's."""
    path = Path(path).resolve()
    if path in _seen:
        raise ScenarioError(f"{path}: extends: forms a cycle")
    data = read_yaml(path)
    _resolve_calibration_paths(data, path.parent)
    parent = data.pop("extends", None)
    if parent is None:
        return plain(data)
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}: extends: expected a file name, got {parent!r}")
    return plain(deep_merge(load_raw(path.parent / parent, _seen + (path,)), data))


def _resolve_calibration_paths(data: dict, folder: Path) -> None:
    """Make the calibration block's relative paths absolute, relative to the file that gives
    them, so that a scenario extending it from elsewhere finds the same files."""
    block = data.get("calibration")
    if isinstance(block, dict):
        for key in ("posterior", "observed"):
            value = block.get(key)
            if isinstance(value, str) and value and not Path(value).is_absolute():
                block[key] = str((folder / value).resolve())


def apply_override(data: dict, assignment: str) -> dict:
    """Apply one ``key.path=value`` (the value is read as YAML: numbers, lists, …)."""
    if "=" not in assignment:
        raise ScenarioError(f"--set {assignment}: expected key.path=value")
    key, raw = assignment.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ScenarioError(f"--set {assignment}: empty key path")
    if not raw.strip():
        raise ScenarioError(f"--set {assignment}: expected a value after '=' (write null for none or unlimited)")
    try:
        value = safe_load(raw)
    except (yaml.YAMLError, ValueError) as exc:
        raise ScenarioError(f"--set {assignment}: the value is not valid YAML: {yaml_problem(exc)}") from None
    return with_values(data, {".".join(parts): value})


def with_values(data: dict, values: dict[str, Any]) -> dict:
    """A copy of a mapping with each dotted key path set to its value (missing levels created)."""
    out = deep_merge(data, {})
    for key, value in values.items():
        parts = key.split(".")
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            node[part] = dict(child) if isinstance(child, dict) else {}
            node = node[part]
        node[parts[-1]] = plain(value)
    return out


def _is_form(part: str) -> bool:
    """A part of a pydantic error location that names a form of a union, not a key."""
    return (part.startswith(("function-", "tagged-union", "constrained-")) or "[" in part
            or part in ("float", "int", "str", "bool", "dict", "list", "date", "none"))


def format_errors(source: str, exc: ValidationError) -> str:
    """One line: ``source: key.path: what was expected (got …)`` for the first error, the others
    after it (a value that fits no form of a key, e.g. a number or a mapping by year, gives one
    error per form; they are said once)."""
    lines: list[str] = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not _is_form(str(p)))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing" and loc in MISSING:
            msg = MISSING[loc]
        where = f"{source}: {loc}" if loc else source
        got = err.get("input")
        shown = "" if err["type"] in ("missing", "extra_forbidden") or isinstance(got, dict) else f" (got {got!r})"
        line = f"{where}: {msg}{shown}"
        if not any(line.startswith(f"{where}:") and loc for line in lines):
            lines.append(line)
    if len(lines) == 1:
        return lines[0]
    rest = [line.removeprefix(f"{source}: ") for line in lines[1:]]
    return f"{lines[0]}; also {'; '.join(rest)}"


def from_mapping(data: dict[str, Any], source: str = "<scenario>") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_errors(source, exc)) from None


def load_data(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """The scenario mapping with ``extends:`` resolved and ``--set`` overrides applied (not validated)."""
    data = load_raw(path)
    for assignment in overrides:
        data = apply_override(data, assignment)
    return data


def load(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Scenario:
    """Load, resolve ``extends:``, apply ``--set`` overrides and validate."""
    return from_mapping(load_data(path, overrides), str(path))
