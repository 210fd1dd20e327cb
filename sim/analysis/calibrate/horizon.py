"""The fit horizon: the scenario is run only up to the last fitted observation (and the
follow-up of a metric that looks ahead, such as the waitlist review's share).

Nothing after a date can change what happens before it, so the records up to it keep
their distribution while the runs get shorter.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from ...config import scenario as scenario_mod
from ...model.calendar import next_month
from ...record.metrics import LOOK_AHEAD_MONTHS, MONTH
from .config import Config
from .observations import next_day


def _drop_dated_after(node: Any, end: dt.date) -> Any:
    """A copy without list entries that carry a ``date`` after ``end`` (schedules, conversions, ...)."""
    if isinstance(node, dict):
        return {k: _drop_dated_after(v, end) for k, v in node.items()}
    if isinstance(node, list):
        return [_drop_dated_after(v, end) for v in node
                if not (isinstance(v, dict) and "date" in v and dt.date.fromisoformat(str(v["date"])) > end)]
    return node


def trimmed(data: dict, end: dt.date) -> dict:
    """The scenario run only up to ``end`` when that is earlier: dated changes after it are dropped.

    Nothing after ``end`` can change what happens before it, so the records up to
    ``end`` have the same distribution. If the trimmed scenario does not validate
    (e.g. a list that must not be empty), the full run is kept.
    """
    if end >= scenario_mod.from_mapping(data).end:
        return data
    out = {**_drop_dated_after(data, end), "end": end}
    try:
        scenario_mod.from_mapping(out)
    except scenario_mod.ScenarioError:
        return data
    return out


def needed_until(obs) -> dt.date:
    """The first record date after which nothing can change what is matched to ``obs``: the
    record after its end, or for a metric that looks ahead the first of a month after its follow-up."""
    end = next_day(obs.end)
    months = LOOK_AHEAD_MONTHS.get(obs.metric, 0) if not obs.subset else 0
    if not months:
        return end
    after = end + dt.timedelta(days=math.ceil(months * MONTH))
    return after if after.day == 1 else next_month(after)


def fit_data(config: Config) -> dict:
    """The scenario for fitting: it stops at the first record after which no fitted observation can change."""
    return trimmed(config.scenario_data, max(needed_until(o) for o in config.fitted))
