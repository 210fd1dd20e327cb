"""Observations: reading the CSV, and which monthly or yearly records each one is matched to."""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

from ...record.metrics import FINANCED, FINANCED_STOCKS, FINANCINGS, KIND, MONTHLY, MUNICIPAL, MUNICIPAL_STOCKS
from ...model.calendar import Calendar
from .errors import CalibrationError

MATCHES = ("point", "total", "average")
USES = ("fit", "check")
HOLDOUT = "holdout"  # a fit observation after the validation cut-off
OBS_COLUMNS = ("date_or_period", "metric", "value", "source", "match")


@dataclass(frozen=True)
class Observation:
    """One observed number and how the model output is matched to it."""

    row: int
    metric: str
    start: dt.date
    end: dt.date  # equal to start for a point in time; inclusive last day of a period
    match: str
    value: float
    sd: float
    use: str
    source: str
    note: str = ""
    municipality: str | None = None  # ``occupied[Heemstede]``: that municipality's residents only
    financing: str | None = None  # ``admissions[zin]``: the places of that financing only

    @property
    def period(self) -> str:
        return self.start.isoformat() if self.match == "point" else f"{self.start}/{self.end}"

    @property
    def subset(self) -> str | None:
        """The municipality or financing selected, None for the whole region."""
        return self.municipality or self.financing

    @property
    def label(self) -> str:
        return f"{self.metric}[{self.subset}]" if self.subset else self.metric

    @property
    def name(self) -> str:
        return f"{self.label} {self.period}"


def next_day(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=1)


#: Dates outside these years are typos (and the last day of year 9999 has no next day).
YEARS = (1900, 2200)


def _date(text: str, where: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise CalibrationError(f"{where}: not a date (YYYY-MM-DD): {text!r}") from None
    if not YEARS[0] <= day.year <= YEARS[1]:
        raise CalibrationError(f"{where}: the date {text.strip()} is not between {YEARS[0]} and {YEARS[1]}")
    return day


def read_observations(path: str | Path) -> list[Observation]:
    """Read and check an observations CSV: columns ``OBS_COLUMNS`` and ``sd`` (optional ``use``,
    ``note``), lines starting with ``#`` are comments. Every bad row is one :class:`CalibrationError`
    naming the file, the line and what is expected."""
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(f"{path}: observations file not found" if not path.exists()
                               else f"{path}: expected an observations CSV file, got a folder")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CalibrationError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    # comments become blank lines, which are skipped, so that line numbers stay the file's own
    lines = ["\n" if line.lstrip().startswith("#") else line for line in text.splitlines(keepends=True)]
    reader = csv.reader(lines)
    header: list[str] = []
    rows: list[tuple[list[str], int]] = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if header:
                rows.append((row, reader.line_num))
            else:
                header = [c.strip() for c in row]
                _check_header(path, header, reader.line_num)
    except csv.Error as exc:
        raise CalibrationError(f"{path}: line {reader.line_num}: not a CSV row: {exc}") from None
    if not header:
        raise CalibrationError(f"{path}: empty file: expected a header line {','.join(REQUIRED + OPTIONAL)} "
                               "and a row per observation")
    if not rows:
        raise CalibrationError(f"{path}: no observations: expected a row per observation after the header line")
    out = []
    seen: dict[tuple, int] = {}
    for cells, line in rows:
        where = f"{path}: line {line}"
        if len(cells) != len(header):
            raise CalibrationError(f"{where}: {len(cells)} fields, expected {len(header)} as in the header "
                                   f"({','.join(header)}); quote a text holding a comma")
        obs = _observation({k: v.strip() for k, v in zip(header, cells)}, line, where)
        key = (obs.label, obs.start, obs.end, obs.match)
        if key in seen:
            raise CalibrationError(f"{where}: {obs.name} ({obs.match}) is already observed on line {seen[key]}; "
                                   "keep one row per date_or_period, metric and match")
        seen[key] = line
        out.append(obs)
    return out


#: Columns an observations CSV must have, and those it may have.
REQUIRED = OBS_COLUMNS + ("sd",)
OPTIONAL = ("use", "note")
#: No metric of the model is negative or above this (euros a year of a region included).
MAX_VALUE = 1e12


def _check_header(path: Path, header: list[str], line: int) -> None:
    expected = f"(expected {', '.join(REQUIRED)}; optional: {', '.join(OPTIONAL)})"
    for i, column in enumerate(header):
        if column in header[:i]:
            raise CalibrationError(f"{path}: line {line}: column {column!r} is named twice {expected}")
        if column not in REQUIRED + OPTIONAL:
            raise CalibrationError(f"{path}: line {line}: unknown column {column!r} {expected}")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise CalibrationError(f"{path}: line {line}: missing column(s) {', '.join(missing)} {expected}")


def _number(row: dict, column: str, where: str) -> float:
    text = row[column]
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value):
        raise CalibrationError(f"{where}: {column}: expected a finite number, got {text!r}")
    return value


def _observation(row: dict, line: int, where: str) -> Observation:
    metric, subset = _split_metric(row["metric"], where)
    financing = subset if subset in FINANCINGS else None
    municipality = None if financing else subset
    match = row["match"]
    if match not in MATCHES:
        raise CalibrationError(f"{where}: match {match!r} must be one of {', '.join(MATCHES)}")
    stock = (metric in MUNICIPAL_STOCKS if municipality else metric in FINANCED_STOCKS if financing
             else KIND[metric] == "stock")
    if match == "point" and not stock:
        raise CalibrationError(f"{where}: {metric} is a flow; match it as a period 'total' or 'average'")
    if match == "total" and stock:
        raise CalibrationError(f"{where}: {metric} is a stock; a period 'total' needs a flow")
    if municipality and match == "average":
        raise CalibrationError(f"{where}: a municipality's {metric} is kept per year; match it as 'point' or 'total'")
    when = row["date_or_period"]
    if match == "point":
        if "/" in when:
            raise CalibrationError(f"{where}: a point observation needs one date, got {when!r}")
        start = end = _date(when, where)
    else:
        if "/" not in when:
            raise CalibrationError(f"{where}: a '{match}' observation needs a period start/end, got {when!r}")
        start, end = (_date(part, where) for part in when.split("/", 1))
        if start.day != 1 or next_day(end).day != 1 or end < start:
            raise CalibrationError(f"{where}: the period {when} must run from a first to a last day of a month")
    value = _number(row, "value", where)
    if not 0 <= value <= MAX_VALUE:
        raise CalibrationError(f"{where}: value: expected a number from 0 to {MAX_VALUE:g} "
                               f"(the model's {metric} is never negative), got {row['value']!r}")
    sd = _number(row, "sd", where)
    if not 0 < sd <= MAX_VALUE:
        raise CalibrationError(f"{where}: sd (the observation error): expected a positive number, got {row['sd']!r}")
    use = row.get("use") or "fit"
    if use not in USES:
        raise CalibrationError(f"{where}: use {use!r} must be one of {', '.join(USES)}")
    return Observation(line, metric, start, end, match, value, sd, use, row["source"], row.get("note") or "",
                       municipality, financing)


def _split_metric(text: str, where: str) -> tuple[str, str | None]:
    """``waitlist`` for the region, ``occupied[Heemstede]`` for one municipality's residents,
    ``admissions[zin]`` for the places of one financing (zin or pgb)."""
    metric, _, rest = text.partition("[")
    subset = rest.removesuffix("]").strip() if rest else None
    financing = subset in FINANCINGS
    known = FINANCED if financing else MUNICIPAL if subset else MONTHLY
    if metric not in known or (rest and not rest.endswith("]")):
        what = f"per financing ({subset}) " if financing else "per municipality " if subset else ""
        raise CalibrationError(f"{where}: metric {text!r} is not produced {what}by the model (known: {', '.join(known)}"
                               + ("" if subset else "; per municipality: metric[name]; per financing: "
                                  f"metric[{' or '.join(FINANCINGS)}]") + ")")
    return metric, subset


def record_indices(obs: Observation, calendar: Calendar) -> list[int]:
    """The monthly records an observation is matched to.

    A point date that is the first of a month is that month's record; the last
    day of a month is read at the end of the day, i.e. the next month's record.
    A period covers the monthly records whose month starts inside it.
    """
    dates = calendar.dates
    if obs.municipality:
        return [_year_index(obs, calendar)]
    if obs.match == "point":
        for day in (obs.start, next_day(obs.start)):
            if day in dates:
                return [dates.index(day)]
        if calendar.start <= obs.start < calendar.end:
            raise CalibrationError(f"{obs.name}: a point in time must be the first or last day of a month")
        raise CalibrationError(f"{obs.name}: outside the run ({calendar.start} to {calendar.end})")
    stop = next_day(obs.end)
    if obs.start not in dates or stop not in dates:
        raise CalibrationError(f"{obs.name}: the period is not within the run ({calendar.start} to {calendar.end})")
    return list(range(dates.index(obs.start), dates.index(stop)))


def _year_index(obs: Observation, calendar: Calendar) -> int:
    """Municipal metrics are yearly: stocks on 31 December, flows over a calendar year."""
    year = obs.start.year
    whole_year = (obs.start == dt.date(year, 12, 31) if obs.match == "point"
                  else (obs.start, obs.end) == (dt.date(year, 1, 1), dt.date(year, 12, 31)))
    if not whole_year:
        raise CalibrationError(f"{obs.name}: per municipality only 31 December (stocks) or a calendar year (flows)")
    if next_day(dt.date(year, 12, 31)) > calendar.end:
        raise CalibrationError(f"{obs.name}: outside the run ({calendar.start} to {calendar.end})")
    return calendar.years.index(year)
