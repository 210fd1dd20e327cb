"""Behaviour of the full model on the Haarlem baseline: extremes, monotonicity under
common random numbers, conservation, Little's law, reproducibility."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from sim.config import scenario as sc_mod
from sim.experiment.replications import run_replications
from sim.model.states import FLOW, JOURNEY_PLACED, LEVEL, STATES
from sim.experiment.replication import run_replication
from sim.record.metrics import MONTHLY_ROW, YEARLY_ROW

from tests.queueing import queue_scenario, t_interval

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "haarlem" / "baseline.yaml"
REPS = 12


def baseline(*overrides: str):
    return sc_mod.load(BASELINE, overrides)


def yearly(results, metric):
    return results.yearly[:, YEARLY_ROW[metric], :]


def test_no_places_means_nobody_placed():
    sc = baseline(*(f"providers.{name}.places=0" for name in baseline().providers),
                  "providers.PGB providers.schedule=[]", "initial.residents=0", "initial.ready_to_leave=0")
    res = run_replications(sc, 4, seed=3, workers=1)
    assert yearly(res, "admissions").sum() == 0
    assert yearly(res, "occupied").sum() == 0
    # the list only grows by arrivals and shrinks by withdrawals
    waitlist = yearly(res, "waitlist")[:, -1]
    expected = (sc.initial.waiting + yearly(res, "arrivals").sum(1) - yearly(res, "withdrawals").sum(1)
                - yearly(res, "turned_away").sum(1))
    assert np.array_equal(waitlist, expected)


def test_unlimited_places_means_nobody_waits():
    sc = baseline(*(f"providers.{name}.places=100000" for name in baseline().providers),
                  "providers.PGB providers.schedule=[]")
    for rep in range(3):
        r = run_replication(sc, 5, rep, keep_journeys=True)
        placed = r.journeys["how"] == JOURNEY_PLACED
        waits = (r.journeys["left"] - r.journeys["joined"])[placed & (r.journeys["joined"] >= 0)]
        assert waits.size > 500 and np.all(waits == 0)
        assert np.all(r.monthly[0, 1:] == 0)  # waitlist empty after the start
        assert r.yearly[YEARLY_ROW["withdrawals"]].sum() == 0


def test_more_places_shorter_waits_under_crn():
    extra = [0, 20, 60]
    waits = []
    for k in extra:
        res = run_replications(baseline(f"providers.RIBW K/AM.places={330 + k}"), REPS, seed=11, workers=1)
        waits.append(np.nanmean(yearly(res, "wait_placed_mean")[:, 2:], axis=1))  # 2017-2022
    means = [w.mean() for w in waits]
    assert means[0] > means[1] > means[2], means
    # paired differences (common random numbers) are significant
    for a, b in ((0, 1), (1, 2)):
        m, lo, hi = t_interval(waits[a] - waits[b], 0.01)
        assert lo > 0, f"{extra[a]} vs {extra[b]} places: difference {m:.2f} [{lo:.2f}, {hi:.2f}]"


def test_larger_contingent_fewer_blocked_places():
    base = run_replications(baseline(), REPS, seed=13, workers=1)
    more = run_replications(baseline("uitstroom.housing.contingent.units_per_year=124"), REPS, seed=13, workers=1)
    blocked_base = yearly(base, "blocked_place_days").sum(1)
    blocked_more = yearly(more, "blocked_place_days").sum(1)
    m, lo, hi = t_interval(blocked_base - blocked_more, 0.01)
    assert lo > 0, f"place-days saved {m:.0f} [{lo:.0f}, {hi:.0f}]"
    assert yearly(more, "ready_to_leave")[:, -1].mean() < yearly(base, "ready_to_leave")[:, -1].mean()


def test_conservation_every_client_in_exactly_one_state():
    sc = baseline("relapse.probability=0.5",  # exercise every state and lever
                  "waitlist.review={per_year: 40, removal_share: 0.5}",
                  "beschermd_thuis={share: 0.3, home_probability: 0.7, places: 30}",
                  "outside_contract={per_year: 5}",
                  "conversions=[{date: 2016-06-01, provider: SIG, places: 4}]")
    for rep in range(3):
        mon = run_replication(sc, 17, rep, keep_monitor=True).monitor
        states = mon.snap_levels[:, [LEVEL[s] for s in STATES]]
        assert np.all(states >= 0)
        assert np.array_equal(states.sum(1), mon.snap_entries)
        assert mon.snap_entries[-1] == mon.entries > sc.initial_residents + sc.initial.waiting
        # entries = initial stock + arrivals; every ended client is counted by its exit flow
        flows = {name: mon.flows[FLOW[name]].sum() for name in FLOW}
        assert mon.entries == sc.initial_residents + sc.initial.waiting + flows["arrivals"] + flows["conversions"]
        for state, flow in (("withdrawn", "withdrawals"), ("turned_away", "turned_away"),
                            ("removed_by_review", "review_removals"),
                            ("exit_intramural", "exits_intramural"), ("exit_died_or_moved", "exits_died_or_moved"),
                            ("exit_early", "exits_early"), ("relapsed", "relapses")):
            assert mon.level[LEVEL[state]] == flows[flow], state
        at_home = sum(mon.level[LEVEL[s]] for s in ("ambulant_waiting", "ambulant", "at_home", "relapsed",
                                                 "beschermd_thuis"))
        assert at_home == flows["exits_independent"] + flows["beschermd_thuis_starts"]
        for state in ("relapsed", "removed_by_review", "beschermd_thuis", "outside_contract"):
            assert mon.level[LEVEL[state]] > 0, state
        # contracted places occupied never exceed the places (no cuts here)
        occupied = (mon.snap_levels[:, LEVEL["in_care"]] + mon.snap_levels[:, LEVEL["ready_to_leave"]]
                    - mon.snap_levels[:, LEVEL["outside_contract"]])
        assert np.all(occupied <= mon.snap_levels[:, LEVEL["places"]])


def test_littles_law_on_the_waitlist_of_a_baseline_run():
    """Sample-path Little's law: the area under the waitlist equals the summed time on the
    list of every client, inside the run window (exact), and L = lambda W holds."""
    sc = baseline()
    r = run_replication(sc, 19, 0, keep_journeys=True, keep_monitor=True)
    mon, j = r.monitor, r.journeys
    horizon = mon.calendar.horizon
    area = mon.snap_area[-1, LEVEL["waiting"]]
    time_on_list = (np.minimum(j["left"], horizon) - np.maximum(j["joined"], 0)).sum()
    still_waiting = np.minimum(mon.snap_waited[-1], horizon).sum()
    assert area == pytest.approx(time_on_list + still_waiting, rel=1e-9)
    # the clients' own records (days on the list per client) give the same area, kept apart
    records = run_replication(sc, 19, 0, keep_clients=True).clients
    assert records["days_waiting"].sum() == pytest.approx(area, rel=1e-9)


def test_same_seed_same_numbers_and_different_seed_different():
    sc = baseline()
    a = run_replications(sc, 3, seed=21, workers=1)
    b = run_replications(sc, 3, seed=21, workers=2)
    c = run_replications(sc, 3, seed=22, workers=1)
    assert np.array_equal(a.monthly, b.monthly, equal_nan=True)
    assert np.array_equal(a.yearly, b.yearly, equal_nan=True)
    assert not np.array_equal(a.monthly, c.monthly, equal_nan=True)


def test_capacity_cut_closes_places_as_residents_leave():
    """A place pool cut from 50 to 30 places: nobody is evicted, nobody is admitted until
    occupancy is below 30, and from then on the pool follows the new number."""
    data = queue_scenario(50, 20.0, {"dist": "exponential", "mean": 2.0, "unit": "years"}, years=6,
                          initial={"residents": 50, "waiting": 40}).model_dump(mode="json")
    data["providers"]["P"]["schedule"] = [{"date": "2001-01-01", "places": 30}]
    sc = sc_mod.from_mapping(data)
    mon = run_replication(sc, 23, 0, keep_monitor=True).monitor
    # the record of 1 January holds what happened before it: the cut shows from the next record
    i = mon.calendar.dates.index(dt.date(2001, 1, 1)) + 1
    occupied = mon.snap_levels[:, LEVEL["in_care"]]
    places = mon.snap_levels[:, LEVEL["places"]]
    assert places[i - 1] == 50 and places[i] == 30
    assert occupied[i - 1] == 50  # full before the cut
    assert occupied[i] > places[i]  # nobody evicted
    below = i + int(np.argmax(occupied[i:] <= places[i:]))
    assert below > i + 3  # places close as residents leave, over months
    assert np.all(np.diff(occupied[i:below + 1]) <= 0)
    assert mon.flows[FLOW["admissions"], i:below - 1].sum() == 0  # no admissions until below the new number
    assert mon.flows[FLOW["admissions"], below:].sum() > 0
    assert np.all(occupied[below:] == 30)  # then full at the new size (the list is long)


def test_bridging_slows_withdrawal():
    none = run_replications(baseline("bridging.places=0"), REPS, seed=29, workers=1)
    everyone = run_replications(baseline("bridging.places=null",
                                         *(f"providers.{n}.bridging=true" for n in baseline().providers)),
                                REPS, seed=29, workers=1)
    assert yearly(none, "bridged").sum() == 0
    m, lo, hi = t_interval(yearly(none, "withdrawals").sum(1) - yearly(everyone, "withdrawals").sum(1), 0.01)
    assert lo > 0, f"withdrawals avoided {m:.1f} [{lo:.1f}, {hi:.1f}]"


def test_posterior_variants_give_each_draw_its_replications():
    from sim.experiment.replications import posterior_variants

    sc = baseline()
    draws = [{"inflow.per_year": 50}, {"inflow.per_year": 200}]
    res = run_replications(sc, 4, seed=37, workers=1, variants=posterior_variants(sc, draws, per_draw=2))
    arrivals = yearly(res, "arrivals").sum(1)
    assert arrivals[2:].min() > 2 * arrivals[:2].max()
    # replication 2 is replication 2 of the scenario with that draw: same seed, same stream
    alone = run_replication(baseline("inflow.per_year=200"), 37, 2)
    assert np.array_equal(res.yearly[2], alone.yearly, equal_nan=True)


def test_contingent_waiting_is_the_part_of_ready_to_leave_waiting_for_a_contingentwoning():

    res = run_replications(baseline(), 3, seed=41, workers=1)
    waiting = res.monthly[:, MONTHLY_ROW["contingent_waiting"], :]
    ready = res.monthly[:, MONTHLY_ROW["ready_to_leave"], :]
    assert np.all(waiting <= ready) and waiting.mean() > 0.5 * ready.mean()
    none = run_replications(baseline("uitstroom.housing.contingent_share=0", "initial.ready_to_leave=0"), 3,
                            seed=41, workers=1)
    assert none.monthly[:, MONTHLY_ROW["contingent_waiting"], :].max() == 0
