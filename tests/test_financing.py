"""Flows and stocks by financing (zorg in natura or PGB), and the waitlist review's share of
waiting clients who leave without a place (``waitlist_withdrawing_share``)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sim.analysis import calibrate as cal
from sim.config import scenario as scenario_mod
from sim.experiment.replication import run_replication
from sim.model.calendar import Calendar
from sim.model.states import JOURNEY_WITHDRAWN
from sim.record.metrics import (EXITS, FINANCED, FINANCED_FLOWS, FINANCED_ROW, FINANCED_STOCKS, FOLLOW_UP_MONTHS,
                                MONTH, MONTHLY_ROW, WITHDRAWING)

#: Two providers, one PGB-funded, four years; small enough to run many replications.
TWO = {
    "name": "two financings",
    "start": dt.date(2015, 1, 1),
    "end": dt.date(2019, 1, 1),
    "profiles": {"regular": {"share": 1.0, "stay": {"dist": "exponential", "mean": 1.5, "unit": "years"}}},
    "inflow": {"per_year": 60, "municipalities": {"A": 1.0}},
    "waitlist": {"withdrawal_per_year": 0.5},
    "providers": {"Z": {"places": 30, "inflow_share": 0.6},
                  "P": {"places": 15, "inflow_share": 0.4, "financing": "pgb",
                        "schedule": [{"date": dt.date(2016, 6, 1), "places": 20}]}},
    "uitstroom": {
        "early_exit_per_year": 0.05,
        "destinations": {"independent": 0.5, "intramural": 0.3, "died_or_moved": 0.2},
        "housing": {"contingent_share": 0.5, "contingent": {"units_per_year": 12, "bw_share": 0.5},
                    "other_route_delay": {"dist": "fixed", "value": 1, "unit": "months"}},
    },
    "ambulant": {"places": None, "duration": {"dist": "fixed", "value": 1, "unit": "years"}},
    "initial": {"residents": 45, "waiting": 20, "waited": {"dist": "uniform", "low": 0, "high": 6, "unit": "months"}},
}


#: A slow list: long stays and few withdrawals, so that some clients wait more than the follow-up.
SLOW = {**TWO, "profiles": {"regular": {"share": 1.0, "stay": {"dist": "exponential", "mean": 8, "unit": "years"}}},
        "waitlist": {"withdrawal_per_year": 0.1}}


def scenario(**changes):
    return scenario_mod.from_mapping({**TWO, **changes})


# ---------------------------------------------------------------- financing


@pytest.mark.parametrize("replication", range(4))
def test_zin_plus_pgb_is_the_total_and_each_balances_its_places(replication):
    sc = scenario()
    rep = run_replication(sc, 5, replication, keep_clients=True)
    zin, pgb = rep.financed
    for name in FINANCED:
        total = rep.monthly[MONTHLY_ROW[name]]
        flow = name in FINANCED_FLOWS
        assert np.isnan(zin[FINANCED_ROW[name], -1]) == flow and np.isnan(pgb[FINANCED_ROW[name], -1]) == flow
        assert np.array_equal(zin[FINANCED_ROW[name]] + pgb[FINANCED_ROW[name]], total, equal_nan=True), name
    # the PGB provider's own places, on every record
    places = [15 if d <= dt.date(2016, 6, 1) else 20 for d in Calendar(sc.start, sc.end).dates]  # a change on a record date comes after its record
    assert pgb[FINANCED_ROW["places"]].tolist() == places
    # stock and flows of each financing balance month by month (no conversions here)
    for part in (zin, pgb):
        occupied = part[FINANCED_ROW["occupied"]]
        net = part[FINANCED_ROW["admissions"], :-1] - sum(part[FINANCED_ROW[e], :-1] for e in EXITS)
        assert np.array_equal(np.diff(occupied), net)
        assert np.array_equal(part[FINANCED_ROW["exits"], :-1], sum(part[FINANCED_ROW[e], :-1] for e in EXITS))
    # admissions of PGB places, month by month, from the clients' own records
    clients = rep.clients
    placed = clients["placed"]
    in_pgb = (clients["provider"] == list(sc.providers).index("P")) & ~np.isnan(placed)
    month = np.searchsorted(Calendar(sc.start, sc.end).days, placed[in_pgb], side="right") - 1
    assert np.bincount(month, minlength=len(places) - 1).tolist() == pgb[FINANCED_ROW["admissions"], :-1].tolist()
    assert pgb[FINANCED_ROW["admissions"], :-1].sum() > 0 and pgb[FINANCED_ROW["exits"], :-1].sum() > 0


def test_without_pgb_providers_everything_is_zin():
    sc = scenario(providers={"Z": {"places": 45, "inflow_share": 1.0}})
    rep = run_replication(sc, 5, 0)
    zin, pgb = rep.financed
    assert np.nansum(pgb) == 0
    for name in FINANCED:
        assert np.array_equal(zin[FINANCED_ROW[name]], rep.monthly[MONTHLY_ROW[name]], equal_nan=True)


def test_financing_leaves_every_other_metric_as_it_was():
    """Marking a provider PGB only records; the simulation is the same, number for number."""
    zin_only = {**TWO, "providers": {**TWO["providers"], "P": {k: v for k, v in TWO["providers"]["P"].items()
                                                              if k != "financing"}}}
    a = run_replication(scenario_mod.from_mapping(zin_only), 5, 1)
    b = run_replication(scenario(), 5, 1)
    assert np.array_equal(a.monthly, b.monthly, equal_nan=True) and np.array_equal(a.municipal, b.municipal)
    assert np.nansum(a.financed[1]) == 0 and np.nansum(b.financed[1]) > 0


def test_financing_must_be_zin_or_pgb():
    with pytest.raises(scenario_mod.ScenarioError, match="financing"):
        scenario(providers={"Z": {"places": 45, "inflow_share": 1.0, "financing": "foo"}})


# ---------------------------------------------------------------- the review's share


def reference_share(journeys: dict, days: np.ndarray) -> list[float]:
    """The definition, client by client: waiting on day d (joined before d, left on d or later),
    counted when leaving within the follow-up, withdrawn or placed."""
    out = []
    for d in days.tolist():
        withdrawn = resolved = 0
        for joined, left, how in zip(journeys["joined"], journeys["left"], journeys["how"]):
            if joined < d <= left < d + FOLLOW_UP_MONTHS * MONTH:
                resolved += 1
                withdrawn += how == JOURNEY_WITHDRAWN
        out.append(withdrawn / resolved if resolved else float("nan"))
    return out


@pytest.mark.parametrize("data, replication", [(TWO, 0), (TWO, 1), (SLOW, 0), (SLOW, 1)])
def test_the_share_follows_its_definition(data, replication):
    sc = scenario_mod.from_mapping(data)
    rep = run_replication(sc, 8, replication, keep_journeys=True)
    got = rep.monthly[MONTHLY_ROW[WITHDRAWING]]
    want = reference_share(rep.journeys, Calendar(sc.start, sc.end).days)
    assert np.allclose(got, want, equal_nan=True, rtol=0, atol=1e-12)
    assert np.isnan(got[-1])  # nobody is followed up after the end
    assert 0 < np.nanmean(got) < 1


def test_without_withdrawal_the_share_is_0_and_without_places_it_is_1():
    no_withdrawal = run_replication(scenario(waitlist={"withdrawal_per_year": 0.0}), 2, 0)
    share = no_withdrawal.monthly[MONTHLY_ROW[WITHDRAWING]]
    assert np.nanmax(share) == 0 and np.isfinite(share[:-1]).all()
    no_places = scenario(providers={"Z": {"places": 0, "inflow_share": 1.0}}, initial={**TWO["initial"], "residents": 0})
    share = run_replication(no_places, 2, 0).monthly[MONTHLY_ROW[WITHDRAWING]]
    assert np.nanmin(share) == 1 and np.isfinite(share[:-1]).all()


@pytest.mark.parametrize("data", [TWO, SLOW])
def test_the_share_needs_only_its_follow_up_so_the_fit_horizon_keeps_it(data):
    """Censoring: a client still waiting FOLLOW_UP_MONTHS after the date is not counted, so a run
    that ends at the fit horizon (needed_until) gives the date's share number for number."""
    day = dt.date(2015, 6, 30)
    obs = cal.Observation(2, WITHDRAWING, day, day, "point", 0.5, 0.1, "fit", "s")
    until = cal.horizon.needed_until(obs)
    assert until >= dt.date(2015, 7, 1) + dt.timedelta(days=FOLLOW_UP_MONTHS * MONTH)
    assert until < dt.date(2019, 1, 1)
    full = run_replication(scenario_mod.from_mapping(data), 4, 0, keep_journeys=True)
    short = run_replication(scenario_mod.from_mapping(cal.trimmed(data, until)), 4, 0)
    i = Calendar(data["start"], data["end"]).dates.index(dt.date(2015, 7, 1))
    assert short.monthly[MONTHLY_ROW[WITHDRAWING], i] == full.monthly[MONTHLY_ROW[WITHDRAWING], i]
    assert 0 < full.monthly[MONTHLY_ROW[WITHDRAWING], i] < 1
    if data is SLOW:  # some waiting on that date leave the list after the follow-up, within the run: not counted
        d, j = Calendar(data["start"], data["end"]).days[i], full.journeys
        late = (j["joined"] < d) & (j["left"] >= d + FOLLOW_UP_MONTHS * MONTH)
        assert late.sum() > 0


# ---------------------------------------------------------------- observations


def test_financing_and_review_observations_parse_and_match(tmp_path):
    rows = [
        "date_or_period,metric,value,source,match,sd,use,note",
        "2016-01-01/2016-12-31,admissions[zin],20,s,total,4,fit,",
        "2016-01-01/2016-12-31,exits_independent[pgb],3,s,total,2,check,",
        "2016-12-31,occupied[pgb],19,s,point,2,check,",
        "2016-01-01/2016-06-30,admissions[pgb],4,s,average,2,check,",
        "2015-06-30,waitlist_withdrawing_share,0.4,s,point,0.1,fit,",
        "2016-01-01/2016-12-31,admissions,30,s,total,5,check,",
    ]
    (tmp_path / "observed.csv").write_text("\n".join(rows) + "\n")
    observations = cal.read_observations(tmp_path / "observed.csv")
    assert [o.label for o in observations] == ["admissions[zin]", "exits_independent[pgb]", "occupied[pgb]",
                                                "admissions[pgb]", WITHDRAWING, "admissions"]
    assert [o.financing for o in observations] == ["zin", "pgb", "pgb", "pgb", None, None]
    assert all(o.municipality is None for o in observations)
    sc = scenario()
    calendar = Calendar(sc.start, sc.end)
    matcher = cal.Matcher.build(observations, calendar, ["A"])
    rep = run_replication(sc, 3, 0)
    got = matcher(rep.monthly, rep.municipal, rep.financed)
    year = [i for i, d in enumerate(calendar.dates[:-1]) if d.year == 2016]
    zin, pgb = rep.financed
    assert got[0] == zin[FINANCED_ROW["admissions"], year].sum()
    assert got[1] == pgb[FINANCED_ROW["exits_independent"], year].sum()
    assert got[2] == pgb[FINANCED_ROW["occupied"], calendar.dates.index(dt.date(2017, 1, 1))]
    assert got[3] == pgb[FINANCED_ROW["admissions"], year[:6]].mean()
    assert got[4] == rep.monthly[MONTHLY_ROW[WITHDRAWING], calendar.dates.index(dt.date(2015, 7, 1))]
    assert got[0] + pgb[FINANCED_ROW["admissions"], year].sum() == got[5]


@pytest.mark.parametrize("metric, match, when, message", [
    ("waitlist[zin]", "point", "2016-12-31", "not produced per financing"),
    ("occupied[pgb]", "total", "2016-01-01/2016-12-31", "is a stock"),
    ("admissions[zin]", "point", "2016-12-31", "is a flow"),
    ("admissions[zin", "total", "2016-01-01/2016-12-31", "not produced"),
])
def test_bad_financing_observations_are_refused(tmp_path, metric, match, when, message):
    path = tmp_path / "observed.csv"
    path.write_text(f"date_or_period,metric,value,source,match,sd\n{when},{metric},1,s,{match},1\n")
    with pytest.raises(cal.CalibrationError, match=message):
        cal.read_observations(path)


def test_the_haarlem_observations_load_and_the_fit_runs_to_the_reviews_follow_up():
    config = cal.load_config("calibration/haarlem/calibrate.yaml")
    labels = {o.label for o in config.observations}
    assert {"exits_independent[zin]", "admissions[zin]", WITHDRAWING} <= labels
    end = cal.fit_data(config)["end"]
    review = next(o for o in config.fitted if o.metric == WITHDRAWING)
    assert end == cal.horizon.needed_until(review)
    sc = scenario_mod.load("scenarios/haarlem/baseline.yaml")
    assert sc.providers["PGB providers"].financing == "pgb"
    assert [p.financing for name, p in sc.providers.items() if name != "PGB providers"] == ["zin"] * 4
