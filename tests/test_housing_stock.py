"""The housing stock (``uitstroom.housing.stock``): units that free only when the tenant leaves.

Small regions where the answer is known: the stock as the only way out (throughput = units /
mean tenancy), the rule that the first home offered wins, the growth schedule, the tenancies
on the start date (the rest of a tenancy in a steady state), relapse from the stock, a stock
that houses nobody leaving every other number bit-for-bit as it was, and bad input. Statistical
checks use 99.9% intervals over independent replications: each has a false-failure rate of
0.1% for a correct model (the seeds are fixed, so a run passes always or fails always).
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from sim.cli import load_app
from sim.config.scenario import deep_merge, from_mapping
from sim.experiment.replication import run_replication
from sim.model.states import FLOW, LEVEL
from sim.model.world import World
from sim.record.metrics import MONTHLY, MONTHLY_ROW
from sim.record.monitor import Monitor

from tests.queueing import t_interval

YEAR = 365.25
ALPHA = 0.001  # two-sided: 0.1% false failures per interval


def region(stock: dict | None, *, years: int = 10, places: int = 60, ready: int = 60, inflow: float = 30.0,
           contingent_share: float = 0.0, contingent_units: float = 0.0,
           other_route: dict | None = None, **extra) -> dict:
    """One provider whose stays all end in independent housing; nobody leaves early. By default
    the other route takes a thousand years and there is no contingent: the stock is the only way out."""
    data = {
        "name": "stock test",
        "start": "2000-01-01",
        "end": f"{2000 + years}-01-01",
        "profiles": {"regular": {"share": 1.0, "stay": {"dist": "exponential", "mean": 0.5, "unit": "years"}}},
        "inflow": {"per_year": inflow, "municipalities": {"X": 1.0}},
        "waitlist": {"withdrawal_per_year": 0.0},
        "providers": {"P": {"places": places, "inflow_share": 1.0}},
        "uitstroom": {
            "destinations": {"independent": 1.0, "intramural": 0.0, "died_or_moved": 0.0},
            "housing": {"contingent_share": contingent_share,
                        "contingent": {"units_per_year": contingent_units, "bw_share": 1.0},
                        "other_route_delay": other_route or {"dist": "fixed", "value": 1000, "unit": "years"}},
        },
        "ambulant": {"places": None, "duration": {"dist": "fixed", "value": 0.25, "unit": "years"}},
        "initial": {"residents": places, "ready_to_leave": ready},
    }
    if stock is not None:
        data["uitstroom"]["housing"]["stock"] = stock
    return deep_merge(data, extra)


def stock(units: int, tenancy: dict, **keys) -> dict:
    return {"units": units, "tenancy": tenancy, "share": 1.0, **keys}


def monthly(rep, name: str) -> np.ndarray:
    return rep.monthly[MONTHLY_ROW[name]]


def test_the_stock_alone_houses_units_over_mean_tenancy_a_year():
    """With a queue that never empties, each unit is a renewal process started in its steady state
    (the start's tenancies are the rest of a tenancy): E[housed in T] = units × T / mean tenancy."""
    units, mean, years = 10, 1.0, 10
    sc = from_mapping(region(stock(units, {"dist": "gamma", "mean": mean, "sd": 0.5, "unit": "years"}), years=years))
    housed = []
    for r in range(30):
        rep = run_replication(sc, 3, r)
        # the queue never empties: every unit is let on every date, and every leaving tenant's unit
        # goes to the next at once
        assert (monthly(rep, "stock_occupied") == units).all()
        assert (monthly(rep, "stock_units") == units).all()
        assert np.array_equal(monthly(rep, "stock_housed")[:-1], monthly(rep, "stock_left")[:-1])
        assert (monthly(rep, "stock_waiting") == monthly(rep, "ready_to_leave")).all()
        assert (monthly(rep, "stock_waiting")[:-1] > 0).all()
        housed.append(np.nansum(monthly(rep, "stock_housed")))
    _, low, high = t_interval(housed, ALPHA)
    assert low <= units * years / mean <= high, (low, high)


class SpyWorld(World):
    """A World that keeps every resident's stock request, to check the first home offered wins."""

    def __init__(self, *args):
        super().__init__(*args)
        self.requests = {}

    def ask_for_home(self, c):
        super().ask_for_home(c)
        self.requests[c.id] = (c.home, c.stock_request, self.env.now)


def spy(data: dict, seed: int) -> SpyWorld:
    w = SpyWorld(from_mapping(data), seed, 0, partial(Monitor, keep_clients=True))
    w.run()
    return w


@pytest.mark.parametrize("seed", [1, 2])
def test_the_first_home_offered_wins(seed):
    """Residents in both queues take whichever offer comes first; the other request is cancelled
    without taking a home from anyone (a unit offered too late goes to the next in line)."""
    # half need a contingentwoning (15 a year), the other half has a 6-month other route; 8 units, 1-year tenancies
    six_months = {"dist": "fixed", "value": 0.5, "unit": "years"}
    data = region(stock(8, {"dist": "exponential", "mean": 1.0, "unit": "years"}, share=0.7), years=6,
                  contingent_share=0.5, contingent_units=15, other_route=six_months, ready=30, inflow=40)
    w = spy(data, seed)
    mon = w.monitor
    by_route = {"contingent": 0, "stock": 0, "other": 0}
    for c in mon.clients:
        if c.id not in w.requests or math.isnan(c.housed):
            continue
        home, unit, asked = w.requests[c.id]
        offered = unit.value if unit is not None and unit.triggered else math.inf
        if c.tenancy is not None:  # through the stock: its own route had offered nothing yet
            by_route["stock"] += 1
            assert c.housed == offered
            assert not (c.contingent and home.triggered), "a contingentwoning given to a stock tenant"
            if not c.contingent:
                assert c.housed <= asked + c.other_route
        else:
            by_route["contingent" if c.contingent else "other"] += 1
            assert offered >= c.housed, "a unit offered earlier was not taken"
            if not c.contingent:
                assert c.housed == pytest.approx(asked + c.other_route)
    assert min(by_route.values()) > 10, by_route
    flows = {name: mon.flows[FLOW[name]].sum() for name in FLOW}
    assert flows["stock_housed"] == by_route["stock"]
    assert flows["contingent_housed"] == by_route["contingent"]
    assert flows["exits_independent"] == sum(by_route.values())
    # every unit held is held by a tenant: no unit left with a resident who took another home
    assert w.stock.occupied == len(w.stock.tenants)


def test_units_grow_on_the_schedule_and_close_as_tenants_leave():
    """The units follow the schedule; with a queue, new units are let on their date; fewer units
    evict nobody: nobody moves in while the tenants fill (or overfill) the units."""
    schedule = [{"date": "2002-01-01", "units": 15}, {"date": "2004-01-01", "units": 5}]
    # long tenancies: a unit added on a date and let only when some tenant leaves would show free
    sc = from_mapping(region(stock(10, {"dist": "exponential", "mean": 4.0, "unit": "years"}, schedule=schedule),
                             years=10))
    w = SpyWorld(sc, 4, 0, Monitor)
    w.run()
    mon = w.monitor
    dates = [d.isoformat() for d in mon.calendar.dates]
    units = mon.snap_levels[:, LEVEL["stock_units"]]
    occupied = mon.snap_levels[:, LEVEL["stock_occupied"]]
    grow, cut = dates.index("2002-02-01"), dates.index("2004-01-01")
    assert (units[:dates.index("2002-01-01") + 1] == 10).all() and (units[grow:cut + 1] == 15).all()
    assert (units[cut + 1:] == 5).all()
    assert (occupied[:cut + 1] == units[:cut + 1]).all()  # the queue is never empty
    housed = mon.flows[FLOW["stock_housed"]]
    after_cut = occupied[cut + 1:]
    assert (np.diff(after_cut) <= 0).all() or after_cut.min() == 5  # down as tenants leave, then full again
    first_full = cut + 1 + int(np.argmax(after_cut <= 5))
    assert housed[cut:first_full - 1].sum() == 0, "someone moved in while the units were overfull"
    assert first_full < len(dates) - 1 and (occupied[first_full:] == 5).all()


def test_tenancies_on_the_start_date_are_the_rest_of_a_tenancy():
    """Nobody may use the stock (share 0): the start's tenants leave one by one. With fixed
    two-year tenancies the rest of a tenancy found in a steady state is uniform on (0, 2 years),
    so the units still let after t years are Binomial(n, 1 - t/2), independent between runs."""
    n, runs = 150, 8
    data = region(stock(200, {"dist": "fixed", "value": 2, "unit": "years"}, share=0.0, initial_occupied=n),
                  years=3)
    sc = from_mapping(data)
    let = np.array([monthly(run_replication(sc, 6, r), "stock_occupied") for r in range(runs)])
    assert (let[:, 0] == n).all()
    for months in (6, 12, 18):
        p = 1 - months / 24
        low, high = stats.binom.ppf([ALPHA / 2, 1 - ALPHA / 2], n * runs, p)
        assert low <= let[:, months].sum() <= high, (months, let[:, months].sum(), n * runs * p)
    assert (let[:, 24:] == 0).all()  # every tenancy of the start ended within two years
    # without initial_occupied every unit is let on the start date
    default = from_mapping(deep_merge(data, {"uitstroom": {"housing": {"stock": {"initial_occupied": None}}}}))
    assert monthly(run_replication(default, 6, 0), "stock_occupied")[0] == 200


def test_a_tenant_relapses_with_the_stocks_probability_when_it_leaves():
    """Tenants come back into the inflow with the stock's probability, when the tenancy ends
    (or after ambulant support, if later); ``relapse.probability`` does not apply to them."""
    p = 0.4
    data = region(stock(10, {"dist": "exponential", "mean": 0.5, "unit": "years"}, relapse=p, initial_occupied=0),
                  years=8, relapse={"probability": 1.0, "delay": {"dist": "fixed", "value": 0.1, "unit": "years"}})
    w = spy(data, 8)
    mon = w.monitor
    flows = {name: mon.flows[FLOW[name]].sum() for name in FLOW}
    tenants = [c for c in mon.clients if c.tenancy is not None]
    left = [c for c in tenants if c.tenancy.processed]
    assert flows["stock_left"] == len(left) > 100
    assert flows["relapses"] == flows["stock_relapses"] == sum(c.state == LEVEL["relapsed"] for c in mon.clients)
    low, high = stats.binom.ppf([ALPHA / 2, 1 - ALPHA / 2], len(left), p)
    came_back = [c for c in left if c.state == LEVEL["relapsed"]]
    assert low <= len(came_back) <= high
    assert all(c.stock_relapses for c in came_back)
    # each came back as a new entry when it left the unit, or when its support ended if later
    relapsed = {c.family[len("relapse."):] + str(c.index): c for c in mon.clients if c.family.startswith("relapse.")}
    for c in came_back:
        again = relapsed[c.family + str(c.index)]
        assert again.arrived == pytest.approx(max(c.housed + c.stock_tenancy, c.housed + 0.25 * YEAR))


def _equal_except_stock(a, b) -> None:
    for row, name in enumerate(MONTHLY):
        if not name.startswith("stock_"):
            assert np.array_equal(a.monthly[row], b.monthly[row], equal_nan=True), name
    assert np.array_equal(a.municipal, b.municipal, equal_nan=True)


@pytest.mark.parametrize("units, share", [(0, 1.0), (0, 0.0)])
def test_a_stock_that_houses_nobody_changes_no_other_number(units, share):
    """The stock's draws come from streams of their own: a stock that never lets a unit (none,
    or nobody may use it) leaves every other metric bit-for-bit as without a stock, same seed."""
    extra = dict(beschermd_thuis={"share": 0.3, "places": 5}, relapse={"probability": 0.3},
                 uitstroom={"early_exit_per_year": 0.2})
    tenancy = {"dist": "exponential", "mean": 1.0, "unit": "years"}
    without = from_mapping(region(None, years=4, contingent_share=0.5, contingent_units=10,
                                  other_route={"dist": "exponential", "mean": 0.5, "unit": "years"}, **extra))
    with_stock = from_mapping(region(stock(units, tenancy, share=share), years=4, contingent_share=0.5,
                                     contingent_units=10,
                                     other_route={"dist": "exponential", "mean": 0.5, "unit": "years"}, **extra))
    for r in range(2):
        a, b = run_replication(without, 9, r), run_replication(with_stock, 9, r)
        _equal_except_stock(a, b)
        assert np.nansum(b.monthly[MONTHLY_ROW["stock_housed"]]) == 0
        if share:
            assert (b.monthly[MONTHLY_ROW["stock_waiting"]][1:] > 0).any()


BAD = {
    "schedule out of order": ("{units: 5, share: 1, tenancy: {dist: fixed, value: 1, unit: years}, "
                              "schedule: [{date: 2019-01-01, units: 8}, {date: 2018-01-01, units: 9}]}",
                              "uitstroom.housing.stock.schedule: dates must be", "strictly increasing"),
    "schedule after the run": ("{units: 5, share: 1, tenancy: {dist: fixed, value: 1, unit: years}, "
                               "schedule: [{date: 2040-01-01, units: 8}]}",
                               "uitstroom.housing.stock.schedule: ", "outside the run"),
    "more occupied than units": ("{units: 5, initial_occupied: 6, share: 1, "
                                 "tenancy: {dist: fixed, value: 1, unit: years}}",
                                 "uitstroom.housing.stock", "cannot exceed units"),
    "no tenancy": ("{units: 5, share: 1}", "uitstroom.housing.stock.tenancy", "missing; write how long"),
    "no share": ("{units: 5, tenancy: {dist: fixed, value: 1, unit: years}}", "uitstroom.housing.stock.share",
                 "missing; write the share"),
    "tenancy without a unit": ("{units: 5, share: 1, tenancy: {dist: fixed, value: 1}}",
                               "uitstroom.housing.stock.tenancy", "unit"),
    "share above 1": ("{units: 5, share: 1.5, tenancy: {dist: fixed, value: 1, unit: years}}",
                      "uitstroom.housing.stock.share", "less than or equal to 1"),
    "negative units": ("{units: -1, share: 1, tenancy: {dist: fixed, value: 1, unit: years}}",
                       "uitstroom.housing.stock.units", "greater than or equal to 0"),
    "relapse as text": ("{units: 5, share: 1, relapse: often, tenancy: {dist: fixed, value: 1, unit: years}}",
                        "uitstroom.housing.stock.relapse", "number"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_stock_is_one_line_naming_file_and_key(case, tmp_path):
    body, key, expected = BAD[case]
    base = Path(__file__).resolve().parents[1] / "scenarios" / "haarlem" / "baseline.yaml"
    path = tmp_path / "stock.yaml"
    path.write_text(f"extends: {base}\nuitstroom:\n  housing:\n    stock: {body}\n", encoding="utf-8")
    result = CliRunner().invoke(load_app(), ["check", str(path)])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.output
    assert str(path) in lines[0] and key in lines[0] and expected in lines[0], lines[0]


def test_the_pool_lets_units_first_come_first_served():
    """The stock's pool on its own: FIFO, a cancelled request skipped, a unit offered to someone
    who took another home goes to the next, more units let at once, a tenant leaves only once."""
    import simpy

    from sim.model.pools import HousingStock

    env = simpy.Environment()
    changes = []
    pool = HousingStock(env, 1, changes.append)
    first, second, third, fourth = (pool.request(k) for k in range(4))
    assert first.triggered and not (second.triggered or third.triggered or fourth.triggered)
    pool.cancel(second)  # waiting: skipped when it reaches the head
    pool.move_in("first")
    pool.set_units(2)  # the new unit goes at once to the next still waiting
    assert third.triggered and not second.triggered and pool.occupied == 2
    pool.cancel(third)  # offered, but it took another home: the unit goes to the next
    assert fourth.triggered and pool.occupied == 2
    pool.move_in("fourth")
    pool.vacate("first")
    assert pool.occupied == 1 and sum(changes) == 1
    with pytest.raises(KeyError):
        pool.vacate("first")
