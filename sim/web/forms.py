"""The policy levers as form fields, and their validation by the scenario schema itself.

Each :class:`Lever` names a key path of :class:`sim.config.scenario.Scenario`; its help text,
choices and bounds are read from the schema (the pydantic field), so the form says what the
schema says. A submitted form becomes key path -> value (text read as YAML, as ``--set`` reads
it); the scenario with those values is validated by pydantic and every error is placed next to
the field it is about, in pydantic's words (the message ``bwsim check`` would give)."""

from __future__ import annotations

import datetime as dt
import re
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ValidationError

from ..config import scenario as sc_mod


@dataclass(frozen=True)
class Lever:
    """A form field for one scenario key. ``kind``: number, integer, optional (a number or empty
    for none/unlimited), date (empty for none), bool, choice, yaml (a number or ``{year: number}``),
    capacity (the capacity path, one dated change a line)."""

    key: str
    label: str
    kind: str
    group: str
    note: str = ""


LEVERS = (
    Lever("capacity_path.changes", "Capacity path for the region", "capacity", "Capacity",
          "one change a line: date and places, e.g. 2018-01-01 585; empty: each provider keeps its own places. "
          "A cut never evicts anyone: places close as residents leave."),
    Lever("capacity_path.shrink", "Who closes places first", "choice", "Capacity"),
    Lever("capacity_path.ramp", "How places change between the dates", "choice", "Capacity",
          "step: on each date; linear: one place at a time, evenly spread"),
    Lever("uitstroom.housing.contingent.units_per_year", "Contingentwoningen a year (all groups)", "yaml", "Housing",
          "a number, or per year: {2015: 62, 2020: 70}"),
    Lever("uitstroom.housing.contingent.bw_share", "Share of the contingent for beschermd wonen", "number", "Housing"),
    Lever("uitstroom.housing.contingent.extra_per_year", "Extra contingentwoningen a year for BW", "number", "Housing"),
    Lever("uitstroom.housing.contingent.extra_from", "Extra homes from", "date", "Housing", "empty: from the start"),
    Lever("bridging.for_everyone", "Overbruggingszorg for everyone waiting", "bool", "Waitlist"),
    Lever("bridging.places", "Overbruggingszorg places", "optional", "Waitlist"),
    Lever("waitlist.policy", "Waitlist", "choice", "Waitlist", "central: one list for the region, urgent first"),
    Lever("waitlist.intake_stop", "Intake stop at this many waiting", "optional", "Waitlist", "empty: no intake stop"),
    Lever("waitlist.review.per_year", "Waitlist review: clients interviewed a year", "number", "Waitlist"),
    Lever("waitlist.review.removal_share", "Waitlist review: share removed", "number", "Waitlist"),
    Lever("waitlist.review.start", "Waitlist review from", "date", "Waitlist", "empty: from the start"),
    Lever("beschermd_thuis.share", "Beschermd thuis: share of new clients", "number", "Ambulantisering"),
    Lever("beschermd_thuis.start", "Beschermd thuis from", "date", "Ambulantisering", "empty: from the start"),
    Lever("beschermd_thuis.home_probability", "Beschermd thuis: chance a home is available", "number",
          "Ambulantisering"),
    Lever("beschermd_thuis.places", "Beschermd thuis places", "optional", "Ambulantisering"),
    Lever("outside_contract.per_year", "Urgent placements outside contract, at most a year", "integer",
          "Waitlist"),
    Lever("above_contract.share", "Overschrijding: urgent clients placed above contract, up to this share of "
          "a provider's places", "number", "Capacity", "0: places are a hard cap; 0.05: up to 5% above contract"),
    Lever("uitstroom.housing.other_route_factor", "Other routes to a home: delay multiplied by", "number",
          "Housing", "0.5 halves the delay, whatever its calibrated value"),
    Lever("uitstroom.housing.stock.units", "Housing stock (omklapwoningen, Housing First units): units",
          "optional", "Housing", "empty: no stock. A unit frees only when its tenant leaves; a resident ready to "
                                 "leave takes whichever home comes first, a unit or its own route"),
    Lever("uitstroom.housing.stock.share", "Housing stock: share of residents leaving to a home of their own who "
          "may use it", "optional", "Housing", "needed with a stock"),
    Lever("uitstroom.housing.stock.tenancy", "Housing stock: how long a tenant stays", "yaml", "Housing",
          "needed with a stock, e.g. {dist: lognormal, mean: 2, sd: 1.5, unit: years}"),
)

BY_KEY = {lever.key: lever for lever in LEVERS}
#: (group, its levers), in the order of LEVERS.
GROUPS = [(group, [lv for lv in LEVERS if lv.group == group]) for group in dict.fromkeys(lv.group for lv in LEVERS)]
CAPACITY = "capacity_path.changes"
#: The keys of the capacity path besides its changes: meaningless without a path.
PATH_KEYS = ("capacity_path.shrink", "capacity_path.ramp")
STOCK = "uitstroom.housing.stock.units"
#: The keys of the housing stock besides its units: meaningless without a stock.
STOCK_KEYS = ("uitstroom.housing.stock.share", "uitstroom.housing.stock.tenancy")
#: Blocks a form can leave out altogether (``None``): an empty capacity path, no housing stock.
OPTIONAL_BLOCKS = ("capacity_path", "uitstroom.housing.stock")


# ---------------------------------------------------------------- the schema


def unwrap_model(annotation) -> type[BaseModel] | None:
    """The pydantic model in an annotation (``CapacityPath | None`` -> CapacityPath)."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def schema_field(key: str):
    """The pydantic FieldInfo of a key path of the scenario."""
    model: type[BaseModel] | None = sc_mod.Scenario
    info = None
    for part in key.split("."):
        if model is None or part not in model.model_fields:
            raise KeyError(key)
        info = model.model_fields[part]
        model = unwrap_model(info.annotation)
    return info


def choices(key: str) -> list[str]:
    """The values a ``Literal`` key allows."""
    annotation = schema_field(key).annotation
    if typing.get_origin(annotation) is Literal:
        return [str(a) for a in typing.get_args(annotation)]
    return []


def bounds(key: str) -> str:
    """``between 0 and 1``, ``at least 0``, from the field's constraints."""
    low = high = None
    for meta in schema_field(key).metadata:
        low = getattr(meta, "ge", low)
        high = getattr(meta, "le", high)
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    if low is not None:
        return f"at least {low:g}"
    return ""


def help_text(lever: Lever) -> str:
    info = schema_field(lever.key)
    description = (info.description or "").replace("null = unlimited", "empty: unlimited")
    parts = [lever.note, description, bounds(lever.key) if lever.kind in ("number", "integer", "optional")
             else ""]
    return "; ".join(p for p in parts if p)


# ---------------------------------------------------------------- values <-> text


def get_path(data: dict, key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def number_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {number_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def field_texts(scenario: sc_mod.Scenario) -> dict[str, Any]:
    """Key -> what its field shows now (text; a bool for a checkbox)."""
    data = scenario.model_dump(mode="json")
    out: dict[str, Any] = {}
    for lever in LEVERS:
        value = get_path(data, lever.key)
        if lever.kind == "capacity":
            out[lever.key] = "\n".join(f"{c['date']} {c['places']}" for c in value or [])
        elif lever.kind == "bool":
            out[lever.key] = bool(value)
        elif lever.kind == "choice":
            out[lever.key] = value if value is not None else choices(lever.key)[0]
        else:
            out[lever.key] = number_text(value)
    return out


CAPACITY_LINE = re.compile(r"(\d{4}-\d{2}-\d{2})[\s,:;]+(\S+)")


def parse_form(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """(key -> value for the scenario, key -> error of a text that cannot be read, key -> the text
    as given, to show again). A missing checkbox is ``False`` (browsers send only ticked ones)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    given: dict[str, Any] = {}
    for lever in LEVERS:
        raw = form.get(lever.key)
        if lever.kind == "bool":
            given[lever.key] = values[lever.key] = str(raw).lower() in ("on", "true", "1", "yes")
            continue
        text = "" if raw is None else str(raw).strip()
        given[lever.key] = text
        if lever.kind == "capacity":
            changes = []
            for n, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                match = CAPACITY_LINE.fullmatch(line.strip())
                if not match:
                    errors[lever.key] = f"line {n}: expected a date and a number of places, e.g. 2018-01-01 585"
                    break
                changes.append({"date": read_value(match.group(1)), "places": read_value(match.group(2))})
            values[lever.key] = changes
        elif lever.kind == "choice":
            values[lever.key] = text
        elif lever.kind == "date":
            values[lever.key] = read_value(text) if text else None
        elif not text:
            values[lever.key] = None
        else:
            try:
                values[lever.key] = sc_mod.safe_load(text)
            except (yaml.YAMLError, ValueError) as exc:
                errors[lever.key] = f"not a value: {sc_mod.yaml_problem(exc)}"
    return values, errors, given


def read_value(text: str) -> Any:
    """A date or a number from a text; the text itself when it is neither (pydantic says why)."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    try:
        value = sc_mod.safe_load(text)
    except (yaml.YAMLError, ValueError):
        return text
    return value if isinstance(value, (int, float, dt.date)) else text


def scenario_values(values: dict[str, Any]) -> dict[str, Any]:
    """The form's values as key paths of the scenario: an empty capacity path is no path at all,
    and a housing stock without units no stock."""
    out = dict(values)
    for first, others, block in ((CAPACITY, PATH_KEYS, "capacity_path"), (STOCK, STOCK_KEYS, "uitstroom.housing.stock")):
        if out.get(first) in (None, []):
            for key in (first, *others):
                out.pop(key, None)
            out[block] = None
    return out


def changed(values: dict[str, Any], scenario: sc_mod.Scenario) -> dict[str, Any]:
    """The values that differ from the scenario's own (compared as JSON)."""
    from pydantic import TypeAdapter

    data = scenario.model_dump(mode="json")
    as_json = TypeAdapter(Any).dump_python(values, mode="json")
    out = {}
    for key, value in values.items():
        if as_json[key] != get_path(data, key) and not (key in OPTIONAL_BLOCKS and get_path(data, key) is None):
            out[key] = value
    return out


# ---------------------------------------------------------------- validation


@dataclass
class Checked:
    """The outcome of validating a form: the scenario (None if not valid), errors per field,
    errors that belong to no field, and pydantic's one-line summary."""

    scenario: sc_mod.Scenario | None
    field_errors: dict[str, str] = field(default_factory=dict)
    other_errors: list[str] = field(default_factory=list)
    summary: str = ""

    @property
    def ok(self) -> bool:
        return self.scenario is not None and not self.field_errors and not self.other_errors


def is_form_part(part: str) -> bool:
    """A part of a pydantic error location that names a form of a union, not a key."""
    return (part.startswith(("function-", "tagged-union", "constrained-")) or "[" in part
            or part in ("float", "int", "str", "bool", "dict", "list", "date", "none"))


def lever_for(location: str, message: str) -> str | None:
    """The lever an error is about: by its location, else by a key path named in the message."""
    keys = sorted(BY_KEY, key=len, reverse=True)
    if location:
        for key in keys:
            if location == key or location.startswith(key + "."):
                return key
        for key in keys:  # a block whose key is a prefix of a lever (capacity_path -> its changes)
            if key.startswith(location + "."):
                return key
        return None
    for key in keys:
        if key in message:
            return key
    for key in keys:
        if re.search(rf"\b{re.escape(key.split('.')[0])}\b", message):
            return key
    return None


def validate(data: dict, source: str) -> Checked:
    """Validate a scenario mapping; each pydantic error next to its lever where there is one."""
    try:
        return Checked(sc_mod.Scenario.model_validate(data))
    except ValidationError as exc:
        checked = Checked(None, summary=sc_mod.format_errors(source, exc))
        for err in exc.errors():
            location = ".".join(str(p) for p in err["loc"] if not is_form_part(str(p)))
            message = err["msg"].removeprefix("Value error, ")
            got = err.get("input")
            if err["type"] not in ("missing", "extra_forbidden") and not isinstance(got, (dict, list)):
                message += f" (got {got!r})"
            key = lever_for(location, message)
            if key is None:
                checked.other_errors.append(f"{location}: {message}" if location else message)
            elif key not in checked.field_errors:
                checked.field_errors[key] = message
        return checked


def check_form(base: dict, form: dict[str, str], source: str) -> tuple[Checked, dict[str, Any], dict[str, Any]]:
    """Read a submitted form over the scenario mapping ``base`` and validate the result:
    (the check, the scenario values the form gives, the texts as given)."""
    values, errors, given = parse_form(form)
    values = scenario_values(values)
    readable = {k: v for k, v in values.items() if k not in errors}
    checked = validate(sc_mod.with_values(base, readable), source)
    for key, message in errors.items():
        checked.field_errors.setdefault(key, message)
    return checked, values, given
