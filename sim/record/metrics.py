"""The metrics of a replication, by name: what is read from the monitor's record on each date
(stocks), summed over each month or year (flows, care-days, cost), per municipality of origin,
and per financing (zorg in natura or PGB).

A replication returns three small arrays — metrics by month, by year, and per municipality
and cohort by year — in the order of :data:`MONTHLY`, :data:`YEARLY` and :data:`MUNICIPAL`;
look rows up by name with :data:`MONTHLY_ROW`, :data:`YEARLY_ROW` and :data:`MUNICIPAL_ROW`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from ..config.distributions import UNIT_DAYS
from ..config.scenario import Scenario
from ..model.states import FLOW, FLOWS, JOURNEY_PLACED, JOURNEY_WITHDRAWN, LEVEL
from .monitor import Monitor

MONTH = UNIT_DAYS["months"]

#: Stocks: read on each record date.
STOCKS = {
    "waitlist": ("waiting",),
    "in_care": ("in_care",),
    "ready_to_leave": ("ready_to_leave",),
    "contingent_waiting": ("contingent_waiting",),  # ready to leave, waiting for a contingentwoning
    "occupied": ("in_care", "ready_to_leave"),
    "places": ("places",),
    "bridged": ("bridged",),
    "bridging_waitlist": ("bridging_waiting",),
    "ambulant": ("ambulant",),
    "ambulant_waitlist": ("ambulant_waiting",),
    "beschermd_thuis": ("beschermd_thuis",),
    "outside_contract": ("outside_contract",),
    "above_contract": ("above_contract",),  # residents placed above contract (overschrijding)
    "stock_waiting": ("stock_waiting",),  # ready to leave, waiting for a unit of the housing stock
    "stock_units": ("stock_units",),
    "stock_occupied": ("stock_occupied",),  # units of the housing stock held by a tenant
}
#: Time on the list so far of those still waiting (months), as registries report it.
WAITED = ("waited_mean", "waited_median", "waited_p90")
#: Time integrals over each month (days): place-days and care-days.
DAYS = {
    "occupied_place_days": ("in_care", "ready_to_leave"),
    "blocked_place_days": ("ready_to_leave",),
    "bridging_days": ("bridged",),
    "ambulant_days": ("ambulant",),
    "beschermd_thuis_days": ("beschermd_thuis",),
    "outside_contract_days": ("outside_contract",),
    "above_contract_days": ("above_contract",),
    "waiting_days": ("waiting",),
}
#: The waitlist review read as a share (000:L504-510): of the clients waiting on a record date,
#: the share that leaves the list without a place (withdrawal or review removal) rather than by
#: a placement. Censoring: only clients whose outcome comes within FOLLOW_UP_MONTHS after the
#: date (and before the end of the run) are counted; the others are left out of both counts.
WITHDRAWING = "waitlist_withdrawing_share"
FOLLOW_UP_MONTHS = 24
#: Months after its date that a metric's value depends on: a fit on it must run that much longer.
LOOK_AHEAD_MONTHS = {WITHDRAWING: FOLLOW_UP_MONTHS}
MONTHLY_STOCKS = tuple(STOCKS) + WAITED + (WITHDRAWING,)
EXITS = ("exits_independent", "exits_intramural", "exits_died_or_moved", "exits_early")
MONTHLY_FLOWS = FLOWS + ("exits",) + tuple(DAYS) + ("cost",)
MONTHLY = MONTHLY_STOCKS + MONTHLY_FLOWS
#: Waits of those placed in the year (months).
PLACED_WAITS = ("wait_placed_mean", "wait_placed_median", "wait_placed_p90", "placed")
YEARLY = MONTHLY + PLACED_WAITS

#: Metric kinds, for summaries and labels.
KIND = {**{m: "stock" for m in MONTHLY_STOCKS}, **{m: "flow" for m in MONTHLY_FLOWS},
        **{m: "wait" for m in PLACED_WAITS}}

#: Per municipality of origin, per year: stocks on 31 December, flows and care-days in the year, cost.
MUNICIPAL_STOCKS = ("waitlist", "occupied", "bridged", "ambulant", "beschermd_thuis")
MUNICIPAL_FLOWS = ("arrivals", "admissions", "outside_contract_placements", "above_contract_placements")
MUNICIPAL = (MUNICIPAL_STOCKS + MUNICIPAL_FLOWS
             + ("occupied_place_days", "bridging_days", "ambulant_days", "beschermd_thuis_days",
                "outside_contract_days", "above_contract_days", "cost"))

#: The row of each metric by name, in the arrays a replication returns (metrics by name, never by position).
MONTHLY_ROW = {name: i for i, name in enumerate(MONTHLY)}
YEARLY_ROW = {name: i for i, name in enumerate(YEARLY)}
MUNICIPAL_ROW = {name: i for i, name in enumerate(MUNICIPAL)}

#: Per financing of the provider (``financing: zin | pgb``), by month: ``zin`` is the total less
#: ``pgb``. Flows count clients in (or leaving) a place of that financing; ``zin`` also holds
#: places bought outside contract and the flows of clients without a place.
FINANCINGS = ("zin", "pgb")
FINANCED_STOCKS = ("occupied", "places")
FINANCED_FLOWS = ("admissions", "became_ready_to_leave", "contingent_housed") + EXITS + ("exits",)
FINANCED = FINANCED_STOCKS + FINANCED_FLOWS
FINANCED_ROW = {name: i for i, name in enumerate(FINANCED)}


def _wait_stats(days: np.ndarray) -> tuple[float, float, float]:
    if days.size == 0:
        return (np.nan, np.nan, np.nan)
    months = days / MONTH
    return float(months.mean()), float(np.median(months)), float(np.quantile(months, 0.9))


def _sum_levels(matrix: np.ndarray, states: tuple[str, ...]) -> np.ndarray:
    """Sum of levels over states; works on [date, level] and [date, level, municipality] arrays."""
    return sum(matrix[:, LEVEL[s]] for s in states)


def cost(sc: Scenario, days: dict[str, np.ndarray]) -> np.ndarray:
    """Euros from care-days: contracted place-days, days above contract (overschrijding),
    outside-contract days, bridging, ambulant, thuis."""
    c = sc.costs
    outside, above = days["outside_contract_days"], days["above_contract_days"]
    above_day = c.place_day if c.above_contract_day is None else c.above_contract_day
    return ((days["occupied_place_days"] - outside - above) * c.place_day + above * above_day
            + outside * c.outside_contract_day
            + days["bridging_days"] * c.bridging_day + days["ambulant_days"] * c.ambulant_day
            + days["beschermd_thuis_days"] * c.beschermd_thuis_day)


def monthly_metrics(mon: Monitor, sc: Scenario) -> np.ndarray:
    cal = mon.calendar
    n = len(cal.dates)
    out = np.full((len(MONTHLY), n), np.nan)
    row = MONTHLY_ROW
    for name, states in STOCKS.items():
        out[row[name]] = _sum_levels(mon.snap_levels, states)
    for i, waited in enumerate(mon.snap_waited):
        out[[row[w] for w in WAITED], i] = _wait_stats(waited)
    for name in FLOWS:
        out[row[name], :-1] = mon.flows[FLOW[name]]
    out[row["exits"], :-1] = sum(mon.flows[FLOW[e]] for e in EXITS)
    for name, states in DAYS.items():
        out[row[name], :-1] = np.diff(_sum_levels(mon.snap_area, states))
    out[row["cost"], :-1] = cost(sc, {name: out[row[name], :-1] for name in DAYS})
    out[row[WITHDRAWING]] = withdrawing_share(mon)
    return out


def withdrawing_share(mon: Monitor) -> np.ndarray:
    """On each record date: of the clients then waiting whose outcome comes within the follow-up
    (see :data:`WITHDRAWING`), the share that left without a place; NaN when none did either.

    A record date's stocks hold what happened before it, so a client waits on date d when it
    joined before d and left on d or later (clients placed on joining never wait)."""
    journeys = mon.journeys()
    joined, left = journeys["joined"], journeys["left"]
    withdrawn = journeys["how"] == JOURNEY_WITHDRAWN
    days = mon.calendar.days[:, None]
    resolved = (joined < days) & (left >= days) & (left < days + FOLLOW_UP_MONTHS * MONTH)
    n = resolved.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (resolved & withdrawn).sum(axis=1) / n, np.nan)


def financed_metrics(mon: Monitor, monthly: np.ndarray) -> np.ndarray:
    """Shape (financing, metric, date) in the order of :data:`FINANCINGS` and :data:`FINANCED`;
    flows are NaN on the last date, as in :func:`monthly_metrics`."""
    pgb = np.full((len(FINANCED), monthly.shape[1]), np.nan)
    pgb[FINANCED_ROW["occupied"]] = mon.snap_levels[:, LEVEL["pgb_occupied"]]
    pgb[FINANCED_ROW["places"]] = mon.snap_levels[:, LEVEL["pgb_places"]]
    for name in FINANCED_FLOWS:
        flows = EXITS if name == "exits" else (name,)
        pgb[FINANCED_ROW[name], :-1] = sum(mon.pgb_flows[FLOW[f]] for f in flows)
    total = monthly[[MONTHLY_ROW[name] for name in FINANCED]]
    return np.stack([total - pgb, pgb])


def yearly_metrics(mon: Monitor, monthly: np.ndarray) -> np.ndarray:
    """Flows summed over the calendar year; stocks on 31 December (the record of 1 January after);
    waits of those placed during the year."""
    cal = mon.calendar
    years = cal.years
    out = np.full((len(YEARLY), len(years)), np.nan)
    starts = np.array([d.year for d in cal.dates[:-1]])
    journeys = mon.journeys()
    placed = journeys["how"] == JOURNEY_PLACED
    placed_year = np.array([(cal.start + dt.timedelta(days=float(t))).year for t in journeys["left"][placed]], int)
    placed_wait = (journeys["left"] - journeys["joined"])[placed]
    for k, year in enumerate(years):
        at, in_year = _year_end_index(cal, year), starts == year
        for i, name in enumerate(MONTHLY):
            if KIND[name] == "stock":
                out[i, k] = monthly[i, at]
            else:
                out[i, k] = monthly[i, :-1][in_year].sum()
        waits = placed_wait[placed_year == year]
        out[len(MONTHLY):, k] = (*_wait_stats(waits), waits.size)
    return out


def _year_end_index(cal, year: int) -> int:
    end = dt.date(year + 1, 1, 1)
    return cal.dates.index(end) if end in cal.dates else len(cal.dates) - 1


def municipal_metrics(mon: Monitor, sc: Scenario) -> np.ndarray:
    """What each municipality's residents hold and cost, year by year (the woonplaatsbeginsel).

    Shape (municipality, cohort, metric, year). Cohort 0: clients in care before
    ``attribution.cohort_date`` (none when it is not set); cohort 1: everyone else.
    """
    cal = mon.calendar
    years = cal.years
    out = np.zeros((mon.groups, len(MUNICIPAL), len(years)))
    row = MUNICIPAL_ROW
    starts = np.array([d.year for d in cal.dates[:-1]])
    days = {name: np.diff(_sum_levels(mon.snap_group_area, states), axis=0) for name, states in DAYS.items()}
    days["cost"] = cost(sc, days)  # [interval, municipality]
    for k, year in enumerate(years):
        at, in_year = _year_end_index(cal, year), starts == year
        for name in MUNICIPAL_STOCKS:
            out[:, row[name], k] = _sum_levels(mon.snap_group_levels[at:at + 1], STOCKS[name])[0]
        for name in MUNICIPAL_FLOWS:
            out[:, row[name], k] = mon.group_flows[FLOW[name]][in_year].sum(0)
        for name in ("occupied_place_days", "bridging_days", "ambulant_days", "beschermd_thuis_days",
                     "outside_contract_days", "above_contract_days", "cost"):
            out[:, row[name], k] = days[name][in_year].sum(0)
    n = mon.groups // 2
    return out.reshape(2, n, len(MUNICIPAL), len(years)).transpose(1, 0, 2, 3)
