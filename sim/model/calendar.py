"""Dates and simulation time.

Simulation time is in days since the scenario's start date. Results are recorded
on the first day of every month from the start to the end of the run.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math

import numpy as np

from ..config.distributions import DAYS_PER_YEAR


def next_month(day: dt.date) -> dt.date:
    """The first of the month after ``day``'s."""
    return dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)


class Calendar:
    def __init__(self, start: dt.date, end: dt.date):
        self.start = start
        self.end = end
        self.horizon = float((end - start).days)
        dates = [start]
        day = next_month(start)
        while day <= end:
            dates.append(day)
            day = next_month(day)
        if dates[-1] != end:
            dates.append(end)
        #: record dates: stocks are read on these days, flows counted between them
        self.dates: list[dt.date] = dates
        self.days = np.array([self.day(d) for d in dates])
        self._bounds = self.days.tolist()
        self._last = 0

    def date(self, day: float) -> dt.date:
        """The calendar date holding simulation time ``day``."""
        return self.start + dt.timedelta(days=math.floor(day))

    def day(self, date: dt.date) -> float:
        return float((date - self.start).days)

    def year_start_day(self, year: int) -> float:
        return self.day(dt.date(year, 1, 1))

    @property
    def years(self) -> list[int]:
        """Calendar years of which the run covers at least one day."""
        last = self.end.year if self.end > dt.date(self.end.year, 1, 1) else self.end.year - 1
        return list(range(self.start.year, last + 1))

    def interval(self, t: float) -> int:
        """Index of the record interval [dates[i], dates[i+1]) holding time t."""
        i, bounds = self._last, self._bounds
        if bounds[i] <= t < bounds[i + 1]:  # time mostly stays in the same month
            return i
        i = bisect.bisect_right(bounds, t) - 1
        self._last = i = min(max(i, 0), len(bounds) - 2)
        return i

    def month_fraction(self, i: int) -> float:
        """The part of its calendar month that record interval i covers (1 except for a
        run that starts or ends within a month)."""
        first = self.dates[i].replace(day=1)
        month_days = (next_month(first) - first).days
        return (self._bounds[i + 1] - self._bounds[i]) / month_days

    @property
    def n_intervals(self) -> int:
        return len(self.dates) - 1

    @staticmethod
    def per_day(rate_per_year: float) -> float:
        return rate_per_year / DAYS_PER_YEAR
