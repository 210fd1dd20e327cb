"""Property: whatever scenario the schema accepts runs to the end with its invariants intact.

Hypothesis varies a small region (one or two profiles, providers and municipalities; one to
three years): sizes, rates, durations of every law and unit, shares, dates inside, on the edges of
and outside the run, and each policy on or off, now and then with a value out of its domain. Each
mapping is either refused by :func:`sim.config.scenario.from_mapping` with a ``ScenarioError`` (and
nothing else), or runs one replication without raising, and then:

* no stock, flow, care-day or cost in the monthly, yearly or municipal records is negative, and
  no level of the monitor ever is;
* conservation: on every record date the clients in each state add up to the clients entered so
  far, and at the end each client's own state matches the level of that state;
* occupied ≤ places + outside contract on every record date, unless the region starts over-full
  or a provider's places are ever cut (then residents legitimately stay above the places);
* each client's ``days_<state>`` add up to its time in the system;
* the housing stock (when drawn): units let ≥ 0 and ≤ the units (unless they are ever cut), and
  the units let on every date = the start's tenancies + tenants housed − tenants who left.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from sim.config.scenario import ScenarioError, from_mapping
from sim.experiment.replication import run_replication
from sim.model.states import FLOW, LEVEL, STATES
from sim.record.metrics import MONTHLY_ROW

START = dt.date(2015, 1, 1)
UNITS = ("days", "months", "years")


def _years(draw) -> int:
    return draw(st.integers(1, 3))


@st.composite
def durations(draw, longest_years: float = 4.0) -> dict:
    """A duration of any law and unit, with parameters scaled to at most a few years."""
    unit = draw(st.sampled_from(UNITS))
    per_year = {"days": 365.25, "months": 12.0, "years": 1.0}[unit]
    top = longest_years * per_year
    positive = st.floats(0.01 * per_year / 12, top, allow_nan=False)
    law = draw(st.sampled_from(("exponential", "lognormal", "gamma", "weibull", "uniform", "fixed", "empirical")))
    if law == "exponential":
        spec = {"mean": draw(positive)}
    elif law in ("lognormal", "gamma"):
        spec = {"mean": draw(positive), "sd": draw(positive)}
    elif law == "weibull":
        spec = {"shape": draw(st.floats(0.3, 5)), "scale": draw(positive)}
    elif law == "uniform":
        low, high = sorted(draw(st.lists(st.floats(0, top), min_size=2, max_size=2)))
        spec = {"low": low, "high": high}
    elif law == "fixed":
        spec = {"value": draw(st.one_of(st.just(0.0), st.floats(0, top)))}
    else:
        values = draw(st.lists(st.floats(0, top), min_size=1, max_size=4))
        spec = {"values": values}
        if draw(st.booleans()):
            spec["weights"] = draw(st.lists(st.floats(0.1, 5), min_size=len(values), max_size=len(values)))
    return {"dist": law, **spec, "unit": unit}


def _shares(draw, names: list[str]) -> dict[str, float]:
    """Shares over ``names`` that sum to 1 (the last takes the rest)."""
    weights = [draw(st.integers(0, 10)) for _ in names]
    if sum(weights) == 0:
        weights[0] = 1
    total = sum(weights)
    shares = [w / total for w in weights]
    shares[-1] = 1.0 - sum(shares[:-1])
    return dict(zip(names, shares))


@st.composite
def dates(draw, start: dt.date, end: dt.date) -> dt.date:
    """Mostly a date inside the run; now and then on its edges or up to a year outside it."""
    where = draw(st.integers(0, 9))
    if where == 9:
        return draw(st.dates(start - dt.timedelta(days=366), end + dt.timedelta(days=366)))
    if where == 8:
        return draw(st.sampled_from([start, end]))
    return draw(st.dates(start, end))


@st.composite
def scenarios(draw) -> dict:
    years = _years(draw)
    start = START
    end = dt.date(START.year + years, 1, 1)
    when = dates(start, end)
    names = ["regular", "urgent"][: draw(st.integers(1, 2))]
    profiles = {name: {"share": share, "priority": draw(st.integers(0, 2)), "stay": draw(durations())}
                for name, share in _shares(draw, names).items()}
    providers = {}
    provider_names = ["P", "Q"][: draw(st.integers(1, 2))]
    path = draw(st.integers(0, 3)) == 3  # a capacity path instead of schedules
    for name, share in _shares(draw, provider_names).items():
        spec = {"places": draw(st.integers(0, 30)), "inflow_share": share, "bridging": draw(st.booleans())}
        if not path and draw(st.booleans()):
            spec["schedule"] = sorted(({"date": draw(when), "places": draw(st.integers(0, 40))}
                                       for _ in range(draw(st.integers(1, 2)))), key=lambda c: c["date"])
        providers[name] = spec
    if len(providers) == 2 and draw(st.booleans()):
        providers["Q"]["waitlist_of"] = "P"
    per_year = draw(st.floats(0, 60))
    if draw(st.integers(0, 3)) == 3:  # year by year, from the start year (or before)
        per_year = {draw(st.integers(START.year - 1, START.year)): per_year,
                    **draw(st.dictionaries(st.integers(START.year, end.year), st.floats(0, 60), max_size=2))}
    data = {
        "name": "property",
        "start": start,
        "end": end,
        "profiles": profiles,
        "inflow": {"per_year": per_year, "municipalities": _shares(draw, ["A", "B"][: draw(st.integers(1, 2))])},
        "waitlist": {
            "policy": draw(st.sampled_from(("per_provider", "central"))),
            "withdrawal_per_year": draw(st.floats(0, 2)),
            "max_length": draw(st.one_of(st.none(), st.integers(0, 30))),
            "intake_stop": draw(st.one_of(st.none(), st.integers(0, 30))),
        },
        "providers": providers,
        "bridging": {"places": draw(st.one_of(st.none(), st.integers(0, 5))), "for_everyone": draw(st.booleans()),
                     "withdrawal_factor": draw(st.floats(0, 2)), "stay_factor": draw(st.floats(0.1, 2))},
        "uitstroom": {
            "early_exit_per_year": draw(st.floats(0, 0.5)),
            "destinations": _shares(draw, ["independent", "intramural", "died_or_moved"]),
            "housing": {
                "contingent_share": draw(st.floats(0, 1)),
                "contingent": {"units_per_year": draw(st.floats(0, 20)), "bw_share": draw(st.floats(0, 1)),
                               "release": draw(st.sampled_from(("monthly", "quarterly", "poisson"))),
                               "carry_over": draw(st.booleans())},
                "other_route_delay": draw(durations(1.0)),
            },
        },
        "ambulant": {"places": draw(st.one_of(st.none(), st.integers(0, 10))), "duration": draw(durations(2.0))},
        "relapse": {"probability": draw(st.floats(0, 0.5)), "delay": draw(durations(1.0))},
        "initial": {"ready_to_leave": draw(st.integers(0, 5)), "waiting": draw(st.integers(0, 15)),
                    "waited": draw(durations(2.0))},
        "costs": {"place_day": draw(st.floats(0, 300)), "outside_contract_day": draw(st.floats(0, 500))},
    }
    places = sum(p["places"] for p in providers.values())
    if draw(st.booleans()):  # else every place occupied
        residents = draw(st.integers(0, places + draw(st.sampled_from((0, 0, 0, 5)))))  # now and then over-full
        data["initial"]["residents"] = residents
        data["initial"]["ready_to_leave"] = min(data["initial"]["ready_to_leave"], residents)
    else:
        data["initial"]["ready_to_leave"] = min(data["initial"]["ready_to_leave"], places)
    if draw(st.booleans()):
        review_start = draw(when)
        data["waitlist"]["review"] = {"per_year": draw(st.floats(0, 30)), "removal_share": draw(st.floats(0, 1)),
                                      "start": review_start,
                                      "end": draw(st.one_of(st.none(), dates(min(review_start, end), end)))}
    if draw(st.booleans()) and not isinstance(per_year, dict):
        data["inflow"]["growth_per_year"] = draw(st.floats(-0.5, 0.5))
    if draw(st.booleans()):
        data["uitstroom"]["housing"]["contingent"] |= {"extra_per_year": draw(st.floats(0, 10)),
                                                       "extra_from": draw(when)}
    if draw(st.booleans()):
        data["beschermd_thuis"] = {"share": draw(st.floats(0, 1)), "start": draw(when),
                                   "home_probability": draw(st.floats(0, 1)),
                                   "places": draw(st.one_of(st.none(), st.integers(0, 5))),
                                   "duration": draw(durations(2.0))}
    if draw(st.booleans()):
        data["outside_contract"] = {"per_year": draw(st.integers(0, 5)),
                                    "profiles": draw(st.lists(st.sampled_from(names), max_size=2))}
    if draw(st.booleans()):
        data["above_contract"] = {"share": draw(st.floats(0, 1)),
                                  "profiles": draw(st.lists(st.sampled_from(names), max_size=2))}
        data["costs"]["above_contract_day"] = draw(st.floats(0, 500))
    if draw(st.booleans()):
        data["conversions"] = [{"date": draw(when), "provider": draw(st.sampled_from(provider_names)),
                                "places": draw(st.integers(0, 5))}]
    if path:
        changes = sorted({draw(when): draw(st.integers(0, 50)) for _ in range(draw(st.integers(1, 2)))}.items())
        data["capacity_path"] = {"changes": [{"date": d, "places": n} for d, n in changes],
                                 "shrink": draw(st.sampled_from(("proportional", "largest_first"))),
                                 "ramp": draw(st.sampled_from(("step", "linear")))}
    if draw(st.booleans()):
        units = draw(st.integers(0, 15))
        data["uitstroom"]["housing"]["stock"] = {
            "units": units, "tenancy": draw(durations(3.0)), "share": draw(st.floats(0, 1)),
            "relapse": draw(st.floats(0, 1)),
            "initial_occupied": draw(st.one_of(st.none(), st.integers(0, units))),
            "schedule": sorted(({"date": d, "units": draw(st.integers(0, 20))}
                                for d in {draw(when) for _ in range(draw(st.integers(0, 2)))}),
                               key=lambda c: c["date"])}
    if draw(st.booleans()):
        data["attribution"] = {"cohort_date": draw(when)}
    if draw(st.integers(0, 9)) == 9:  # now and then a value out of its domain
        _spoil(draw, data)
    return data


def _spoil(draw, data: dict) -> None:
    """Put one value out of its domain (negative, NaN, infinite, a share above 1)."""
    bad = draw(st.sampled_from((-1.0, math.nan, math.inf, 1.5)))
    block, key = draw(st.sampled_from((("waitlist", "withdrawal_per_year"), ("inflow", "per_year"),
                                       ("relapse", "probability"), ("uitstroom", "early_exit_per_year"),
                                       ("bridging", "stay_factor"))))
    data[block][key] = bad


def _places_never_cut(sc) -> bool:
    """No provider's places ever go down: no capacity path divides them, and no schedule entry sets
    fewer than the provider has by then (a conversion adds places; on the same date it is counted
    first, so that a tie counts as a cut)."""
    if sc.capacity_path is not None:
        return False
    for name, provider in sc.providers.items():
        events = sorted([(c.date, 0, c.places) for c in sc.conversions if c.provider == name]
                        + [(c.date, 1, c.places) for c in provider.schedule])
        places = provider.places
        for _, kind, number in events:
            if kind == 1 and number < places:
                return False
            places = places + number if kind == 0 else number
    return True


def check_invariants(sc, rep) -> None:
    mon, rec = rep.monitor, rep.clients
    for name, array in (("monthly", rep.monthly), ("yearly", rep.yearly), ("municipal", rep.municipal)):
        assert not np.any(array[~np.isnan(array)] < -1e-9), f"a negative number in the {name} record"
    assert (mon.snap_levels >= 0).all(), "a negative level"
    # conservation: every client entered is in exactly one state on every record date
    states = [LEVEL[s] for s in STATES]
    in_states = mon.snap_levels[:, states].sum(axis=1)
    assert np.array_equal(in_states, mon.snap_entries), "clients in states differ from the clients entered"
    assert len(rec["client"]) == mon.entries
    for state in STATES:
        assert (rec["state_at_end"] == state).sum() == mon.snap_levels[-1, LEVEL[state]], state
    # occupied within the places (and those bought outside contract)
    occupied = rep.monthly[MONTHLY_ROW["occupied"]]
    room = (rep.monthly[MONTHLY_ROW["places"]] + rep.monthly[MONTHLY_ROW["outside_contract"]]
            + rep.monthly[MONTHLY_ROW["above_contract"]])
    if sc.initial_residents <= sc.places_at_start() and _places_never_cut(sc):
        assert (occupied <= room).all(), "more residents than places and outside-contract placements"
    check_stock(sc, rep)
    # each client's days over its states add up to its time in the system
    horizon = mon.calendar.horizon
    days = np.column_stack([rec[f"days_{s}"] for s in STATES])
    entered = np.maximum(rec["arrived"], 0.0)
    assert np.allclose(days.sum(axis=1), horizon - entered, atol=1e-6), "a client's days do not add up"


def check_stock(sc, rep) -> None:
    """The housing stock: units let never negative nor (unless units are ever cut) above the units;
    every tenancy ends once: on every date the units let are those let on the start date plus
    those let since, less the tenants who left; each tenant relapsing has left."""
    mon = rep.monitor
    occupied, units = mon.snap_levels[:, LEVEL["stock_occupied"]], mon.snap_levels[:, LEVEL["stock_units"]]
    waiting = mon.snap_levels[:, LEVEL["stock_waiting"]]
    spec = sc.uitstroom.housing.stock
    if spec is None:
        assert not occupied.any() and not units.any() and not waiting.any()
        return
    assert (occupied >= 0).all() and (waiting >= 0).all()
    if all(c.units >= spec.units for c in spec.schedule) and list(units) == sorted(units):
        assert (occupied <= units).all(), "more units let than there are"
    housed = np.concatenate([[0], np.cumsum(mon.flows[FLOW["stock_housed"]])])
    left = np.concatenate([[0], np.cumsum(mon.flows[FLOW["stock_left"]])])
    # the start date's record also holds the units offered to residents ready to leave on it: they move
    # in at once (counted in the first month's stock_housed), or, when a contingentwoning comes the same
    # day, take that instead (its own route wins a tie) and the unit is free again
    initial = spec.units if spec.initial_occupied is None else spec.initial_occupied
    assert np.array_equal(occupied[1:], initial + housed[1:] - left[1:]), "a tenancy not ended exactly once"
    assert initial <= occupied[0] <= initial + sc.initial.ready_to_leave
    assert mon.flows[FLOW["stock_relapses"]].sum() <= mon.flows[FLOW["stock_left"]].sum()


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=scenarios(), seed=st.integers(0, 2**16))
def test_an_accepted_scenario_runs_with_its_invariants(data, seed):
    try:
        sc = from_mapping(data, "property")
    except ScenarioError:
        return
    note(f"scenario: {sc.model_dump(mode='json')}")
    rep = run_replication(sc, seed, 0, keep_clients=True, keep_monitor=True)
    check_invariants(sc, rep)


def test_most_generated_scenarios_are_accepted():
    """The property is not vacuous: most generated scenarios pass the schema and are run."""
    accepted = []

    @settings(max_examples=60, deadline=None, database=None, derandomize=True)
    @given(scenarios())
    def draw(data):
        try:
            from_mapping(data, "property")
            accepted.append(True)
        except ScenarioError:
            accepted.append(False)

    draw()
    assert sum(accepted) >= 0.5 * len(accepted), f"{sum(accepted)} of {len(accepted)} accepted"
