"""Fast, exact checks of the model (sim/model/) and the monitor, written to kill the
mutants that ``make mutants`` (mutation/run_mutants.py) found surviving the other tests.

Most checks are exact bookkeeping on a small region that uses every lever at once
(``rich``): each client's record (times, days per state, outcome) is checked against
its own fate and against what the monitor counted, and the state of the world is
checked on every record date (places never over-filled, no free place while its list
has someone waiting, the list served by priority then first come). The rest are unit
checks of the pools, the place division and the fate draws. Everything runs with fixed
seeds, so it is deterministic; the few statistical checks state their false-failure
rate (for a correct model, over all seeds: the seeds here are fixed, so a run either
passes always or fails always).
"""

from __future__ import annotations

import datetime as dt
import math
from functools import partial

import numpy as np
import pytest

from sim.model.calendar import Calendar
from sim.model.capacity import divide_places
from sim.model.fates import BLOCK, FateBook, blockwise, choose, equilibrium_residents
from sim.model.pools import Contingent, Provider, SlotPool, Waitlist
from sim.model.world import IN_A_PLACE, INDEPENDENT, World
from sim.model.states import FLOW, FLOWS, JOURNEY_PLACED, JOURNEY_WITHDRAWN, LEVEL, LEVELS, STATES
from sim.record.monitor import Monitor
from sim.model.rng import Streams
from sim.config.scenario import deep_merge, from_mapping

YEAR = 365.25


def rich_data() -> dict:
    """A small region with every lever on: two profiles with priorities, two
    municipalities, three providers (one filled from another's list, one with a
    schedule), bridging with few slots, withdrawal, early exits, all destinations,
    contingentwoningen, limited ambulant slots, relapses, beschermd thuis from a date,
    outside-contract placements, reviews, a conversion, a cohort date, and a stock on a
    start date in the middle of a month."""
    return {
        "name": "rich",
        "start": "2020-01-15",
        "end": "2024-01-01",
        "profiles": {
            "regular": {"share": 0.7, "priority": 1, "stay": {"dist": "exponential", "mean": 1.2, "unit": "years"}},
            "urgent": {"share": 0.3, "priority": 0, "stay": {"dist": "gamma", "mean": 0.8, "sd": 0.5, "unit": "years"}},
        },
        "inflow": {"per_year": 60, "municipalities": {"A": 0.6, "B": 0.4}},
        "waitlist": {"withdrawal_per_year": 0.4, "review": {"per_year": 10, "removal_share": 0.5,
                                                          "start": "2021-03-01", "end": "2023-06-01"}},
        "providers": {
            "P1": {"places": 20, "inflow_share": 0.6, "bridging": True},
            "P2": {"places": 12, "inflow_share": 0.4,
                   "schedule": [{"date": "2021-07-01", "places": 8}, {"date": "2022-07-01", "places": 14}]},
            "P3": {"places": 5, "inflow_share": 0.0, "waitlist_of": "P1"},
        },
        "bridging": {"places": 4, "withdrawal_factor": 0.3, "stay_factor": 0.8},
        "uitstroom": {
            "early_exit_per_year": 0.3,
            "destinations": {"independent": 0.6, "intramural": 0.25, "died_or_moved": 0.15},
            "housing": {"contingent_share": 0.5,
                        "contingent": {"units_per_year": 30, "bw_share": 0.5, "release": "monthly"},
                        "other_route_delay": {"dist": "exponential", "mean": 3, "unit": "months"}},
        },
        "ambulant": {"places": 6, "duration": {"dist": "exponential", "mean": 0.5, "unit": "years"}},
        "relapse": {"probability": 0.4, "delay": {"dist": "exponential", "mean": 0.5, "unit": "years"}},
        "initial": {"residents": 30, "ready_to_leave": 4, "waiting": 15,
                    "waited": {"dist": "uniform", "low": 0, "high": 12, "unit": "months"}},
        "beschermd_thuis": {"share": 0.3, "start": "2021-01-01", "home_probability": 0.8, "places": 3,
                            "duration": {"dist": "fixed", "value": 0.5, "unit": "years"}},
        "outside_contract": {"per_year": 2, "profiles": ["urgent"]},
        "conversions": [{"date": "2022-03-01", "provider": "P2", "places": 3}],
        "attribution": {"cohort_date": "2021-01-01"},
    }


def rich(**override):
    return from_mapping(deep_merge(rich_data(), override))


class CheckedWorld(World):
    """A World whose state is checked on every record date, before the monitor records it."""

    def __init__(self, scenario, seed, replication, recorder=Monitor):
        super().__init__(scenario, seed, replication, recorder)
        self.problems: list[str] = []
        self._snapshot = self.monitor.snapshot
        self.monitor.snapshot = self._checked_snapshot

    def admit(self, c, provider):
        if provider is not self.outside and provider.occupied >= provider.capacity and not c.above_contract:
            self.problems.append(f"{self.env.now}: admitted to {provider.name} with every place taken")
        if c.above_contract and (provider.occupied < provider.capacity or len(provider.above)
                                 > math.ceil(self.sc.above_contract.share * provider.capacity)):
            self.problems.append(f"{self.env.now}: above contract at {provider.name} with a place free, "
                                 "or beyond its limit")
        super().admit(c, provider)

    def _checked_snapshot(self, index, waited):
        now = self.env.now
        clients = [c for c in self.monitor.clients if c.state >= 0]
        for p in self.providers + [self.outside]:
            inside = sum(1 for c in clients if c.place is p and c.state in IN_A_PLACE)
            if inside != p.occupied:
                self.problems.append(f"{now}: {p.name} occupied {p.occupied}, {inside} inside")
        for wl in self.waitlists:
            on = [c for c in clients if c.waitlist is wl and c.on_list]
            if len(on) != wl.size or any(c.state != LEVEL["waiting"] for c in on):
                self.problems.append(f"{now}: list {wl.name} size {wl.size}, {len(on)} on it")
            if on and any(p.occupied < p.capacity for p in wl.providers):
                self.problems.append(f"{now}: a free place at a provider of {wl.name} while {len(on)} wait")
        if not np.allclose(np.sort(waited), np.sort([now - c.listed for c in clients if c.on_list])):
            self.problems.append(f"{now}: waited so far")
        for c in clients:
            if c.gauges != self._gauges(c):
                self.problems.append(f"{now}: client {c.id} gauges {c.gauges}")
        busy = sum(1 for c in clients if c.bridged)
        queued = sum(1 for c in clients if c.bridge_queued)
        if busy != self.bridging.busy or busy > 4 or (queued and busy < 4):
            self.problems.append(f"{now}: bridging busy {self.bridging.busy}, {busy} bridged, {queued} queued")
        amb = sum(1 for c in clients if c.state == LEVEL["ambulant"])
        amb_wait = sum(1 for c in clients if c.state == LEVEL["ambulant_waiting"])
        if amb != self.ambulant.busy or amb > 6 or (amb_wait and amb < 6):
            self.problems.append(f"{now}: ambulant busy {self.ambulant.busy}, {amb} in it, {amb_wait} waiting")
        thuis = sum(1 for c in clients if c.state == LEVEL["beschermd_thuis"])
        if thuis != self.thuis.busy or thuis > 3:
            self.problems.append(f"{now}: beschermd thuis busy {self.thuis.busy}, {thuis} in it")
        if self.stock is not None:
            self._check_stock(now, clients)
        return self._snapshot(index, waited)

    def _check_stock(self, now, clients):
        stock = self.stock
        waiting = [c for c in clients if c.stock_request is not None]
        offered = sum(c.stock_request.triggered for c in waiting)  # on the start date: move in at once
        if stock.occupied != len(stock.tenants) + offered or stock.occupied < 0:
            self.problems.append(f"{now}: stock occupied {stock.occupied}, {len(stock.tenants)} tenants")
        if offered and now > 0:
            self.problems.append(f"{now}: {offered} offered a unit and not moved in")
        if stock.occupied > stock.units and now < self.calendar.day(dt.date(2023, 1, 1)):
            self.problems.append(f"{now}: stock occupied {stock.occupied} of {stock.units} units")
        if len(waiting) > offered and stock.occupied < stock.units:
            self.problems.append(f"{now}: a free unit while {len(waiting)} wait")
        if any(c.state != LEVEL["ready_to_leave"] or not c.stock_eligible for c in waiting):
            self.problems.append(f"{now}: someone waits for a unit who is not ready to leave")
        if self.monitor.level[LEVEL["stock_waiting"]] != len(waiting):
            self.problems.append(f"{now}: stock_waiting {self.monitor.level[LEVEL['stock_waiting']]}, {len(waiting)}")
        if (self.monitor.level[LEVEL["stock_occupied"]] != stock.occupied
                or self.monitor.level[LEVEL["stock_units"]] != stock.units):
            self.problems.append(f"{now}: stock levels differ from the pool")


_RUNS: dict = {}


def run_rich(seed: int = 5, rep: int = 0, **override) -> CheckedWorld:
    key = (seed, rep, repr(override))
    if key not in _RUNS:
        w = CheckedWorld(rich(**override), seed, rep, partial(Monitor, log_events=True))
        w.run()
        _RUNS[key] = w
    return _RUNS[key]


def records(w):
    return w.monitor.client_records()


def entry_time(c) -> float:
    return max(c.arrived, 0.0)


# ------------------------------------------------------------------ the world, exactly


@pytest.mark.parametrize("seed", [5, 6])
def test_state_checked_on_every_record_date(seed):
    w = run_rich(seed)
    assert w.problems == []
    mon = w.monitor
    assert len(mon.clients) > 250
    # every outcome, state and flow happens in this region
    assert set(c.outcome for c in mon.clients) >= {"independent", "intramural", "died_or_moved", "early", "withdrawn",
                                                  "removed_by_review", "beschermd_thuis", ""}
    for name in FLOWS:
        if name not in ("turned_away", "above_contract_placements",  # the latter: see the next test
                        "stock_housed", "stock_left", "stock_relapses"):  # see test_state_checked_with_a_housing_stock
            assert mon.flows[FLOW[name]].sum() > 0, name


@pytest.mark.parametrize("seed", [5, 6])
def test_state_checked_with_overschrijding(seed):
    """The same checks with places as a soft cap for urgent clients: nobody above contract while a
    contracted place is free or beyond the limit, urgent clients still served first come first
    served, and the gauge is the clients above contract."""
    w = run_rich(seed, above_contract={"share": 0.1, "profiles": ["urgent"]})
    assert w.problems == []
    mon = w.monitor
    assert mon.flows[FLOW["above_contract_placements"]].sum() > 5
    cs = mon.clients
    assert mon.level[LEVEL["above_contract"]] == sum(c.above_contract and c.state in IN_A_PLACE for c in cs)
    for p in w.providers:
        assert len(p.above) == sum(c.above_contract and c.place is p for c in cs)
    assert_served_in_order(w)


STOCK = {"units": 6, "share": 0.6, "relapse": 0.3, "initial_occupied": 4,
         "schedule": [{"date": "2021-06-01", "units": 9}, {"date": "2023-01-01", "units": 7}],
         "tenancy": {"dist": "gamma", "mean": 1.0, "sd": 0.7, "unit": "years"}}


@pytest.mark.parametrize("seed", [5, 6])
def test_state_checked_with_a_housing_stock(seed):
    """The same checks with a housing stock: on every record date the units let are the tenants in
    them, never more than the units (unless cut), no unit free while someone waits for one, the
    gauge is the clients waiting; every tenancy of a housed client ends once, when it should."""
    w = run_rich(seed, uitstroom={"housing": {"stock": STOCK}})
    assert w.problems == []
    mon = w.monitor
    for name in ("stock_housed", "stock_left", "stock_relapses"):
        assert mon.flows[FLOW[name]].sum() > 0, name
    tenants = [c for c in mon.clients if c.tenancy is not None]
    assert len(tenants) == mon.flows[FLOW["stock_housed"]].sum()
    ended = [c for c in tenants if c.tenancy.processed]
    assert all(c.housed + c.stock_tenancy <= w.env.now for c in ended)
    assert all(c.housed + c.stock_tenancy >= w.env.now for c in tenants if not c.tenancy.processed)
    assert w.stock.tenants >= set(c for c in tenants if not c.tenancy.processed)
    assert not w.stock.tenants & set(ended)


@pytest.mark.parametrize("seed", [5, 6])
def test_levels_are_the_clients_in_each_state_and_gauge(seed):
    w = run_rich(seed)
    mon = w.monitor
    cs = mon.clients
    states = np.bincount([c.state for c in cs], minlength=len(STATES))
    assert mon.level[:len(STATES)] == states.tolist()
    assert np.all(mon.snap_levels >= 0)
    assert np.array_equal(mon.snap_levels[:, :len(STATES)].sum(1), mon.snap_entries)
    assert mon.snap_entries[-1] == mon.entries == len(cs)
    assert mon.level[LEVEL["bridged"]] == sum(c.bridged for c in cs)
    assert mon.level[LEVEL["bridging_waiting"]] == sum(c.bridge_queued for c in cs)
    assert mon.level[LEVEL["contingent_waiting"]] == sum(c.home_request is not None for c in cs)
    assert mon.level[LEVEL["outside_contract"]] == sum(c.place is w.outside and c.state in IN_A_PLACE for c in cs)
    # P2's schedule sets it to 14 after the conversion
    assert mon.level[LEVEL["places"]] == sum(p.capacity for p in w.providers) == 20 + 14 + 5
    # per attribution group: the groups add up to the region, level by level, and match the clients
    for i in range(len(LEVELS)):
        if LEVELS[i] != "places":
            assert sum(mon.group_level[i]) == mon.level[i], LEVELS[i]
            assert sum(mon.group_area[i]) == pytest.approx(mon.area[i], rel=1e-9, abs=1e-6), LEVELS[i]
    for g in range(mon.groups):
        assert mon.group_level[LEVEL["in_care"]][g] == sum(c.state == LEVEL["in_care"] and c.group == g for c in cs)
    assert np.array_equal(mon.snap_group_levels[-1].sum(1)[:len(STATES)], mon.snap_levels[-1, :len(STATES)])


@pytest.mark.parametrize("seed", [5, 6])
def test_time_integrals_are_the_days_clients_spent_in_each_state(seed):
    w = run_rich(seed)
    mon, rec = w.monitor, records(w)
    horizon = w.calendar.horizon
    for i, state in enumerate(STATES):
        assert mon.snap_area[-1, i] == pytest.approx(rec[f"days_{state}"].sum(), rel=1e-9, abs=1e-6), state
    spent = sum(rec[f"days_{s}"] for s in STATES)
    assert np.allclose(spent, horizon - np.maximum(rec["arrived"], 0.0))
    # levels are never negative, so their integrals never fall from one record date to the next
    assert np.all(np.diff(mon.snap_area[:, :len(STATES)], axis=0) >= -1e-9)
    # the places gauge: capacity over time, integrated exactly
    places = mon.snap_area[-1, LEVEL["places"]]
    assert places == pytest.approx(expected_place_days(w), rel=1e-12)
    assert np.all(mon.snap_area[0] == 0)


def expected_place_days(w) -> float:
    cal = w.calendar
    d = cal.day
    p1, p3 = 20, 5
    # P2: 12, 8 from July 2021, 8 + 3 converted from March 2022, 14 from July 2022
    p2 = [(0, 12), (d(dt.date(2021, 7, 1)), 8), (d(dt.date(2022, 3, 1)), 11), (d(dt.date(2022, 7, 1)), 14)]
    total = (p1 + p3) * cal.horizon
    bounds = [t for t, _ in p2] + [cal.horizon]
    total += sum(n * (bounds[k + 1] - t) for k, (t, n) in enumerate(p2))
    return total


def _per_interval(w, times) -> np.ndarray:
    times = np.asarray([t for t in times if not math.isnan(t)], float)
    return np.histogram(times, bins=w.calendar.days)[0]


@pytest.mark.parametrize("seed", [5, 6])
def test_flows_count_each_recorded_event_in_its_month(seed):
    w = run_rich(seed)
    mon = w.monitor
    cs = mon.clients
    flows = mon.flows

    def by(flow, times):
        assert np.array_equal(flows[FLOW[flow]], _per_interval(w, times)), flow

    by("arrivals", [c.arrived for c in cs if c.start_stage == "arrival"])
    by("admissions", [c.placed for c in cs])
    by("became_ready_to_leave", [c.ready for c in cs])
    by("exits_independent", [c.housed for c in cs])
    by("bridging_starts", [c.bridging_start for c in cs])
    by("beschermd_thuis_starts", [c.arrived for c in cs if c.outcome == "beschermd_thuis"])
    by("outside_contract_placements", [c.placed for c in cs if c.place is w.outside])
    by("conversions", [c.arrived for c in cs if c.family.startswith("conversion.")])
    by("relapses", [c.arrived for c in cs if c.family.startswith("relapse.")])
    for flow, outcome in (("exits_intramural", "intramural"), ("exits_died_or_moved", "died_or_moved"),
                          ("exits_early", "early"), ("withdrawals", "withdrawn"),
                          ("review_removals", "removed_by_review"), ("turned_away", "turned_away")):
        by(flow, [c.exited for c in cs if c.outcome == outcome])
    by("contingent_housed", [c.housed for c in cs if c.contingent])  # the start stock's ready ones too
    # the same flows per attribution group add up to the region's
    assert np.array_equal(mon.group_flows.sum(2), flows)
    for g in range(mon.groups):
        assert mon.group_flows[FLOW["admissions"], :, g].sum() == sum(1 for c in cs if not math.isnan(c.placed) and c.group == g)


@pytest.mark.parametrize("seed", [5, 6])
def test_each_client_lives_its_own_fate(seed):
    """Times in the record follow from the client's fate: stays (shorter when bridged),
    early exits, the other housing route, ambulant support, relapse delay, beschermd thuis."""
    w = run_rich(seed)
    sc = w.sc
    rec = records(w)
    factor = sc.bridging.stay_factor
    n_checked = {"stay": 0, "early": 0, "route": 0, "ambulant": 0, "relapse": 0, "thuis": 0}
    for k, c in enumerate(w.monitor.clients):
        in_place_from = c.placed if not math.isnan(c.placed) else (entry_time(c) if c.start_stage in ("in_care", "ready_to_leave") else math.nan)
        if not math.isnan(in_place_from):
            length = c.stay * (factor if c.was_bridged else 1.0)
            if c.outcome == "early":
                assert c.exited == pytest.approx(in_place_from + c.early)
                n_checked["early"] += 1
            elif c.start_stage != "ready_to_leave" and c.outcome in ("intramural", "died_or_moved"):
                assert c.exited == pytest.approx(in_place_from + length)
                assert c.destination != INDEPENDENT
                n_checked["stay"] += 1
            elif c.start_stage != "ready_to_leave" and not math.isnan(c.ready):
                assert c.ready == pytest.approx(in_place_from + length)
                assert c.destination == INDEPENDENT
                n_checked["stay"] += 1
            if c.outcome and c.outcome != "early":
                assert c.early_at >= c.exited if c.outcome != "independent" else c.early_at >= c.housed
        if not math.isnan(c.housed) and not c.contingent:
            assert c.housed == pytest.approx(c.ready + c.other_route)
            n_checked["route"] += 1
        if not math.isnan(c.housed) and c.contingent:
            assert c.housed in w.calendar.days  # released on the first of a month
        if c.state in (LEVEL["at_home"], LEVEL["relapsed"]) and c.outcome == "independent":
            assert rec["days_ambulant"][k] == pytest.approx(c.ambulant)
            n_checked["ambulant"] += 1
        if c.state == LEVEL["relapsed"]:
            assert rec["days_at_home"][k] == pytest.approx(c.relapse_delay)
            assert c.relapses
            n_checked["relapse"] += 1
        if c.outcome == "beschermd_thuis" and c.state != LEVEL["beschermd_thuis"]:
            assert rec["days_beschermd_thuis"][k] == pytest.approx(c.thuis_duration)
            n_checked["thuis"] += 1
        if c.outcome == "beschermd_thuis":
            assert c.thuis_offer < sc.beschermd_thuis.share and c.thuis_home < sc.beschermd_thuis.home_probability
            assert c.arrived >= w.calendar.day(sc.beschermd_thuis.start)
    assert min(n_checked.values()) > 0, n_checked


@pytest.mark.parametrize("seed", [5, 6])
def test_withdrawal_clock_runs_slower_while_bridged(seed):
    """A client withdraws when its unit clock is used up: at the withdrawal rate while
    waiting, at rate × withdrawal_factor while bridged."""
    w = run_rich(seed)
    rate = w.sc.waitlist.withdrawal_per_year / 365.25
    factor = w.sc.bridging.withdrawal_factor
    n = nb = 0
    for c in w.monitor.clients:
        if c.outcome != "withdrawn":
            continue
        clock = w.fates.fate(c.family, c.index).withdraw_clock  # the client's whole clock
        start = max(c.listed, 0.0)
        if math.isnan(c.bridging_start):
            assert c.exited - start == pytest.approx(clock / rate)
        else:
            used = rate * (c.bridging_start - start)
            assert c.withdraw_clock == pytest.approx(clock - used)
            assert c.exited - c.bridging_start == pytest.approx((clock - used) / (rate * factor))
            assert c.bridging_end == c.exited
            nb += 1
        n += 1
    assert n > 5 and nb > 0


@pytest.mark.parametrize("seed", [5, 6])
def test_waiting_days_and_journeys_match_the_records(seed):
    w = run_rich(seed)
    mon, rec = w.monitor, records(w)
    horizon = w.calendar.horizon
    cs = mon.clients
    listed = rec["listed"]
    left = np.where(~np.isnan(rec["placed"]) & ~np.isnan(listed), rec["placed"],
                    np.where(np.isin(rec["destination"], ("withdrawn", "removed_by_review")), rec["exited"], horizon))
    waited = np.where(np.isnan(listed), 0.0, left - np.maximum(np.nan_to_num(listed), 0.0))
    assert np.allclose(rec["days_waiting"], waited)
    j = mon.journeys()
    placed = j["how"] == JOURNEY_PLACED
    assert placed.sum() == np.sum(~np.isnan(rec["placed"]))
    assert np.sum(j["how"] == JOURNEY_WITHDRAWN) == np.isin(rec["destination"], ("withdrawn", "removed_by_review")).sum()
    assert np.allclose(np.sort(j["left"][placed]), np.sort(rec["placed"][~np.isnan(rec["placed"])]))
    assert np.allclose(np.sort(j["joined"][placed]), np.sort(listed[~np.isnan(rec["placed"])]))
    assert np.array_equal(np.sort(j["profile"][placed]), np.sort(rec["profile"][~np.isnan(rec["placed"])]))
    assert np.all(j["left"] >= j["joined"])
    # bridging days are the days between bridging start and end (or the end of the run)
    bridged = ~np.isnan(rec["bridging_start"])
    spans = np.where(np.isnan(rec["bridging_end"]), horizon, rec["bridging_end"]) - rec["bridging_start"]
    assert mon.snap_area[-1, LEVEL["bridged"]] == pytest.approx(spans[bridged].sum(), rel=1e-9)
    # blocked days are the days ready to leave
    assert np.array_equal(rec["blocked_days"], rec["days_ready_to_leave"])
    ended = rec["state_at_end"]
    assert np.all((rec["destination"] == "") == np.isin(ended, ("waiting", "in_care", "ready_to_leave")))
    assert rec["withdrawn"].sum() == np.isin(rec["destination"], ("withdrawn", "removed_by_review")).sum()
    assert len({str(x) for x in rec["client"]}) == len(cs)


@pytest.mark.parametrize("seed", [5, 6])
def test_list_served_by_priority_then_first_come(seed):
    """Nobody is placed from a list while someone of a better priority, or of the same
    priority who joined earlier, waits on the same list."""
    assert_served_in_order(run_rich(seed))


def assert_served_in_order(w) -> None:
    cs = [c for c in w.monitor.clients if not math.isnan(c.listed) and c.waitlist is not None]
    for b in cs:
        if math.isnan(b.placed) or b.place is w.outside:
            continue
        for a in cs:
            if a is b or a.waitlist is not b.waitlist:
                continue
            a_left = a.placed if not math.isnan(a.placed) else (a.exited if not math.isnan(a.exited) else math.inf)
            if max(a.listed, 0.0) < b.placed < a_left:  # the list on the start date joins at day 0
                assert (a.priority, a.listed) > (b.priority, b.listed), (a.id, b.id)


@pytest.mark.parametrize("seed", [5, 6])
def test_event_log_follows_each_client(seed):
    w = run_rich(seed)
    log = w.monitor.event_log()
    assert np.all(np.diff(log["day"]) >= 0)
    last = {}
    count = {}
    for client, state, muni in zip(log["client"].tolist(), log["state"].tolist(), log["municipality"].tolist()):
        assert state != last.get(client)
        last[client] = state
        count[client] = count.get(client, 0) + 1
    by_id = {c.id: c for c in w.monitor.clients}
    assert set(last) == set(by_id)
    for cid, state in last.items():
        assert STATES[by_id[cid].state] == state
    muni = dict(zip(log["client"].tolist(), log["municipality"].tolist()))
    assert all(muni[cid] == by_id[cid].municipality for cid in muni)
    # every client's days are spread over exactly the states it entered
    rec = records(w)
    for k, c in enumerate(w.monitor.clients):
        visited = sum(rec[f"days_{s}"][k] > 0 for s in STATES)
        assert visited <= count[c.id]


@pytest.mark.parametrize("seed", [5, 6])
def test_attribution_groups_split_by_the_cohort_date(seed):
    w = run_rich(seed)
    cohort = w.calendar.day(dt.date(2021, 1, 1))
    m = len(w.sc.inflow.municipalities)
    for c in w.monitor.clients:
        placed = c.placed if not math.isnan(c.placed) else (entry_time(c) if c.start_stage in ("in_care", "ready_to_leave") else math.inf)
        assert c.group == (c.municipality if placed < cohort else m + c.municipality), c.id
    relapsed = [c for c in w.monitor.clients if c.family.startswith("relapse.")]
    assert relapsed
    by_name = {(c.family, c.index): c for c in w.monitor.clients}
    for c in relapsed:
        old = by_name[(c.family.removeprefix("relapse."), c.index)]
        assert c.municipality == old.municipality and old.state == LEVEL["relapsed"]
        assert c.arrived == old.since  # comes back the moment it relapses


@pytest.mark.parametrize("seed", [5, 6])
def test_start_stock(seed):
    w = run_rich(seed)
    cs = w.monitor.clients
    residents = [c for c in cs if c.family == "resident."]
    assert len(residents) == 30
    ready = [c for c in residents if c.start_stage == "ready_to_leave"]
    assert len(ready) == 4 and all(c.contingent and c.destination == INDEPENDENT for c in ready)
    assert w.monitor.snap_levels[0, LEVEL["in_care"]] >= 26 and w.monitor.snap_levels[0, LEVEL["ready_to_leave"]] == 4
    assert w.monitor.snap_levels[1, LEVEL["ready_to_leave"]] >= 3
    counts = divide_places(30, [20, 12, 5])
    for p, n in zip(w.providers, counts):
        assert sum(1 for c in residents if c.place is p) == n
    waiters = [c for c in cs if c.family == "waiter."]
    assert len(waiters) == 15
    joined = [c.listed for c in sorted(waiters, key=lambda c: c.id)]
    assert joined == sorted(joined) and all(t < 0 for t in joined)  # longest waiting joins first
    assert all(c.arrived == c.listed for c in waiters)
    assert all(-c.listed <= 365.25 for c in waiters)


def test_same_seed_same_world_and_replications_differ():
    a, b = run_rich(5), CheckedWorld(rich(), 5, 0)
    b.run()
    assert np.array_equal(a.monitor.flows, b.monitor.flows)
    c = run_rich(5, 1)
    assert not np.array_equal(a.monitor.flows, c.monitor.flows)


# ------------------------------------------------------------------ levers, exactly


def quiet(**override):
    """The rich region with nobody arriving and no stock: for checking one process alone."""
    base = {"inflow": {"per_year": 0}, "initial": {"residents": 0, "ready_to_leave": 0, "waiting": 0},
            "conversions": [], "outside_contract": {"per_year": 0}, "waitlist": {"review": {"per_year": 0}}}
    return rich(**deep_merge(base, override))


@pytest.mark.parametrize("release, carry", [("monthly", True), ("quarterly", True), ("monthly", False)])
def test_contingent_units_released(release, carry):
    """Units owed pro rata (a part month its part), released whole on the first of each month,
    or of each quarter for the months up to and including that one; what is owed after the
    last release is never released. Without carry-over, units nobody waits for are lost."""
    sc = quiet(uitstroom={"housing": {"contingent": {"release": release, "carry_over": carry,
                                                     "units_per_year": {2020: 24, 2022: 48}, "bw_share": 0.5,
                                                     "extra_per_year": 6, "extra_from": "2023-01-01"}}})
    w = World(sc, 1, 0, Monitor)
    released = []
    give = w.contingent.release
    w.contingent.release = lambda units: (released.append((w.env.now, units)), give(units))[1]
    w.run()
    cal = w.calendar
    expected, owed = [], 0.0
    for i, date in enumerate(cal.dates[:-1]):
        per_year = (24 if date.year < 2022 else 48) * 0.5 + (6 if date.year >= 2023 else 0)
        owed += per_year / 12 * cal.month_fraction(i)
        if release == "quarterly" and date.month % 3 != 1:
            continue
        expected.append((cal.days[i], math.floor(owed + 1e-9)))
        owed -= expected[-1][1]
    assert released == expected
    assert w.contingent.stock == (sum(n for _, n in expected) if carry else 0)


def test_contingent_poisson_release_mean():
    """Poisson releases over 4 years with mean 12/yr + extras: the total is Poisson(≈44.6),
    within ±4.5 sd with probability 1 - 7e-6."""
    sc = quiet(uitstroom={"housing": {"contingent": {"release": "poisson", "carry_over": True,
                                                     "units_per_year": 24, "bw_share": 0.5}}})
    totals = []
    for rep in range(4):
        w = World(sc, 2, rep, Monitor)
        w.run()
        totals.append(w.contingent.stock)
    mean = 12 * w.calendar.horizon / 365.25 * 4
    assert abs(sum(totals) - mean) < 4.5 * math.sqrt(mean)


def test_contingent_housing_of_residents_ready_to_leave():
    """Ten residents ready to leave, a contingentwoning a month, nobody else: they are
    housed one a month, first come first served, on the first of the month."""
    sc = quiet(initial={"residents": 10, "ready_to_leave": 10},
               uitstroom={"early_exit_per_year": 0, "housing": {"contingent": {"units_per_year": 24, "bw_share": 0.5}}},
               relapse={"probability": 0}, beschermd_thuis={"share": 0})
    w = World(sc, 3, 0, Monitor)
    w.run()
    cs = [c for c in w.monitor.clients if c.family == "resident."]
    housed = sorted(c.housed for c in cs)
    firsts = w.calendar.days[1:11].tolist()  # 1 February 2020 onwards (January is a part month)
    assert housed == firsts
    assert [c.housed for c in sorted(cs, key=lambda c: c.id)] == housed
    assert w.monitor.flows[FLOW["contingent_housed"]].sum() == 10
    assert w.monitor.snap_levels[2, LEVEL["contingent_waiting"]] == 9
    assert w.contingent.stock == 0


def test_arrivals_per_year_with_growth():
    """Arrivals in each calendar year are Poisson with the year's rate (part years pro rata);
    with a growth rate the rate grows each year. 12 replications: each yearly total within
    ±4.5 sd of its mean (false failure at most 6 × 7e-6)."""
    sc = quiet(inflow={"per_year": 200, "growth_per_year": 0.5}, beschermd_thuis={"share": 0})
    totals = np.zeros(4)
    for rep in range(12):
        w = World(sc, 4, rep, Monitor)
        t = w.arrival_times()
        assert np.all(np.diff(t) >= 0) and np.all((t >= 0) & (t < w.calendar.horizon))
        years = np.array([w.calendar.date(x).year for x in t])
        totals += [np.sum(years == y) for y in range(2020, 2024)]
    first = (w.calendar.year_start_day(2021) - 0) / 365.25
    means = 12 * 200 * np.array([first, 1.5 * 366 / 365.25, 1.5**2 * 365 / 365.25, 1.5**3 * 365 / 365.25])
    assert np.all(np.abs(totals - means) < 4.5 * np.sqrt(means)), (totals, means)


def test_arrivals_by_year_table():
    sc = quiet(inflow={"per_year": {2020: 0, 2022: 300}}, beschermd_thuis={"share": 0})
    w = World(sc, 4, 0, Monitor)
    t = w.arrival_times()
    years = {w.calendar.date(x).year for x in t}
    assert years == {2022, 2023} and len(t) > 400


def test_arrivals_enter_at_their_times():
    sc = quiet(inflow={"per_year": 50}, beschermd_thuis={"share": 0})
    times = World(sc, 8, 0, Monitor).arrival_times()
    w = World(sc, 8, 0, Monitor)
    w.run()
    arrived = sorted(c.arrived for c in w.monitor.clients if c.start_stage == "arrival" and c.family == "")
    assert np.allclose(arrived, times)
    assert [c.index for c in w.monitor.clients if c.family == ""] == list(range(len(times)))


def test_reviews_interview_the_monthly_number():
    """Review with removal share 1: exactly the owed number of interviews a month are removals,
    between start and end, while enough clients wait."""
    sc = quiet(initial={"waiting": 200, "residents": 0}, providers={"P1": {"places": 0}, "P2": {"places": 0,
               "schedule": []}, "P3": {"places": 0}}, waitlist={"withdrawal_per_year": 0,
               "review": {"per_year": 18, "removal_share": 1.0, "start": "2021-03-01", "end": "2023-06-01"}},
               outside_contract={"per_year": 0})
    w = World(sc, 9, 0, Monitor)
    w.run()
    cal = w.calendar
    removals = w.monitor.flows[FLOW["review_removals"]]
    lo, hi = cal.dates.index(dt.date(2021, 3, 1)), cal.dates.index(dt.date(2023, 6, 1))
    assert removals[:lo].sum() == 0 and removals[hi:].sum() == 0
    # 1.5 a month: 1, 2, 1, 2, ...
    assert removals[lo:hi].tolist() == [1 + (k % 2) for k in range(hi - lo)]
    assert w.waiting_total() == 200 - removals.sum()


def test_review_removes_about_the_share():
    """Review of 24 a year with removal share 0.25 over 2 years of 4 replications: removals
    Binomial(192, 0.25), within ±4.5 sd (false failure 7e-6)."""
    sc = quiet(initial={"waiting": 300, "residents": 0}, providers={"P1": {"places": 0}, "P2": {"places": 0,
               "schedule": []}, "P3": {"places": 0}}, waitlist={"withdrawal_per_year": 0,
               "review": {"per_year": 24, "removal_share": 0.25, "start": "2021-01-01", "end": "2023-01-01"}})
    total = 0
    for rep in range(4):
        w = World(sc, 10, rep, Monitor)
        w.run()
        total += w.monitor.flows[FLOW["review_removals"]].sum()
    n, p = 4 * 48, 0.25
    assert abs(total - n * p) < 4.5 * math.sqrt(n * p * (1 - p))


def test_review_owes_interviews_when_the_list_is_empty():
    """1.5 interviews a month from the start (a part month: 17 of 31 days of January), nobody
    waiting until mid-August: on 1 September 0.82 + 8 × 1.5 = 12.8 are owed, so 12 are
    interviewed (removal share 1), and on 1 October 2.3, so 2 more."""
    sc = quiet(initial={"waiting": 0, "residents": 0}, providers={"P1": {"places": 0}, "P2": {"places": 0,
               "schedule": []}, "P3": {"places": 0}},
               waitlist={"withdrawal_per_year": 0, "review": {"per_year": 18, "removal_share": 1.0,
                                                             "start": None, "end": None}})
    w = World(sc, 11, 0, Monitor)
    w.env.process(w.waitlist_reviews())
    w.env.run(until=w.calendar.day(dt.date(2020, 8, 15)))
    for i in range(20):
        w.enter(w.new_client("x", i), "arrival")
    w.env.run(until=w.calendar.day(dt.date(2020, 9, 2)))
    assert w.monitor.flows[FLOW["review_removals"]].sum() == 12
    w.env.run(until=w.calendar.day(dt.date(2020, 10, 2)))
    assert w.monitor.flows[FLOW["review_removals"]].sum() == 14
    assert w.waiting_total() == 6


def test_reviews_go_on_to_the_last_month_without_an_end_date():
    sc = quiet(initial={"waiting": 200, "residents": 0}, providers={"P1": {"places": 0}, "P2": {"places": 0,
               "schedule": []}, "P3": {"places": 0}}, waitlist={"withdrawal_per_year": 0,
               "review": {"per_year": 12, "removal_share": 1.0, "start": "2023-01-01", "end": None}})
    w = World(sc, 9, 0, Monitor)
    w.run()
    removals = w.monitor.flows[FLOW["review_removals"]]
    assert removals[-12:].tolist() == [1] * 12 and removals[:-12].sum() == 0


def test_intake_stop_and_full_list_turn_clients_away():
    sc = quiet(inflow={"per_year": 100}, providers={"P1": {"places": 0}, "P2": {"places": 0, "schedule": []},
               "P3": {"places": 0}}, waitlist={"withdrawal_per_year": 0, "intake_stop": 30,
                                               "review": {"per_year": 0}}, beschermd_thuis={"share": 0})
    w = World(sc, 12, 0, Monitor)
    w.run()
    assert w.waiting_total() == 30
    mon = w.monitor
    assert mon.flows[FLOW["turned_away"]].sum() == mon.flows[FLOW["arrivals"]].sum() - 30
    assert mon.level[LEVEL["turned_away"]] == mon.flows[FLOW["turned_away"]].sum()
    sc = quiet(inflow={"per_year": 100}, providers={"P1": {"places": 0}, "P2": {"places": 0, "schedule": []},
               "P3": {"places": 0}}, waitlist={"withdrawal_per_year": 0, "max_length": 7,
                                               "review": {"per_year": 0}}, beschermd_thuis={"share": 0})
    w = World(sc, 12, 0, Monitor)
    w.run()
    assert sorted(wl.size for wl in w.waitlists) == [7, 7]


def test_central_list_serves_every_provider():
    sc = rich(waitlist={"policy": "central"})
    w = CheckedWorld(sc, 13, 0)
    w.run()
    assert w.problems == [] and len(w.waitlists) == 1
    assert all(p.waitlist is w.waitlists[0] for p in w.providers)
    assert len(w.waitlists[0].providers) == 3


def test_outside_contract_within_the_yearly_number_and_only_for_its_profiles():
    sc = rich(outside_contract={"per_year": 3}, inflow={"per_year": 120})
    w = CheckedWorld(sc, 14, 0)
    w.run()
    assert w.problems == []
    outside = [c for c in w.monitor.clients if c.place is w.outside]
    urgent = list(sc.profiles).index("urgent")
    assert outside and all(c.profile == urgent for c in outside)
    years = [w.calendar.date(c.placed).year for c in outside]
    assert max(years.count(y) for y in set(years)) <= 3
    assert w.outside_used == {y: years.count(y) for y in set(years)}
    assert max(years.count(y) for y in set(years)) == 3
    assert all(c.placed == c.arrived for c in outside if c.start_stage == "arrival")  # bought on joining the list


def test_capacity_path_divides_places_by_the_rule():
    for rule in ("proportional", "largest_first"):
        sc = rich(providers={"P2": {"schedule": []}}, conversions=[],
                  capacity_path={"changes": [{"date": "2021-01-01", "places": 20},
                                             {"date": "2022-01-01", "places": 50}], "shrink": rule})
        w = CheckedWorld(sc, 15, 0)
        w.run()
        assert w.problems == []
        first = divide_places(20, [20, 12, 5], rule)
        assert [p.capacity for p in w.providers] == divide_places(50, first, rule)
        i = w.calendar.dates.index(dt.date(2021, 1, 1))
        assert w.monitor.snap_levels[i, LEVEL["places"]] == 37 and w.monitor.snap_levels[i + 1, LEVEL["places"]] == 20


def test_conversion_seats_residents_then_adds_places():
    w = run_rich(5)
    conv = [c for c in w.monitor.clients if c.family.startswith("conversion.")]
    assert len(conv) == 3 and all(c.family == "conversion.2022-03-01." for c in conv)
    day = w.calendar.day(dt.date(2022, 3, 1))
    assert all(c.arrived == day and c.start_stage == "in_care" and c.place is w.providers[1] for c in conv)
    assert [c.index for c in conv] == [0, 1, 2]


def test_beschermd_thuis_without_a_home_or_slot_joins_the_list():
    sc = quiet(inflow={"per_year": 200}, beschermd_thuis={"share": 1.0, "home_probability": 0.5, "places": 5,
                                                         "start": None})
    w = World(sc, 16, 0, Monitor)
    w.run()
    cs = [c for c in w.monitor.clients if c.start_stage == "arrival" and not c.family]
    thuis = [c for c in cs if c.outcome == "beschermd_thuis"]
    assert thuis and all(c.thuis_home < 0.5 for c in thuis)
    listed = [c for c in cs if not math.isnan(c.listed)]
    assert any(c.thuis_home < 0.5 for c in listed)  # offered and had a home, but no slot
    assert all(c.thuis_home < 0.5 or c in listed for c in cs if c.outcome != "beschermd_thuis")
    assert max(w.monitor.snap_levels[:, LEVEL["beschermd_thuis"]]) == 5
    none = World(quiet(inflow={"per_year": 200}, beschermd_thuis={"share": 0.0}), 16, 0, Monitor)
    none.run()
    assert none.monitor.flows[FLOW["beschermd_thuis_starts"]].sum() == 0


def test_bridging_shortens_the_stay_by_its_factor():
    w = run_rich(6)
    bridged = [c for c in w.monitor.clients if c.was_bridged and not math.isnan(c.ready)]
    assert bridged
    for c in bridged:
        assert c.ready - c.placed == pytest.approx(0.8 * c.stay)


# ------------------------------------------------------------------ the monitor alone


class _Env:
    now = 0.0


def test_monitor_integrates_levels_and_groups():
    cal = Calendar(dt.date(2020, 1, 1), dt.date(2020, 4, 1))
    env = _Env()
    mon = Monitor(cal, env, groups=2)
    mon.change(0, 3, 1)
    env.now = 10.0
    mon.change(0, -1, 1)
    mon.change(0, 2, 0)
    env.now = 31.0
    mon.snapshot(1, np.array([1.0, 2.0]))
    assert mon.snap_levels[1, 0] == 4
    assert mon.snap_area[1, 0] == pytest.approx(3 * 10 + 4 * 21)
    assert mon.snap_group_levels[1, 0].tolist() == [2, 2]
    assert mon.snap_group_area[1, 0].tolist() == pytest.approx([2 * 21, 3 * 10 + 2 * 21])
    env.now = 40.0
    mon.change(0, 1)  # no group
    assert mon.group_level[0] == [2, 2] and mon.level[0] == 5
    env.now = 60.0
    mon.snapshot(2, np.array([]))
    assert mon.snap_area[2, 0] == pytest.approx(3 * 10 + 4 * 30 + 5 * 20)
    assert mon.snap_group_area[2, 0].tolist() == pytest.approx([2 * 50, 30 + 2 * 50])
    assert len(mon.snap_waited) == 2 and mon.snap_waited[0].tolist() == [1.0, 2.0]


def test_monitor_counts_flows_per_interval_and_group():
    cal = Calendar(dt.date(2020, 1, 1), dt.date(2020, 4, 1))
    env = _Env()
    mon = Monitor(cal, env, groups=3)

    class C:
        group = 2
        place = None
    for t, n in ((0.0, 1), (30.9, 2), (31.0, 1), (90.5, 4)):
        env.now = t
        mon.count(FLOW["admissions"], C(), n)
    env.now = 45.0
    mon.count(FLOW["arrivals"])
    assert mon.flows[FLOW["admissions"]].tolist() == [3, 1, 4]
    assert mon.group_flows[FLOW["admissions"], :, 2].tolist() == [3, 1, 4]
    assert mon.group_flows[FLOW["arrivals"]].sum() == 0 and mon.flows[FLOW["arrivals"]].tolist() == [0, 1, 0]


def test_monitor_observe_moves_levels_and_logs():
    cal = Calendar(dt.date(2020, 1, 1), dt.date(2020, 4, 1))
    env = _Env()
    mon = Monitor(cal, env, groups=2, log_events=True)

    class C:
        id, municipality = 7, 1
    c = C()
    mon.observe(c, None, (LEVEL["waiting"], (LEVEL["bridged"],), 1))
    assert mon.entries == 1 and mon.clients == [c]
    assert mon.level[LEVEL["waiting"]] == 1 and mon.level[LEVEL["bridged"]] == 1 and mon.group_level[LEVEL["bridged"]] == [0, 1]
    env.now = 5.0
    mon.observe(c, (LEVEL["waiting"], (LEVEL["bridged"],), 1), (LEVEL["waiting"], (), 1))  # gauge only: no log row
    mon.observe(c, (LEVEL["waiting"], (), 1), (LEVEL["in_care"], (), 0))
    assert mon.level[LEVEL["waiting"]] == 0 and mon.level[LEVEL["bridged"]] == 0 and mon.level[LEVEL["in_care"]] == 1
    assert mon.group_level[LEVEL["in_care"]] == [1, 0] and mon.group_level[LEVEL["waiting"]] == [0, 0]
    assert mon.entries == 1
    log = mon.event_log()
    assert log["day"].tolist() == [0.0, 5.0] and log["state"].tolist() == ["waiting", "in_care"]
    assert log["client"].tolist() == [7, 7] and log["municipality"].tolist() == [1, 1]
    assert Monitor(cal, env).event_log() is None
    empty = Monitor(cal, env, log_events=True).event_log()
    assert all(len(v) == 0 for v in empty.values())


def test_monitor_moves_everything_a_client_holds_to_any_new_group():
    """The model only ever moves a waiting client to a lower group (the existing cohort), but
    the monitor's contract is general: a client in any state moves, with its gauges, to any
    group, up or down."""
    cal = Calendar(dt.date(2020, 1, 1), dt.date(2020, 4, 1))
    env = _Env()
    mon = Monitor(cal, env, groups=3)

    class C:
        id, municipality = 1, 0
    c = C()
    mon.observe(c, None, (LEVEL["in_care"], (LEVEL["outside_contract"],), 0))
    env.now = 5.0
    mon.observe(c, (LEVEL["in_care"], (LEVEL["outside_contract"],), 0), (LEVEL["ready_to_leave"], (LEVEL["outside_contract"],), 2))
    assert mon.group_level[LEVEL["in_care"]] == [0, 0, 0] and mon.group_level[LEVEL["ready_to_leave"]] == [0, 0, 1]
    assert mon.group_level[LEVEL["outside_contract"]] == [0, 0, 1] and mon.level[LEVEL["outside_contract"]] == 1
    env.now = 8.0
    mon.observe(c, (LEVEL["ready_to_leave"], (LEVEL["outside_contract"],), 2), (LEVEL["ready_to_leave"], (), 1))
    assert mon.group_level[LEVEL["ready_to_leave"]] == [0, 1, 0] and mon.group_level[LEVEL["outside_contract"]] == [0, 0, 0]
    env.now = 10.0
    mon.snapshot(1, np.array([]))
    assert mon.snap_group_area[1, LEVEL["in_care"]].tolist() == [5.0, 0.0, 0.0]
    assert mon.snap_group_area[1, LEVEL["ready_to_leave"]].tolist() == [0.0, 2.0, 3.0]
    assert mon.snap_group_area[1, LEVEL["outside_contract"]].tolist() == [5.0, 0.0, 3.0]
    assert mon.snap_area[1, LEVEL["ready_to_leave"]] == 5.0 and mon.snap_levels[1, LEVEL["ready_to_leave"]] == 1


def test_monitor_journeys_and_records():
    cal = Calendar(dt.date(2020, 1, 1), dt.date(2020, 4, 1))
    env = _Env()
    mon = Monitor(cal, env, groups=1)

    class C:
        listed, profile = 3.0, 2
    env.now = 8.0
    mon.left_waitlist(C(), JOURNEY_WITHDRAWN)
    j = mon.journeys()
    assert j["joined"].tolist() == [3.0] and j["left"].tolist() == [8.0]
    assert j["how"].tolist() == [JOURNEY_WITHDRAWN] and j["profile"].tolist() == [2]
    rec = Monitor(cal, env).client_records(3)
    assert all(len(v) == 0 for v in rec.values())


# ------------------------------------------------------------------ pools and places


def test_waitlist_priority_fifo_discard_and_full():
    class C:
        def __init__(self, priority, listed):
            self.priority, self.listed, self.on_list = priority, listed, False
    wl = Waitlist("w", max_length=3)
    a, b, c, d = C(1, 0.0), C(0, 5.0), C(1, 1.0), C(1, 0.0)
    for x in (a, b, c):
        wl.push(x)
    assert wl.full() and wl.size == 3 and a.on_list
    assert wl.waiting() and set(wl.waiting()) == {a, b, c}
    assert sorted(wl.joined_times().tolist()) == [0.0, 1.0, 5.0]
    wl.discard(a)
    assert not a.on_list and wl.size == 2 and not wl.full()
    assert sorted(wl.joined_times().tolist()) == [1.0, 5.0] and set(wl.waiting()) == {b, c}
    wl.push(d)
    assert wl.pop() is b and not b.on_list and wl.size == 2
    assert wl.pop() is d  # same priority and time as the discarded a, which is skipped
    assert wl.pop() is c and wl.pop() is None and wl.size == 0
    assert not Waitlist("x").full()
    wl0 = Waitlist("zero", max_length=0)
    assert wl0.full()


def test_provider_joins_its_list():
    wl = Waitlist("w")
    p, q = Provider("p", 3, wl, True), Provider("q", 0, wl, False)
    assert wl.providers == [p, q] and p.occupied == 0 and p.capacity == 3 and p.bridging and not q.bridging


def test_slot_pool_gives_queues_and_skips_those_who_no_longer_want_it():
    pool = SlotPool(2)
    started = []

    def start(x):
        started.append(x)
        return x != "gone"
    assert pool.try_acquire() and pool.busy == 1
    assert pool.request("a", start) and started == ["a"] and pool.busy == 2
    assert not pool.try_acquire() and pool.busy == 2
    assert not pool.request("gone", start) and not pool.request("b", start) and started == ["a"]
    pool.release()
    assert started == ["a", "gone", "b"] and pool.busy == 2
    pool.release()
    pool.release()
    assert pool.busy == 0
    free = SlotPool(None)
    assert all(free.try_acquire() for _ in range(1000)) and free.busy == 1000
    assert not SlotPool(0).try_acquire()


def test_contingent_stock_queue_cancel_and_carry_over():
    import simpy
    env = simpy.Environment()
    pool = Contingent(env, carry_over=True)
    assert pool.release(2) == 0 and pool.stock == 2
    e1 = pool.request("a")
    assert e1.triggered and pool.stock == 1
    pool.request("b")
    e3, e4 = pool.request("c"), pool.request("d")
    assert pool.stock == 0 and not e3.triggered
    pool.cancel(e3)
    pool.cancel(e1)  # already given: stays given
    assert pool.release(3) == 1 and e4.triggered and not e3.triggered and pool.stock == 2
    lost = Contingent(env, carry_over=False)
    e = lost.request("x")
    assert lost.release(3) == 1 and e.triggered and lost.stock == 0
    assert lost.release(0) == 0


def test_divide_places():
    assert divide_places(10, []) == []
    assert divide_places(7, [0, 0, 0]) == [3, 2, 2]
    assert divide_places(10, [1, 1, 2]) == [3, 2, 5]  # 2.5, 2.5, 5: the first remainder first
    assert divide_places(5, [6, 3, 1]) == [3, 2, 0]
    assert divide_places(0, [4, 4]) == [0, 0]
    assert divide_places(9, [4, 4, 4], "largest_first") == [3, 3, 3]
    assert divide_places(13, [4, 4, 4], "largest_first") == [5, 4, 4]
    assert divide_places(2, [1, 5], "largest_first") == [1, 1]
    for total in range(0, 30):
        for rule in ("proportional", "largest_first"):
            out = divide_places(total, [7, 2, 5, 1], rule)
            assert sum(out) == total and min(out) >= 0
    rng = np.random.default_rng(0)
    for _ in range(200):
        cur = rng.integers(0, 20, 4).tolist()
        total = int(rng.integers(0, 60))
        out = divide_places(total, cur)
        w = np.asarray(cur, float) if sum(cur) else np.ones(4)
        exact = total * w / w.sum()
        assert sum(out) == total and np.all(np.abs(np.asarray(out) - exact) < 1)


# ------------------------------------------------------------------ fates


def test_choose_inverts_the_cdf():
    class R:
        def __init__(self, u):
            self.u = np.asarray(u, float)

        def random(self, n):
            return self.u
    assert choose(R([0.0, 0.29, 0.3, 0.99, 0.999999]), [0.3, 0.7], 5).tolist() == [0, 0, 1, 1, 1]
    assert choose(R([0.0, 0.5, 0.9999]), [0.0, 1.0, 0.0], 3).tolist() == [1, 1, 1]
    assert choose(R([0.95, 0.9999999]), [0.5, 0.4], 2).tolist() == [1, 1]  # shares short of 1: the last takes the rest
    assert choose(R([0.2, 0.6]), [1.0], 2).tolist() == [0, 0]


def test_fates_depend_only_on_who_the_client_is():
    sc = rich()
    a, b = FateBook(sc, Streams(3, 0)), FateBook(sc, Streams(3, 0))
    late = b.fate("", BLOCK + 5)
    first = [a.fate("", i) for i in range(BLOCK + 6)]
    assert late == first[BLOCK + 5] and b.fate("", 0) == first[0]
    assert a.fate("resident.", 0) != first[0]
    assert FateBook(sc, Streams(3, 1)).fate("", 0) != first[0]
    assert len({f.stay for f in first}) == len(first)
    # a longer stay for one profile changes stays only
    longer = rich(profiles={"regular": {"stay": {"dist": "exponential", "mean": 2.4, "unit": "years"}}})
    other = [FateBook(longer, Streams(3, 0)).fate("", i) for i in range(50)]
    regular = list(sc.profiles).index("regular")
    for f, g in zip(first, other):
        assert (f.profile, f.municipality, f.provider, f.destination, f.contingent, f.withdraw_clock) == \
               (g.profile, g.municipality, g.provider, g.destination, g.contingent, g.withdraw_clock)
        assert g.stay == pytest.approx(2 * f.stay) if f.profile == regular else g.stay == f.stay


def test_fate_draws_follow_their_laws():
    """4 blocks (1024 clients): each share and mean within 4.5 standard errors (each false
    failure below 7e-6; 12 checks, below 1e-4 together)."""
    sc = rich()
    book = FateBook(sc, Streams(17, 0))
    fates = [book.fate("", i) for i in range(4 * BLOCK)]
    n = len(fates)

    def share(p, x):
        assert abs(np.mean(x) - p) < 4.5 * math.sqrt(p * (1 - p) / n) + 1e-12

    def mean(m, sd, x):
        assert abs(np.mean(x) - m) < 4.5 * sd / math.sqrt(n)
    share(0.3, [f.profile == 1 for f in fates])
    share(0.4, [f.municipality == 1 for f in fates])
    assert {f.provider for f in fates} == {0, 1}
    share(0.4, [f.provider == 1 for f in fates])
    share(0.25, [f.destination == 1 for f in fates])
    share(0.15, [f.destination == 2 for f in fates])
    share(0.5, [f.contingent for f in fates])
    share(0.4, [f.relapses for f in fates])
    mean(1.0, 1.0, [f.withdraw_clock for f in fates])
    mean(YEAR / 0.3, YEAR / 0.3, [f.early for f in fates])
    mean(YEAR / 4, YEAR / 4, [f.other_route for f in fates])
    mean(YEAR / 2, YEAR / 2, [f.ambulant for f in fates])
    mean(YEAR / 2, YEAR / 2, [f.relapse_delay for f in fates])
    regular = [f.stay for f in fates if f.profile == 0]
    assert abs(np.mean(regular) - 1.2 * YEAR) < 4.5 * 1.2 * YEAR / math.sqrt(len(regular))
    assert all(f.thuis_duration == 0.5 * YEAR for f in fates)
    u = np.array([f.thuis_offer for f in fates])
    assert np.all((u >= 0) & (u < 1)) and abs(u.mean() - 0.5) < 4.5 * math.sqrt(1 / 12 / n)
    assert not np.allclose(u, [f.thuis_home for f in fates])
    none = FateBook(rich(uitstroom={"early_exit_per_year": 0}), Streams(17, 0)).fate("", 0)
    assert none.early == math.inf


def test_blockwise_values_do_not_depend_on_n():
    streams = Streams(1, 0)
    draw = lambda g, size: g.random(size)  # noqa: E731
    long = blockwise(streams, "x", 600, draw)
    assert len(long) == 600 and np.array_equal(blockwise(streams, "x", 300, draw), long[:300])
    assert len(blockwise(streams, "x", 0, draw)) == 0
    assert len(set(long.tolist())) == 600
    assert len(blockwise(streams, "x", BLOCK, draw)) == BLOCK


def test_equilibrium_residents_profiles_and_remaining_stays():
    """Profile k is found with probability ∝ share × mean stay (0.7×1.2 : 0.3×0.8 of a year,
    without early exits); the remaining stay of an exponential stay is exponential with the
    same mean. 2000 residents: each within 4.5 standard errors (false failure < 2e-5)."""
    sc = rich(uitstroom={"early_exit_per_year": 0})
    n = 2000
    profile, remaining, early = equilibrium_residents(sc, Streams(19, 0), n)
    assert len(profile) == len(remaining) == len(early) == n
    p = 0.3 * 0.8 / (0.7 * 1.2 + 0.3 * 0.8)
    assert abs(np.mean(profile == 1) - p) < 4.5 * math.sqrt(p * (1 - p) / n)
    rem = remaining[profile == 0]
    assert abs(rem.mean() - 1.2 * YEAR) < 4.5 * 1.2 * YEAR / math.sqrt(len(rem))
    assert np.all(remaining > 0) and np.all(np.isinf(early))
    # with early exits, the time already spent is shorter: a stationary resident has been in
    # for A with density ∝ P(S > a) e^{-ra}; the remaining exponential stay keeps its law
    sc = rich(uitstroom={"early_exit_per_year": 2.0})
    profile2, remaining2, early2 = equilibrium_residents(sc, Streams(19, 0), n)
    assert abs(np.mean(early2) - YEAR / 2) < 4.5 * (YEAR / 2) / math.sqrt(n)
    p2 = 0.3 * (1 / (1 / (0.8 * YEAR) + 2 / YEAR)) / (0.7 / (1 / (1.2 * YEAR) + 2 / YEAR)
                                                      + 0.3 / (1 / (0.8 * YEAR) + 2 / YEAR))
    assert abs(np.mean(profile2 == 1) - p2) < 0.05
    rem2 = remaining2[profile2 == 0]
    assert abs(rem2.mean() - 1.2 * YEAR) < 4.5 * 1.2 * YEAR / math.sqrt(len(rem2))
    again = equilibrium_residents(sc, Streams(19, 0), 300)
    assert np.array_equal(again[0], profile2[:300]) and np.array_equal(again[1], remaining2[:300])
    zero = equilibrium_residents(sc, Streams(19, 0), 0)
    assert all(len(x) == 0 for x in zero)


# ------------------------------------------------------------------ edges found by mutation testing


def test_largest_first_keeps_a_division_that_already_adds_up():
    # nothing to cut or add: the providers keep what they have, even when the order differs
    assert divide_places(3, [1, 2], "largest_first") == [1, 2]
    assert divide_places(7, [3, 1, 3], "largest_first") == [3, 1, 3]


def test_choose_takes_the_last_category_at_the_top_of_the_unit_interval():
    class R:
        def random(self, n):
            return np.array([1.0, 0.9999999999])
    assert choose(R(), [0.5, 0.5], 2).tolist() == [1, 1]
    assert choose(R(), [0.2, 0.3, 0.5], 2).tolist() == [2, 2]


def with_stays(regular: dict, urgent: dict, **override):
    data = rich_data()
    data["profiles"]["regular"]["stay"], data["profiles"]["urgent"]["stay"] = regular, urgent
    return from_mapping(deep_merge(data, override))


def test_equilibrium_profile_mix_whatever_the_unit_of_the_stays():
    """Stays of a few hours: profiles are still found ∝ share × mean stay (0.5 × 0.1 day :
    0.5 × 0.4 day, so 0.8 of residents have the long stay); 1000 residents, within 4.5
    standard errors (false failure 7e-6)."""
    sc = with_stays({"dist": "fixed", "value": 0.1, "unit": "days"}, {"dist": "fixed", "value": 0.4, "unit": "days"},
                    profiles={"regular": {"share": 0.5}, "urgent": {"share": 0.5}}, uitstroom={"early_exit_per_year": 0})
    profile, remaining, _ = equilibrium_residents(sc, Streams(23, 0), 1000)
    assert abs(np.mean(profile == 1) - 0.8) < 4.5 * math.sqrt(0.8 * 0.2 / 1000)
    assert np.all(remaining[profile == 0] <= 0.1) and np.all(remaining[profile == 1] <= 0.4)


def test_equilibrium_time_spent_is_shortened_by_early_exits():
    """A fixed stay of one year and early exits at rate 2 a year: the time already spent A has
    density ∝ e^{-2a} on [0, 1], so the remaining stay 1 - A has mean 1/2 + e^{-2}/(1 - e^{-2})
    = 0.6565 years (0.5 without early exits). 2000 residents: within 4.5 standard errors
    (sd < 0.3 year; false failure 7e-6)."""
    fixed = {"dist": "fixed", "value": 1.0, "unit": "years"}
    sc = with_stays(fixed, fixed, uitstroom={"early_exit_per_year": 2.0})
    _, remaining, early = equilibrium_residents(sc, Streams(29, 0), 2000)
    expected = 0.5 + math.exp(-2) / (1 - math.exp(-2))
    assert abs(remaining.mean() / YEAR - expected) < 4.5 * 0.3 / math.sqrt(2000)
    assert np.all((remaining > 0) & (remaining <= YEAR))
    assert abs(early.mean() / YEAR - 0.5) < 4.5 * 0.5 / math.sqrt(2000)


def test_ready_to_leave_leave_early_at_their_own_moment():
    """Residents ready to leave on the start date, no homes ever, early exits at 100 a year
    (mean 3.65 days): each leaves exactly when its early-exit clock runs out, also within its
    first day."""
    sc = quiet(initial={"residents": 40, "ready_to_leave": 40},
               uitstroom={"early_exit_per_year": 100,
                          "housing": {"contingent_share": 1.0, "contingent": {"units_per_year": 0}}})
    w = World(sc, 31, 0, Monitor)
    w.run()
    cs = [c for c in w.monitor.clients if c.family == "resident."]
    assert all(c.outcome == "early" for c in cs)
    assert np.allclose([c.exited for c in cs], [c.early for c in cs])
    assert min(c.early for c in cs) < 1.0
    assert w.monitor.level[LEVEL["contingent_waiting"]] == 0 and w.contingent.stock == 0


def test_client_records_default_to_replication_0():
    w = run_rich(5)
    rec = w.monitor.client_records()
    assert np.all(rec["replication"] == 0) and all(str(x).startswith("0/") for x in rec["client"])
    rec = w.monitor.client_records(4)
    assert np.all(rec["replication"] == 4) and all(str(x).startswith("4/") for x in rec["client"])


def test_a_start_list_longer_than_the_limits_turns_every_newcomer_away():
    """40 on the start date's lists (beyond the maximum length of 5 per list and the intake
    stop of 30), no places, nobody leaves the list: every arrival is turned away."""
    for waitlist in ({"max_length": 5}, {"intake_stop": 30}):
        sc = quiet(inflow={"per_year": 30}, initial={"waiting": 40, "residents": 0},
                   providers={"P1": {"places": 0}, "P2": {"places": 0, "schedule": []}, "P3": {"places": 0}},
                   waitlist={"withdrawal_per_year": 0, **waitlist}, beschermd_thuis={"share": 0})
        w = World(sc, 12, 0, Monitor)
        w.run()
        mon = w.monitor
        assert w.waiting_total() == 40
        assert mon.flows[FLOW["arrivals"]].sum() > 50
        assert mon.flows[FLOW["turned_away"]].sum() == mon.flows[FLOW["arrivals"]].sum(), waitlist


def test_fast_withdrawals_happen_exactly_when_the_clock_runs_out():
    """Withdrawal at 100 a year (a mean of 3.65 days on the list), no places: every client
    whose clock runs out before the end withdraws exactly then, the others are still waiting."""
    sc = quiet(inflow={"per_year": 100}, providers={"P1": {"places": 0, "bridging": False},
               "P2": {"places": 0, "schedule": []}, "P3": {"places": 0}},
               waitlist={"withdrawal_per_year": 100}, beschermd_thuis={"share": 0})
    w = World(sc, 33, 0, Monitor)
    w.run()
    rate = 100 / 365.25
    cs = [c for c in w.monitor.clients if c.start_stage == "arrival"]
    assert len(cs) > 300
    for c in cs:
        due = c.listed + c.withdraw_clock / rate
        if due < w.calendar.horizon:
            assert c.outcome == "withdrawn" and c.exited == pytest.approx(due)
        else:
            assert c.state == LEVEL["waiting"]


def test_attribution_groups_with_three_municipalities():
    w = run_rich(7, 0, inflow={"municipalities": {"A": 0.4, "B": 0.3, "C": 0.3}})
    assert w.problems == []
    cohort = w.calendar.day(dt.date(2021, 1, 1))
    relapsed = [c for c in w.monitor.clients if c.family.startswith("relapse.") and c.municipality > 0]
    assert relapsed
    for c in w.monitor.clients:
        placed = c.placed if not math.isnan(c.placed) else (entry_time(c) if c.start_stage in ("in_care", "ready_to_leave") else math.inf)
        assert c.group == (c.municipality if placed < cohort else 3 + c.municipality), c.id
    assert np.array_equal(w.monitor.group_flows.sum(2), w.monitor.flows)


def test_extra_contingent_units_from_the_start_without_a_date():
    sc = quiet(uitstroom={"housing": {"contingent": {"release": "monthly", "carry_over": True,
                                                     "units_per_year": 0, "bw_share": 0.5,
                                                     "extra_per_year": 12, "extra_from": None}}},
               start="2020-01-01", end="2020-03-01", providers={"P2": {"schedule": []}}, beschermd_thuis={"start": None},
               attribution={"cohort_date": None}, waitlist={"review": {"start": None, "end": None}})
    w = World(sc, 1, 0, Monitor)
    w.run()
    assert w.contingent.stock == 2  # one on 1 January, one on 1 February


def test_a_monitor_without_groups_has_one():
    cal = Calendar(dt.date(2020, 1, 1), dt.date(2020, 4, 1))
    mon = Monitor(cal, _Env())

    class C:
        group = 0
        place = None
    mon.count(FLOW["arrivals"], C())
    assert mon.group_flows[FLOW["arrivals"], 0].tolist() == [1] and mon.group_flows.shape[2] == 1
    mon.change(LEVEL["waiting"], 1, 0)
    assert mon.group_level[LEVEL["waiting"]] == [1]


def test_equilibrium_with_stays_of_no_length_uses_the_shares():
    zero = {"dist": "fixed", "value": 0.0, "unit": "days"}
    sc = with_stays(zero, zero, uitstroom={"early_exit_per_year": 0})
    profile, remaining, _ = equilibrium_residents(sc, Streams(37, 0), 1000)
    # 0.3 urgent, within 4.5 standard errors (false failure 7e-6)
    assert abs(np.mean(profile == 1) - 0.3) < 4.5 * math.sqrt(0.3 * 0.7 / 1000)
    assert np.all(remaining == 0)
