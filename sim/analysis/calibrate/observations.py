"""Observations: reading the CSV, and which monthly or yearly records each one is matched to."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ...record.metrics import KIND, MONTHLY, MUNICIPAL, MUNICIPAL_STOCKS
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

    @property
    def period(self) -> str:
        return self.start.isoformat() if self.match == "point" else f"{self.start}/{self.end}"

    @property
    def label(self) -> str:
        return f"{self.metric}[{self.municipality}]" if self.municipality else self.metric

    @property
    def name(self) -> str:
        return f"{self.label} {self.period}"


def next_day(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=1)


def _date(text: str, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise CalibrationError(f"{where}: not a date (YYYY-MM-DD): {text!r}") from None


def read_observations(path: str | Path) -> list[Observation]:
    """Read and check an observations CSV (columns ``OBS_COLUMNS``; optional ``sd``, ``use``, ``note``)."""
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(f"{path}: observations file not found")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    if not rows:
        raise CalibrationError(f"{path}: no observations")
    missing = [c for c in OBS_COLUMNS if c not in rows[0]]
    if missing:
        raise CalibrationError(f"{path}: missing column(s) {', '.join(missing)}")
    out = []
    for i, row in enumerate(rows, start=2):  # line 1 is the header
        where = f"{path}: line {i}"
        metric, municipality = _split_metric(row["metric"].strip(), where)
        match = row["match"].strip()
        if match not in MATCHES:
            raise CalibrationError(f"{where}: match {match!r} must be one of {', '.join(MATCHES)}")
        stock = metric in MUNICIPAL_STOCKS if municipality else KIND[metric] == "stock"
        if match == "point" and not stock:
            raise CalibrationError(f"{where}: {metric} is a flow; match it as a period 'total' or 'average'")
        if match == "total" and stock:
            raise CalibrationError(f"{where}: {metric} is a stock; a period 'total' needs a flow")
        if municipality and match == "average":
            raise CalibrationError(f"{where}: a municipality's {metric} is kept per year; match it as 'point' or 'total'")
        when = row["date_or_period"].strip()
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
        try:
            value = float(row["value"])
            sd = float(row.get("sd") or "nan")
        except ValueError:
            raise CalibrationError(f"{where}: value and sd must be numbers") from None
        if not sd > 0:
            raise CalibrationError(f"{where}: sd (the observation error) must be a positive number")
        use = (row.get("use") or "fit").strip()
        if use not in USES:
            raise CalibrationError(f"{where}: use {use!r} must be one of {', '.join(USES)}")
        out.append(Observation(i, metric, start, end, match, value, sd, use, row["source"].strip(),
                               (row.get("note") or "").strip(), municipality))
    return out


def _split_metric(text: str, where: str) -> tuple[str, str | None]:
    """``waitlist`` for the region, ``occupied[Heemstede]`` for one municipality's residents."""
    metric, _, rest = text.partition("[")
    municipality = rest.removesuffix("]").strip() if rest else None
    known = MUNICIPAL if municipality else MONTHLY
    if metric not in known or (rest and not rest.endswith("]")):
        what = "per municipality " if municipality else ""
        raise CalibrationError(f"{where}: metric {text!r} is not produced {what}by the model (known: {', '.join(known)}"
                               + ("" if municipality else "; per municipality: metric[name]") + ")")
    return metric, municipality


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
