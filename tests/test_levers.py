"""Every policy lever does something, and acts the right way (common random numbers:
the same seed for the baseline and the lever, differences paired by replication)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from sim.config import scenario as sc_mod
from sim.experiment.replications import run_replications
from sim.model.capacity import divide_places
from sim.model.states import LEVEL
from sim.record.monitor import Monitor
from sim.experiment.replication import run_replication
from sim.record.metrics import MONTHLY_ROW, MUNICIPAL_ROW, YEARLY_ROW

from tests.queueing import t_interval

HAARLEM = Path(__file__).resolve().parents[1] / "scenarios" / "haarlem"
REPS, SEED = 8, 31


@lru_cache(maxsize=None)
def results(name: str, *overrides: str):
    return run_replications(sc_mod.load(HAARLEM / f"{name}.yaml", overrides), REPS, seed=SEED, workers=1)


def total(res, metric):
    """Per replication, summed over the years."""
    return res.yearly[:, YEARLY_ROW[metric], :].sum(1)


def at_end(res, metric):
    return res.yearly[:, YEARLY_ROW[metric], -1]


def assert_paired_positive(a, b, what):
    m, lo, hi = t_interval(np.asarray(a, float) - np.asarray(b, float), 0.01)
    assert lo > 0, f"{what}: {m:.2f} [{lo:.2f}, {hi:.2f}]"


def test_every_haarlem_scenario_is_valid_and_documented():
    scenarios = [p for p in HAARLEM.glob("*.yaml") if {"extends", "profiles"} & set(sc_mod.safe_load(p.read_text()))]
    assert len(scenarios) >= 12
    for path in scenarios:
        text = path.read_text()
        assert text.startswith("#"), f"{path.name} must open with a comment saying which policy it is"
        sc_mod.load(path)


def test_divide_places_rules():
    assert divide_places(10, [5, 3, 2]) == [5, 3, 2]
    assert sum(divide_places(341, [330, 120, 70, 10, 104])) == 341
    assert divide_places(6, [5, 3, 2], "largest_first") == [2, 2, 2]
    assert divide_places(12, [5, 3, 2], "largest_first") == [5, 4, 3]


def test_capacity_path_is_followed_once_residents_have_left():
    sc = sc_mod.load(HAARLEM / "halve-intramural.yaml")
    path = {c.date: c.places for c in sc.capacity_path.changes}
    for rep in range(3):
        mon = run_replication(sc, SEED, rep, keep_monitor=True).monitor
        places = mon.snap_levels[:, LEVEL["places"]]
        occupied = mon.snap_levels[:, LEVEL["in_care"]] + mon.snap_levels[:, LEVEL["ready_to_leave"]]
        for date, number in path.items():  # a record holds what happened before its date
            i = mon.calendar.dates.index(date)
            assert places[i] != number and places[i + 1] == number
        # above the path nobody is admitted: occupancy only falls until it reaches the path
        above = occupied[1:] > places[1:]
        assert np.all(np.diff(occupied)[above] <= 0)
        # a year after the last cut the region is within one place of the path
        assert abs(occupied[-1] - path[dt.date(2022, 1, 1)]) <= 1


def test_year_end_stocks_hold_only_what_happened_before_1_january():
    """31 December Y is the record of 1 January Y+1, before anything dated that day: the
    places path says 634 until 2016, 631 in 2016, 585 in 2017."""
    sc = sc_mod.load(HAARLEM / "halve-intramural.yaml")
    r = run_replication(sc, SEED, 0)
    places = r.yearly[YEARLY_ROW["places"]]
    assert places[:4].tolist() == [634, 631, 585, 531]


def test_capacity_path_largest_first_cuts_the_big_provider():
    sc = sc_mod.load(HAARLEM / "halve-intramural.yaml", ["capacity_path.shrink=largest_first"])
    from sim.model.world import World

    world = World(sc, SEED, 0, Monitor)
    world.run()
    places = {p.name: p.capacity for p in world.providers}
    assert places["SIG"] == 10 and places["RIBW K/AM"] < 120
    assert sum(places.values()) == 341


def test_ambulantisering_serves_clients_at_home_instead():
    base, lever = results("baseline"), results("ambulantisering")
    assert np.all(at_end(lever, "beschermd_thuis") > 0) and np.all(total(base, "beschermd_thuis_starts") == 0)
    assert lever.monthly[:, MONTHLY_ROW["beschermd_thuis"], :].max() <= lever.scenario.beschermd_thuis.places
    assert_paired_positive(at_end(base, "waitlist"), at_end(lever, "waitlist"), "waitlist shorter")
    # without slots nobody gets beschermd thuis
    none = results("ambulantisering", "beschermd_thuis.places=0")
    assert total(none, "beschermd_thuis_starts").sum() == 0


def test_more_contingent_never_increases_blocked_place_years():
    base, more = results("baseline"), results("more-contingent")
    blocked_base, blocked_more = total(base, "blocked_place_days"), total(more, "blocked_place_days")
    assert np.all(blocked_more <= blocked_base), (blocked_base, blocked_more)
    assert_paired_positive(blocked_base, blocked_more, "blocked place-days saved")
    before = YEARLY_ROW["blocked_place_days"]
    # the extra units start in 2018: the years before are identical under CRN
    assert np.array_equal(base.yearly[:, before, :3], more.yearly[:, before, :3])


def test_central_waitlist_leaves_no_place_empty_while_anyone_waits():
    for rep in range(2):
        mon = run_replication(sc_mod.load(HAARLEM / "central-waitlist.yaml"), SEED, rep, keep_monitor=True).monitor
        occupied = mon.snap_levels[:, LEVEL["in_care"]] + mon.snap_levels[:, LEVEL["ready_to_leave"]]
        waiting = mon.snap_levels[:, LEVEL["waiting"]] > 0
        assert np.all(occupied[waiting] >= mon.snap_levels[waiting, LEVEL["places"]])
    base, central = results("baseline"), results("central-waitlist")
    wait = YEARLY_ROW["wait_placed_p90"]
    assert np.nanmean(central.yearly[:, wait, 2:]) < np.nanmean(base.yearly[:, wait, 2:])


def test_bridging_for_everyone_bridges_everyone_waiting():
    lever = results("bridging-for-everyone")
    bridged = lever.monthly[:, MONTHLY_ROW["bridged"], :]
    waiting = lever.monthly[:, MONTHLY_ROW["waitlist"], :]
    assert np.array_equal(bridged, waiting)
    assert np.all(lever.monthly[:, MONTHLY_ROW["bridging_waitlist"], :] == 0)
    base = results("baseline")
    assert_paired_positive(total(base, "withdrawals"), total(lever, "withdrawals"), "fewer withdrawals")


def test_waitlist_review_removes_a_share_of_those_interviewed():
    base, lever = results("baseline"), results("waitlist-review")
    assert total(base, "review_removals").sum() == 0
    removed = total(lever, "review_removals")
    spec = lever.scenario.waitlist.review
    expected = spec.per_year * 6 * spec.removal_share  # 2017-2022
    m, lo, hi = t_interval(removed, 0.001)
    assert lo <= expected <= hi, f"removed {m:.1f} [{lo:.1f}, {hi:.1f}] vs {expected:.1f}"
    assert_paired_positive(at_end(base, "waitlist"), at_end(lever, "waitlist"), "waitlist shorter")


def test_intake_stop_caps_the_list():
    lever = results("intake-stop")
    waiting = lever.monthly[:, MONTHLY_ROW["waitlist"], :]
    stop = lever.scenario.waitlist.intake_stop
    assert lever.scenario.initial.waiting > stop  # the list starts above the stop and must come down
    for series in waiting:
        under = int(np.argmax(series <= stop))
        assert under > 0 and series[under:].max() <= stop  # once under the stop, never above it again
    assert np.all(total(lever, "turned_away") > 0)


def test_urgent_outside_contract_within_the_yearly_number():
    lever = results("urgent-outside-contract")
    per_year = lever.scenario.outside_contract.per_year
    placements = lever.yearly[:, YEARLY_ROW["outside_contract_placements"], :]
    assert placements.max() <= per_year and placements.sum() > 0
    base = results("baseline")
    assert_paired_positive(total(lever, "cost"), total(base, "cost"), "extra cost")


def test_new_location_is_filled_from_another_list():
    base, lever = results("baseline"), results("new-locations")
    assert np.all(at_end(lever, "occupied") == at_end(base, "occupied") + 20)
    assert_paired_positive(at_end(base, "waitlist"), at_end(lever, "waitlist"), "waitlist shorter")


def test_mo_conversion_adds_places_and_residents_at_the_date():
    lever = results("mo-conversion")
    i = lever.calendar.dates.index(dt.date(2017, 4, 1)) + 1  # the record after the date
    places = lever.monthly[:, MONTHLY_ROW["places"], :]
    assert np.all(places[:, i] - places[:, i - 1] == 10)
    assert np.all(lever.yearly[:, YEARLY_ROW["conversions"], 2] == 10)
    assert np.all(total(lever, "conversions") == 10)


def test_outflow_support_shortens_blockage():
    base, lever = results("baseline"), results("outflow-support")
    assert_paired_positive(total(base, "blocked_place_days"), total(lever, "blocked_place_days"), "blocked days")
    assert_paired_positive(total(base, "relapses"), total(lever, "relapses"), "relapses")


@pytest.mark.parametrize("name", ["baseline", "ambulantisering", "urgent-outside-contract"])
def test_cost_adds_up_and_is_attributed_to_municipalities(name):
    res = results(name)
    c = res.scenario.costs
    days = {m: res.yearly[:, YEARLY_ROW[m], :] for m in
            ("occupied_place_days", "outside_contract_days", "bridging_days", "ambulant_days", "beschermd_thuis_days")}
    expected = ((days["occupied_place_days"] - days["outside_contract_days"]) * c.place_day
                + days["outside_contract_days"] * c.outside_contract_day + days["bridging_days"] * c.bridging_day
                + days["ambulant_days"] * c.ambulant_day + days["beschermd_thuis_days"] * c.beschermd_thuis_day)
    assert np.allclose(res.yearly[:, YEARLY_ROW["cost"], :], expected)
    # woonplaatsbeginsel: the municipalities' costs add up to the region's in every replication and year
    by_muni = res.municipal[:, :, :, MUNICIPAL_ROW["cost"], :].sum((1, 2))
    assert np.allclose(by_muni, res.yearly[:, YEARLY_ROW["cost"], :], rtol=1e-9)
    for metric in ("occupied", "waitlist", "arrivals", "admissions"):
        assert np.array_equal(res.municipal[:, :, :, MUNICIPAL_ROW[metric], :].sum((1, 2)),
                              res.yearly[:, YEARLY_ROW[metric], :]), metric


def test_municipality_with_zero_share_has_no_new_clients():
    sc = sc_mod.load(HAARLEM / "baseline.yaml", ["inflow.municipalities.Uitgeest=0",
                                                   "inflow.municipalities.Haarlem=0.408"])
    res = run_replications(sc, 3, seed=SEED, workers=1)
    uitgeest = res.municipalities.index("Uitgeest")
    assert res.municipal[:, uitgeest, :, MUNICIPAL_ROW["arrivals"], :].sum() == 0
    assert res.municipal[:, res.municipalities.index("Haarlem"), :, MUNICIPAL_ROW["arrivals"], :].sum() > 0


def test_two_track_cohorts_split_existing_from_new_clients():
    """With a cohort date, clients in care before it (cohort 0) are a closed group: no new
    clients join it afterwards, its cost only falls, and the split leaves the totals unchanged."""
    plain = run_replications(sc_mod.load(HAARLEM / "baseline.yaml"), 3, seed=SEED, workers=1)
    split = run_replications(sc_mod.load(HAARLEM / "baseline.yaml", ["attribution.cohort_date=2019-01-01"]),
                             3, seed=SEED, workers=1)
    assert np.array_equal(plain.yearly, split.yearly, equal_nan=True)
    assert plain.municipal[:, :, 0].sum() == 0  # no cohort date: everyone is "new"
    existing = split.municipal[:, :, 0]  # [rep, muni, metric, year]
    years = split.calendar.years
    after = [k for k, y in enumerate(years) if y >= 2019]
    assert existing[..., MUNICIPAL_ROW["admissions"], :][..., after].sum() == 0
    in_bw = existing[..., MUNICIPAL_ROW["occupied"], :].sum(1)  # [rep, year]
    assert np.all(np.diff(in_bw[:, after[0] - 1:], axis=1) <= 0) and in_bw[:, after[0] - 1].min() > 500
    assert np.allclose(split.municipal.sum(2), plain.municipal.sum(2))


def test_other_route_factor_scales_each_clients_own_delay():
    """other_route_factor multiplies each client's drawn delay, so a policy that halves the delay
    stays half of whatever the calibration fits (and paired: the same clients, the same draws)."""
    from sim.model.fates import FateBook
    from sim.model.rng import Streams

    base = sc_mod.load(HAARLEM / "baseline.yaml")
    half = sc_mod.load(HAARLEM / "outflow-support.yaml")
    assert half.uitstroom.housing.other_route_factor == 0.5
    a, b = FateBook(base, Streams(3, 0)), FateBook(half, Streams(3, 0))
    delays = np.array([(a.fate("arrival.", i).other_route, b.fate("arrival.", i).other_route) for i in range(300)])
    assert delays[:, 0].std() > 0
    np.testing.assert_allclose(delays[:, 1], 0.5 * delays[:, 0], rtol=1e-12)


def test_triangular_stays_are_bounded_and_have_their_mean():
    """Every regular client placed in the run and ready within it stayed between low and high; the
    law's draws have mean (low + mode + high) / 3 (99.9% t-interval: a false failure 1 in 1000)."""
    import pandas as pd

    from sim.config.distributions import UNIT_DAYS

    sc = sc_mod.load(HAARLEM / "bounded-stays.yaml")
    law = sc.profiles["regular"].stay
    assert (law.low, law.mode, law.high) == (2, 6, 20)
    draws = law.sample(np.random.default_rng(5), 20_000) / UNIT_DAYS["years"]
    assert draws.min() >= 2 and draws.max() <= 20
    _, lo, hi = t_interval(draws, 0.001)
    assert lo <= (2 + 6 + 20) / 3 <= hi
    clients = pd.DataFrame(run_replication(sc, 2, 0, keep_clients=True).clients)
    regular = list(sc.profiles).index("regular")
    stayed = clients[(clients.profile == regular) & clients.placed.notna() & clients.ready.notna()]
    years = (stayed.ready - stayed.placed) / UNIT_DAYS["years"]
    assert len(years) > 20 and years.min() >= 2 - 1e-9 and years.max() <= 20 + 1e-9


def test_a_linear_capacity_ramp_moves_one_place_at_a_time_between_its_dates():
    """On every monthly record the places are those of the last dated point plus the share of the
    way to the next one, one place at a time; the step path jumps on the dates instead."""
    from sim.model.calendar import Calendar

    ramp = sc_mod.load(HAARLEM / "halve-intramural-ramp.yaml")
    step = sc_mod.load(HAARLEM / "halve-intramural.yaml")
    cal = Calendar(ramp.start, ramp.end)
    points = [(cal.day(c.date), c.places) for c in ramp.capacity_path.changes]
    row = MONTHLY_ROW["places"]
    got_ramp = run_replication(ramp, 1, 0).monthly[row]
    got_step = run_replication(step, 1, 0).monthly[row]
    for k, date in enumerate(cal.dates):
        day = cal.day(date)
        done = [(d, p) for d, p in points if d < day]  # a record holds what happened before its date
        if not done:
            continue
        d0, p0 = done[-1]
        assert got_step[k] == p0
        later = [(d, p) for d, p in points if d >= day]
        if later:
            d1, p1 = later[0]
            n = abs(p1 - p0)
            moved = sum(1 for j in range(1, n + 1) if d0 + (d1 - d0) * j / n < day)
            assert got_ramp[k] == p0 + np.sign(p1 - p0) * moved, date
        else:
            assert got_ramp[k] == p0
    assert (got_ramp != got_step).sum() > 40  # most months differ: the ramp is gradual


def test_overschrijding_stays_within_its_limit_and_returns_to_contract():
    """Above-contract residents never exceed ceil(share x places) per provider, and a provider never
    holds more residents than its places plus those above contract (the baseline has no cuts); a
    resident stays above contract only while no contracted place is free; the lever off changes nothing."""
    import math
    from functools import partial

    from sim.model.world import World

    sc = sc_mod.load(HAARLEM / "overschrijding.yaml", ["calibration.posterior=null"])
    base = sc_mod.load(HAARLEM / "baseline.yaml", ["calibration.posterior=null"])
    limit = sum(math.ceil(sc.above_contract.share * p.places) for p in sc.providers.values())
    placed = 0
    for rep in range(3):
        r = run_replication(sc, SEED, rep)
        m = r.monthly
        above, occupied, places = (m[MONTHLY_ROW[k]] for k in ("above_contract", "occupied", "places"))
        assert (above >= 0).all() and (above <= limit + 2).all()  # the PGB schedule adds places in 2017
        assert (occupied <= places + above).all()
        days = r.yearly[YEARLY_ROW["above_contract_days"]]
        assert days.sum() > 0 and (days <= (limit + 2) * 366).all()
        placed += r.yearly[YEARLY_ROW["above_contract_placements"]].sum()
    assert placed > 10
    world = World(sc, SEED, 0, partial(Monitor, keep_clients=False))
    world.run()
    for p in world.providers:  # above contract only while the contracted places are all taken
        assert len(p.above) <= math.ceil(sc.above_contract.share * p.capacity) + 1
        assert not p.above or p.occupied - len(p.above) >= p.capacity, p.name
        assert all(c.above_contract and c.place is p for c in p.above)
    # the lever off changes nothing, bit for bit (the same clients, the same fates)
    off = sc_mod.load(HAARLEM / "overschrijding.yaml", ["calibration.posterior=null", "above_contract.share=0"])
    a, b = run_replication(off, SEED, 0), run_replication(base, SEED, 0)
    for name, row in YEARLY_ROW.items():
        if name != "cost":  # off still prices nothing above contract: equal too
            np.testing.assert_array_equal(a.yearly[row], b.yearly[row], err_msg=name)
    np.testing.assert_array_equal(a.yearly[YEARLY_ROW["cost"]], b.yearly[YEARLY_ROW["cost"]])


def test_above_contract_days_are_priced_at_their_own_rate():
    from sim.record.metrics import cost

    sc = sc_mod.load(HAARLEM / "overschrijding.yaml", ["calibration.posterior=null"])
    days = {k: np.zeros(1) for k in ("occupied_place_days", "outside_contract_days", "above_contract_days",
                                     "bridging_days", "ambulant_days", "beschermd_thuis_days")}
    days["occupied_place_days"][0], days["above_contract_days"][0] = 100.0, 10.0
    assert cost(sc, days)[0] == pytest.approx(90 * sc.costs.place_day + 10 * 200)
    plain = sc_mod.load(HAARLEM / "baseline.yaml", ["calibration.posterior=null"])
    assert plain.costs.above_contract_day is None
    assert cost(plain, days)[0] == pytest.approx(100 * plain.costs.place_day)  # default: a place-day
