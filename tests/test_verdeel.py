"""The verdeelmodel: budgets per municipality under each regime against the cost each pays."""

from __future__ import annotations

import csv
import datetime as dt
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.config import scenario as sc_mod
from sim.policy import verdeel as vd
from sim.cli import load_app

app = load_app()
from sim.experiment.replications import mean_ci, run_replications
from sim.record.metrics import MUNICIPAL_ROW, YEARLY_ROW

HAARLEM = Path(__file__).resolve().parents[1] / "scenarios" / "haarlem"
BASELINE = HAARLEM / "baseline.yaml"
TABLE = HAARLEM / "municipalities.csv"
START, REPS, SEED = 2019, 6, 17
BUDGET = 40e6


COLUMNS = ("objective_share", "population_share", "objective_centre_weighted", "woonplaats_heemstede_observed")
WLZ_YEAR = 2017


def settings(**changes) -> vd.Settings:
    data = {"regime": "phased", "start_year": START, "macro_budget": BUDGET, "municipalities": str(TABLE),
            "phase_in": [0.0, 0.25, 0.5, 1.0]}
    data.update(changes)
    return vd.settings_from_mapping(data)


@lru_cache(maxsize=None)
def run(*overrides: str):
    """The baseline split into cohorts at the start year, and the table (every share column) in the scenario's order."""
    sc, table, notes = vd.prepare(BASELINE, settings(variants={c: {"objective_column": c} for c in COLUMNS}),
                                  overrides)
    return run_replications(sc, REPS if not overrides else 3, seed=SEED, workers=1), table, notes


@lru_cache(maxsize=None)
def wlz_run():
    """The same run split at the Wlz date instead (the second cohort split the Wlz move needs)."""
    results, _, _ = run()
    split = vd.wlz_scenario(results.scenario, settings(wlz={"year": WLZ_YEAR, "client_share": 0.3}))
    return run_replications(split, REPS, seed=SEED, workers=1)


def assessment(**changes) -> vd.Assessment:
    results, table, notes = run()
    return vd.assess(results, settings(**changes), table, notes)


def index(name: str) -> int:
    return run()[1].names.index(name)


def after(a: vd.Assessment) -> np.ndarray:
    return np.array(a.years) >= START


# ---------------------------------------------------------------- money adds up


@pytest.mark.parametrize("regime", vd.REGIMES)
def test_costs_paid_add_up_to_the_regional_cost_in_every_replication(regime):
    results = run()[0]
    a = assessment(regime=regime)
    regional = results.yearly[:, YEARLY_ROW["cost"], :]
    assert regional.min() > 30e6
    assert np.allclose(a.cost.sum(1), regional, rtol=1e-9)
    assert np.allclose(a.residents_cost.sum(1), regional, rtol=1e-9)
    assert np.allclose(a.budget.sum(0), BUDGET)  # every regime divides the whole macro budget
    frame = a.frame()
    region = frame[frame.municipality == vd.REGION].set_index("year")
    assert np.allclose(region.loc[a.years, "cost_mean"], regional.mean(0))


def test_objective_budgets_are_the_shares_of_the_macro_budget():
    a = assessment(regime="objective", macro_budget={2015: 30e6, 2020: 45e6})
    table = run()[1]
    macro = np.where(np.array(a.years) >= 2020, 45e6, 30e6)
    assert np.allclose(a.budget.sum(0), macro)
    assert np.allclose(a.budget[:, after(a)], np.outer(table.objective, macro[after(a)]))
    before = ~after(a)  # before the start year the historic key: everything to the centrumgemeente
    assert np.allclose(a.budget[index("Haarlem"), before], macro[before])
    # woonplaatsbeginsel: each pays for its own residents from the start year
    assert np.allclose(a.cost[:, :, after(a)], a.residents_cost[:, :, after(a)])
    assert not np.allclose(a.cost[:, :, ~after(a)], a.residents_cost[:, :, ~after(a)])


def test_phase_in_starts_fully_historic_and_is_fully_objective_in_the_stated_year():
    a = assessment(regime="phased")
    table, years = run()[1], a.years
    assert a.settings.full_year == START + 3
    expected = {START - 1: 0.0, START: 0.0, START + 1: 0.25, START + 2: 0.5, START + 3: 1.0}
    assert {y: a.fraction[years.index(y)] for y in expected} == expected
    first, full = years.index(START), years.index(START + 3)
    assert np.allclose(a.budget[:, first], table.historic * BUDGET)
    assert a.budget[index("Haarlem"), first] == BUDGET and a.budget[index("Velsen"), first] == 0
    assert np.allclose(a.budget[:, full], table.objective * BUDGET)
    assert np.allclose(a.cost[:, :, full], a.residents_cost[:, :, full])  # the bill has moved too
    haarlem = a.budget[index("Haarlem")]
    assert np.all(np.diff(haarlem[first:full + 1]) < 0)  # the centrumgemeente's share falls every year


def test_two_track_existing_clients_stay_with_the_centrumgemeente():
    results, table, _ = run()
    a = assessment(regime="two_track")
    existing, new = vd.cohort_costs(results)
    late = after(a)
    haarlem = index("Haarlem")
    assert existing[:, :, late].sum() > 0 and new[:, :, late].sum() > 0
    expected = new.copy()
    expected[:, haarlem] += existing.sum(1)
    assert np.allclose(a.cost[:, :, late], expected[:, :, late])
    others = [m for m in range(len(table.names)) if m != haarlem]
    assert np.allclose(a.cost[:, others][:, :, late], new[:, others][:, :, late])  # only their new clients
    assert np.allclose(a.budget.sum(0), BUDGET)
    assert np.allclose(a.cost.sum(1), results.yearly[:, YEARLY_ROW["cost"], :])
    # without the cohort date the two tracks cannot be told apart
    plain = run_replications(sc_mod.load(BASELINE, ["end=2020-01-01"]), 2, seed=SEED, workers=1)
    with pytest.raises(vd.VerdeelError, match="attribution.cohort_date"):
        vd.assess(plain, settings(regime="two_track"), table)


def test_a_municipality_with_zero_inflow_share_has_no_new_clients():
    results, table, notes = run("inflow.municipalities.Uitgeest=0", "inflow.municipalities.Haarlem=0.408")
    assert any("Uitgeest" in note for note in notes)  # the table's inflow share differs from the scenario's
    a = vd.assess(results, settings(regime="two_track"), table, notes)
    uitgeest = table.names.index("Uitgeest")
    assert a.people["arrivals"][:, uitgeest].sum() == 0
    assert a.people["arrivals"][:, table.names.index("Haarlem")].sum() > 0
    assert np.all(vd.cohort_costs(results)[1][:, uitgeest] == 0)
    late = after(a)
    assert np.all(a.cost[:, uitgeest, late] == 0)  # new clients only, and it has none
    assert a.residents_cost[:, uitgeest].sum() == 0  # the initial stock is drawn with the same shares
    assert np.array_equal(a.gap[:, uitgeest], np.broadcast_to(a.budget[uitgeest], (3, len(a.years))))
    assert a.budget[uitgeest, -1] > 0  # its objective budget is all surplus


# ---------------------------------------------------------------- the regional pool


def test_regional_pool_by_hand():
    budget = np.array([[10.0], [0.0], [2.0]])  # [municipality, year]
    cost = np.array([[[5.0], [4.0], [1.0]]])  # [replication, municipality, year]
    funds = vd.apply_pool(budget, cost, 0.5)
    # kept 5, 0, 1; pool 6 covers the deficit of 4; the 2 left go back as 5:0:1
    assert np.allclose(funds[0, :, 0], [5 + 2 * 5 / 6, 4, 1 + 2 * 1 / 6])
    short = vd.apply_pool(budget, cost * 3, 0.5)  # deficits 10, 12, 2 against a pool of 6
    assert np.allclose(short[0, :, 0], [5 + 6 * 10 / 24, 6 * 12 / 24, 1 + 6 * 2 / 24])
    assert np.allclose(vd.apply_pool(budget, cost, 0.0)[0], budget)


@pytest.mark.parametrize("regime", ["objective", "two_track"])
def test_regional_pool_never_changes_the_regional_total(regime):
    plain, pooled = assessment(regime=regime), assessment(regime=regime, regional_pool=0.3)
    assert np.allclose(pooled.funds.sum(1), plain.budget.sum(0)[None, :])
    assert np.allclose(pooled.gap.sum(1), plain.gap.sum(1))
    assert not np.allclose(pooled.funds, plain.funds)


def test_a_full_pool_covers_every_deficit_when_the_region_has_enough():
    plain = assessment(regime="objective", macro_budget=45e6)
    pooled = assessment(regime="objective", macro_budget=45e6, regional_pool=1.0)
    assert plain.regional_cost.max() < 45e6
    late = after(plain)
    assert np.all(plain.p_short()[index("Haarlem"), late] == 1)  # its objective share is below its cost
    assert np.all(pooled.p_short() == 0)


# ---------------------------------------------------------------- probability of a shortfall


def test_probability_short_is_a_share_of_replications():
    broke = assessment(regime="objective", macro_budget=0)
    p = broke.p_short()
    assert np.all((0 <= p) & (p <= 1))
    late = after(broke)
    assert np.array_equal(p[:, late], (broke.cost[:, :, late] > 0).mean(0))
    assert np.all(p[index("Haarlem")] == 1)
    rich = assessment(regime="objective", macro_budget=1e11)
    assert np.all(rich.p_short() == 0)
    mid = assessment(regime="objective", macro_budget="scenario_cost")
    assert 0 < mid.p_short()[:, late].mean() < 1
    frame = mid.frame()
    assert frame.p_short.between(0, 1).all()
    assert (frame.gap_ci_low <= frame.gap_mean + 1e-6).all() and (frame.gap_mean <= frame.gap_ci_high + 1e-6).all()


# ---------------------------------------------------------------- bad input


def write_table(path: Path, edit) -> Path:
    with TABLE.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows = edit(rows)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def bad_shares(rows):
    rows[0]["objective_share"] = "0.5"
    return rows


def without_uitgeest(rows):
    """Uitgeest left out, its shares given to the first municipality (so that every column still sums to 1)."""
    gone = next(r for r in rows if r["municipality"] == "Uitgeest")
    rows = [r for r in rows if r["municipality"] != "Uitgeest"]
    for column in ("inflow_share", "historic_share", *COLUMNS):
        rows[0][column] = str(float(rows[0][column]) + float(gone[column]))
    return rows


def test_library_errors_name_the_file_and_the_key(tmp_path):
    bad = write_table(tmp_path / "bad.csv", bad_shares)
    with pytest.raises(vd.VerdeelError, match=r"bad\.csv: objective_share: the shares must sum to 1"):
        vd.read_municipalities(bad)
    short = write_table(tmp_path / "short.csv", without_uitgeest)
    with pytest.raises(vd.VerdeelError, match=r"short\.csv: municipality 'Uitgeest' is in .*baseline\.yaml"):
        vd.prepare(BASELINE, settings(municipalities=str(short)))
    with pytest.raises(vd.VerdeelError, match=r"verdeel\.yaml: macro_budget: the budget cannot be negative"):
        vd.settings_from_mapping({**settings().model_dump(), "macro_budget": -1}, "verdeel.yaml")
    with pytest.raises(vd.VerdeelError, match=r"macro_budget: the budget for 2021 cannot be negative"):
        settings(macro_budget={2015: 1e6, 2021: -5})
    with pytest.raises(vd.VerdeelError, match="phase_in: the ingroeipad must end at 1.0"):
        settings(phase_in=[0, 0.5, 0.9])
    with pytest.raises(vd.VerdeelError, match="phase_in: the ingroeipad must not go back"):
        settings(phase_in=[0, 0.6, 0.4, 1])
    with pytest.raises(vd.VerdeelError, match="pool: unknown key"):
        settings(pool=0.2)
    with pytest.raises(vd.VerdeelError, match="start_year: 2015 must be after the run's first year 2015"):
        vd.prepare(BASELINE, settings(start_year=2015))
    with pytest.raises(vd.VerdeelError, match="column 'objective_2021' is missing"):
        vd.read_municipalities(TABLE, "objective_2021")


runner = CliRunner()


def cli(*args):
    return runner.invoke(app, ["verdeel", *(str(a) for a in args)], catch_exceptions=False)


def test_cli_bad_input_exits_with_code_2_and_writes_nothing(tmp_path):
    out = tmp_path / "res"
    good = HAARLEM / "verdeel.yaml"
    region = HAARLEM / "verdeel-2025.yaml"
    cases = []
    for name, edit, needle in (("bad.csv", bad_shares, "the shares must sum to 1"),
                               ("short.csv", without_uitgeest, "'Uitgeest' is in")):
        table = write_table(tmp_path / name, edit)
        cases.append((["--settings", good, "--setting", f"municipalities={table}"], [name, needle]))
    negative = tmp_path / "negative.yaml"
    negative.write_text(region.read_text().replace("macro_budget: 37700000", "macro_budget: -37700000"))
    assert negative.read_text() != region.read_text()
    cases.append((["--settings", negative], ["negative.yaml", "macro_budget", "cannot be negative"]))
    cases.append((["--settings", good, "--regime", "fair"], ["regime"]))
    cases.append((["--setting", "cohort.relapse=sometimes"], ["cohort.relapse", "'new' or 'existing'"]))
    cases.append((["--setting", "variants={a: {cohort: {waitlisted: existing}}}"], ["variants.a", "cohort.waitlisted"]))
    cases.append((["--setting", "variants={a: {responsibility_year: 2024}}"], ["variants.a", "responsibility_year"]))
    cases.append((["--responsibility-year", 2015], ["responsibility_year: 2015", "after the run's first year"]))
    cases.append((["--setting", "wlz.year=2026"], ["wlz.year: 2026", "after the responsibility year"]))
    for args, needles in cases:
        result = cli(BASELINE, *args, "-n", 2, "--set", "end=2027-01-01", "--out", out)
        assert result.exit_code == 2, result.output
        text = " ".join(result.output.split())
        assert all(n in text for n in needles), (needles, result.output)
        assert not out.exists()


def test_cli_writes_the_report(tmp_path):
    """The default settings: the region's two tracks (both dates 2022 here, to fit the baseline's years)."""
    out = tmp_path / "res"
    result = cli(BASELINE, "--responsibility-year", 2022, "--start-year", 2022, "-n", 2, "-w", 1, "--seed", 3,
                 "--setting", "regional_pool=0.1", "--out", out)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Gap per municipality in 2022: two tracks: new clients local from 2022, ingroeipad from 2022" in text
    assert "current prices, base 2017" in text and "9 key and budget variants" in text
    assert "split at the Wlz date" in text  # the second cohort split ran (2021, before the cohort date 2022)
    names = {p.name for p in out.iterdir()}
    assert {"verdeel.csv", "sensitivity.csv", "report.md", "report.html", "overview.png", "municipalities.png",
            "existing.png", "sensitivity.png", "manifest.json", "municipality-haarlem.png",
            "municipality-uitgeest.png"} <= names
    frame = pd.read_csv(out / "verdeel.csv")
    assert set(frame.municipality) == set(run()[1].names) | {vd.REGION}
    assert {"budget", "cost_mean", "cost_ci_low", "gap_ci_high", "p_short", "in_bw_mean", "waiting_mean",
            "historic_amount", "objective_amount", "herverdeeleffect", "transfer", "wlz_moved_mean", "gap_band_low",
            "gap_band_high", "p_short_band", "prices"} <= set(frame)
    assert set(frame.prices) == {"current prices, base 2017"}
    region = frame[frame.municipality == vd.REGION].set_index("year")
    growth = 1.02 ** (region.index - 2017) * np.where(region.index >= 2021, 0.67, 1)  # index, Wlz cut
    assert np.allclose(region.budget, 37.7e6 * growth)
    assert np.allclose(region.herverdeeleffect, 0, atol=1)  # shares: budget-neutral by construction
    assert (frame.gap_band_low <= frame.gap_ci_low + 1e-6).all() and (frame.gap_band_high >= frame.gap_ci_high - 1e-6).all()
    assert region.loc[2021, "wlz_moved_mean"] > 0 and region.loc[2020, "wlz_moved_mean"] == 0
    variants = pd.read_csv(out / "sensitivity.csv")
    assert variants.variant.nunique() == 10 and set(variants.conclusion) <= {"short", "surplus", "either"}
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4 and "<img" in html and 'src="overview.png"' not in html
    md = (out / "report.md").read_text()
    assert "two tracks: from 1 January 2022 new clients are paid by their woonplaats" in md
    assert "Herverdeeleffect" in md and "Existing clients against the historic money" in md
    assert "holds under every variant" in md or ": not under " in md
    assert md.count("current prices, base 2017") >= 5  # every table and figure names its prices


def test_cli_on_dask_gives_the_same_numbers_as_the_local_run(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    from sim.experiment import replications
    from sim.experiment.executors import DaskExecutor

    used = []
    original = replications.run_replications

    def spy(*args, **kwargs):
        used.append(kwargs.get("executor"))
        return original(*args, **kwargs)

    monkeypatch.setattr(replications, "run_replications", spy)
    args = [BASELINE, "-n", 2, "-w", 2, "--seed", 5, "--responsibility-year", 2021, "--start-year", 2022]
    local = cli(*args, "--out", tmp_path / "local")
    dask = cli(*args, "--executor", "dask", "--out", tmp_path / "dask")
    assert local.exit_code == 0 and dask.exit_code == 0, (local.output, dask.output)
    # responsibility 2021 is the Wlz date too: one run split there serves both
    assert len(used) == 2 and used[0] is None and isinstance(used[1], DaskExecutor)
    assert (tmp_path / "dask" / "verdeel.csv").read_text() == (tmp_path / "local" / "verdeel.csv").read_text()


def test_the_library_re_exports_its_public_names_and_the_cli_module_imports_light():
    assert all(getattr(vd, name) is not None for name in vd.__all__)
    import subprocess
    import sys

    code = ("import sys, sim.cli.verdeel; "
            "print(sorted(m for m in ('numpy', 'pandas', 'matplotlib', 'scipy') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    assert loaded == "[]"


# ---------------------------------------------------------------- two dates, and the money for new clients


def test_two_dates_responsibility_moves_before_the_money():
    """New clients are their woonplaats's from the responsibility year; the money stays on the historic
    key until the ingroeipad starts, and nothing reaches the other municipalities unless passed on."""
    results, table, _ = run()
    a = assessment(regime="two_track", responsibility_year=START, start_year=START + 2)
    years = np.array(a.years)
    existing, new = vd.cohort_costs(results)
    haarlem = index("Haarlem")
    moved = years >= START
    assert np.allclose(a.fraction[years < START + 2], 0) and a.fraction[years == START + 3] == 0.25
    expected = new.copy()
    expected[:, haarlem] += existing.sum(1)
    assert np.allclose(a.cost[:, :, moved], expected[:, :, moved])  # the bill moved in START
    historic = years < START + 2
    assert np.allclose(a.budget[haarlem, historic], BUDGET) and np.allclose(a.budget[:, historic].sum(0), BUDGET)
    others = [m for m in range(len(table.names)) if m != haarlem]
    window = moved & historic
    assert np.all(a.p_short()[others][:, window] == (a.cost[:, others][:, :, window] > 0).mean(0))
    assert a.transfers.sum() == 0 and not a.passed_on.any()


def test_pass_on_gives_each_its_key_share_of_the_expected_cost_of_new_clients():
    results, table, _ = run()
    a = assessment(regime="two_track", responsibility_year=START, start_year=START + 1, phase_in=[0, 1],
                   pass_on={"amount": "expected_cost", "key": "inflow_share"})
    years = np.array(a.years)
    new = vd.cohort_costs(results)[1]
    haarlem = index("Haarlem")
    first = a.years.index(START)  # responsibility year, money still historic: everything is passed on
    expected = new[:, :, first].sum(1).mean()
    assert np.isclose(a.passed_on[first], expected)
    assert np.allclose(a.transfers.sum(0), 0)  # money moves, the region's total does not
    assert np.allclose(a.budget.sum(0), BUDGET)
    others = [m for m in range(len(table.names)) if m != haarlem]
    assert np.allclose(a.budget[others, first], table.inflow[others] * expected)
    assert np.isclose(a.budget[haarlem, first], BUDGET - (1 - table.inflow[haarlem]) * expected)
    # each carries only the chance that its own new clients cost more than expected
    gap = a.gap[:, :, first].mean(0)
    assert np.isclose(gap[others].sum(), (table.inflow[others] * expected).sum() - new[:, others, first].sum(1).mean())
    assert np.all(a.passed_on[years < START] == 0)
    # once the objective part is larger than the expected cost, nothing more is passed on
    late = years == START + 2
    assert a.fraction[late] == 1 and a.passed_on[late] == 0


def test_pass_on_of_a_fixed_amount_grows_with_the_budget_index():
    a = assessment(regime="two_track", responsibility_year=START, start_year=START + 2, price_year=START,
                   budget_index=0.1,
                   pass_on={"amount": {START: 1e6}, "key": "objective_share"})
    k = a.years.index(START)
    assert np.isclose(a.passed_on[k], 1e6) and np.isclose(a.passed_on[k + 1], 1.1e6)
    velsen = index("Velsen")
    assert np.isclose(a.transfers[velsen, k + 1], 1.1e6 * run()[1].objective[velsen])


# ---------------------------------------------------------------- the macro budget's path and the prices


def test_budget_and_cost_follow_their_own_price_paths_and_the_wlz_cut():
    results = run()[0]
    plain = assessment(regime="historic")
    a = assessment(regime="historic", price_year=2017, budget_index={2015: 0.02, 2019: 0.04}, cost_index=0.05,
                   wlz={"year": 2018, "budget_share": 0.25})
    years = np.array(a.years)
    budget_index = np.array([1 / 1.02 ** 2, 1 / 1.02, 1, 1.02, 1.02 * 1.04, 1.02 * 1.04 ** 2, 1.02 * 1.04 ** 3,
                             1.02 * 1.04 ** 4])
    assert np.allclose(a.macro, BUDGET * budget_index * np.where(years >= 2018, 0.75, 1))
    assert np.allclose(a.cost, plain.cost * 1.05 ** (years - 2017))
    assert np.allclose(a.regional_cost, results.yearly[:, YEARLY_ROW["cost"], :] * 1.05 ** (years - 2017))
    assert a.prices == "current prices, base 2017" and plain.prices == "the scenario's prices"
    assert vd.price_label(settings(price_year=2017)) == "2017 prices"
    neutral = assessment(regime="objective", macro_budget="scenario_cost", cost_index=0.05, price_year=2017,
                         wlz={"year": 2018, "budget_share": 0.25})
    assert np.allclose(neutral.macro, neutral.regional_cost.mean(0))  # follows the cost: no index or cut on top
    with pytest.raises(vd.VerdeelError, match="price_year: missing"):
        settings(cost_index=0.02)


def test_published_amounts_are_not_rescaled_and_show_the_herverdeeleffect(tmp_path):
    table = run()[1]
    population = table.column("population_share")
    rows = ["municipality,year,historic_amount,objective_amount"]
    for year, historic, objective in ((2017, 30e6, 33e6), (2020, 32e6, 30e6)):
        for name, share in zip(table.names, population):
            rows.append(f"{name},{year},{historic if name == 'Haarlem' else 0},{objective * share}")
    amounts = tmp_path / "amounts.csv"
    amounts.write_text("\n".join(rows) + "\n")
    a = assessment(regime="objective", macro_budget=None, amounts=str(amounts), price_year=2017, budget_index=0.1)
    years = np.array(a.years)
    assert np.allclose(a.historic_amount.sum(0), np.where(years < 2020, 30e6 * 1.1 ** (years - 2017),
                                                          32e6 * 1.1 ** (years - 2020)))
    region = a.herverdeeleffect.sum(0)
    assert np.allclose(region[years == 2018], 3e6 * 1.1) and np.allclose(region[years == 2021], -2e6 * 1.1)
    assert np.allclose(a.budget[:, after(a)], a.objective_amount[:, after(a)])  # objective from START, as published
    assert np.allclose(a.budget[:, ~after(a)], a.historic_amount[:, ~after(a)])
    frame = a.frame()
    assert np.isclose(frame[(frame.municipality == vd.REGION) & (frame.year == 2018)].herverdeeleffect.iloc[0],
                      3.3e6)
    for broken, needle in ((rows[:-1], "2020: no amounts for Haarlemmermeer"),
                           (rows + ["Amsterdam,2020,1,1"], "'Amsterdam' is not in the municipality table"),
                           (rows + [rows[1]], "listed twice"),
                           ([rows[0], rows[1].replace(",30000000.0,", ",-5,")] + rows[2:], "expected euros ≥ 0")):
        amounts.write_text("\n".join(broken) + "\n")
        with pytest.raises(vd.VerdeelError, match=needle):
            vd.prepare(BASELINE, settings(amounts=str(amounts)))


# ---------------------------------------------------------------- the Wlz move and the cohort rule


def test_wlz_move_takes_that_share_of_the_clients_in_care_on_the_date_with_their_cost():
    results, table, _ = run()
    split = wlz_run()
    assert split.scenario.attribution.cohort_date == dt.date(WLZ_YEAR, 1, 1)
    assert np.array_equal(split.yearly, results.yearly, equal_nan=True)  # the cohort date moves no client: the same run
    a = vd.assess(results, settings(regime="two_track", wlz={"year": WLZ_YEAR, "client_share": 0.3}), table,
                  wlz_results=split)
    plain = assessment(regime="two_track")
    years = np.array(a.years)
    before = vd.cohort_costs(split)[0]  # clients placed before 1 January WLZ_YEAR
    moved = np.where(years >= WLZ_YEAR, 0.3 * before, 0)
    assert moved[:, :, years >= WLZ_YEAR].sum() > 0
    assert np.allclose(a.wlz_moved, moved)
    assert np.allclose(a.regional_cost, plain.regional_cost - moved.sum(1))
    assert np.allclose(a.existing_cost, plain.existing_cost - moved) and a.existing_cost.min() >= -1e-6
    assert np.allclose(a.cost.sum(1), a.regional_cost)
    with pytest.raises(vd.VerdeelError, match="split at 2017-01-01 too"):
        vd.assess(results, settings(regime="two_track", wlz={"year": WLZ_YEAR, "client_share": 0.3}), table)
    with pytest.raises(vd.VerdeelError, match="wlz.year: 2020 is after the responsibility year 2019"):
        vd.prepare(BASELINE, settings(regime="two_track", wlz={"year": 2020, "client_share": 0.3}))


def test_cohort_rule_moves_existing_clients_ambulant_care_to_their_woonplaats():
    results, table, _ = run()
    centre = assessment(regime="two_track")
    local = assessment(regime="two_track", cohort={"ambulant_after_exit": "woonplaats"})
    days = results.municipal[:, :, 0, MUNICIPAL_ROW["ambulant_days"], :]
    ambulant = days * results.scenario.costs.ambulant_day
    late = after(local)
    haarlem = index("Haarlem")
    shift = np.where(late, ambulant, 0)
    assert shift[:, :, late].sum() > 0
    expected = centre.cost + shift
    expected[:, haarlem] -= shift.sum(1)
    assert np.allclose(local.cost, expected)
    assert np.allclose(local.cost.sum(1), centre.cost.sum(1))


def test_cohort_rule_counts_the_waitlisted_and_relapses_as_existing_when_asked():
    """The same clients, labelled otherwise: more of the cost is existing (the centrumgemeente's),
    the region's cost is the same, and a run labelled by another rule is refused."""
    rule = settings(regime="two_track", cohort={"waitlisted": "existing", "relapse": "existing"})
    overrides = [o for o in vd.scenario_overrides(rule) if "cohort_date" not in o]
    assert overrides == ["attribution.existing=waitlisted", "attribution.relapse=existing"]
    labelled, table, notes = run(*overrides)
    plain, _, _ = run()
    wide = vd.assess(labelled, rule, table, notes)
    narrow = vd.assess(plain, settings(regime="two_track"), table, notes)
    reps = len(wide.cost)
    assert np.allclose(wide.regional_cost, narrow.regional_cost[:reps])  # the first replications are the same run
    late = after(wide)
    more = wide.existing_cost[:, :, late].sum() - narrow.existing_cost[:reps, :, late].sum()
    assert more > 0 and np.all(wide.existing_cost >= narrow.existing_cost[:reps] - 1e-6)
    haarlem = index("Haarlem")
    assert np.all(wide.cost[:, haarlem, late] >= narrow.cost[:reps, haarlem, late] - 1e-6)
    assert np.allclose(wide.cost.sum(1), wide.regional_cost)
    with pytest.raises(vd.VerdeelError, match=r"cohort.waitlisted: existing needs .*attribution.existing = waitlisted"):
        vd.assess(plain, rule, table)


# ---------------------------------------------------------------- keys and their sensitivity


def test_variants_are_the_settings_with_their_keys_changed_and_the_band_holds_them_all():
    results, table, notes = run()
    variants = {"clients": {"objective_column": "inflow_share"}, "neutral": {"macro_budget": "scenario_cost"},
                "city": {"objective_column": "objective_centre_weighted"}}
    a = assessment(regime="objective", variants=variants)
    assert list(a.variants) == list(variants)
    for name, changes in variants.items():
        alone = vd.assess(results, settings(regime="objective", **changes), table)
        assert np.allclose(a.variants[name].budget, alone.budget) and np.allclose(a.variants[name].gap, alone.gap)
    low, high, short = a.band()
    for b in a.all_assessments().values():
        _, lo, hi = mean_ci(vd.with_region(b.gap))
        assert np.all(low <= lo + 1e-6) and np.all(high >= hi - 1e-6)
    assert np.allclose(short, np.mean([vd.probability_short(vd.with_region(b.gap)) for b in
                                       a.all_assessments().values()], 0))
    robust = a.robustness(2022).set_index("municipality")
    frame = a.sensitivity_frame()
    said = frame[frame.year == 2022].set_index(["municipality", "variant"]).conclusion
    for name in robust.index:
        assert robust.loc[name, "changes_under"] == [v for v in a.all_assessments()
                                                     if said[(name, v)] != said[(name, "as set")]]
    assert robust.loc[vd.REGION, "changes_under"] == ["neutral"]  # the region's total changes with the budget only
    with pytest.raises(vd.VerdeelError, match=r"variants\.x: responsibility_year: a variant cannot change it"):
        settings(variants={"x": {"responsibility_year": 2020}})
    with pytest.raises(vd.VerdeelError, match=r"variants\.x: pool: unknown key"):
        settings(variants={"x": {"pool": 0.1}})


def test_woonplaats_reweighting_keeps_every_regional_total_and_moves_cost_by_the_share_ratio():
    results, table, _ = run()
    plain = assessment(regime="objective")
    a = assessment(regime="objective", woonplaats_column="population_share")
    assert np.allclose(a.residents_cost.sum(1), plain.residents_cost.sum(1))  # replication by replication
    ratio = table.column("population_share") / table.inflow
    for cohort in (lambda b: b.existing_cost, lambda b: b.residents_cost - b.existing_cost):
        before, now = cohort(plain), cohort(a)
        scaled = before * ratio[None, :, None]
        assert np.allclose(now, scaled * before.sum(1, keepdims=True) / scaled.sum(1, keepdims=True))
    assert np.allclose(a.people["in_bw"].sum(1), plain.people["in_bw"].sum(1))


def test_the_woonplaats_does_not_change_anyones_journey():
    """The reweighting rests on this: a client's municipality is drawn from a stream of its own, so other
    woonplaats shares give the same clients the same journeys (replication r depends on the seed and r only)."""
    other = run("inflow.municipalities.Uitgeest=0", "inflow.municipalities.Haarlem=0.408")[0]
    assert np.array_equal(other.yearly, run()[0].yearly[:3], equal_nan=True)
    assert not np.array_equal(other.municipal, run()[0].municipal[:3])


def test_the_regions_settings_load_and_every_number_is_sourced_or_an_assumption():
    region = vd.load_settings(HAARLEM / "verdeel-2025.yaml")
    default = vd.load_settings(HAARLEM / "verdeel.yaml")
    assert default.model_dump() == region.model_dump()  # the default is the region's arrangement
    assert (region.regime, region.responsibility, region.start_year) == ("two_track", 2025, 2026)
    assert region.pass_on.amount == vd.EXPECTED_COST and len(region.variant_settings) == 9
    text = (HAARLEM / "verdeel-2025.yaml").read_text()
    assert "gmb-2025-4271" in text and "not in the repository" in text
    for line in (l for l in text.splitlines() if l and not l.startswith((" ", "#")) and ":" in l):
        key = line.split(":")[0]
        comment = text[:text.index(line)].rsplit("\n\n", 1)[-1]
        assert key in ("regime", "municipalities", "objective_column", "variants", "cohort", "pass_on") or any(
            word in comment for word in ("000:", "001:", "003:", "004:", "assumption", "literature", "derived",
                                         "public source")), key


def test_years_after_the_run_are_historic_with_a_note_and_one_split_serves_the_other_regimes():
    region = vd.load_settings(HAARLEM / "verdeel.yaml")  # responsibility 2025, ingroeipad 2026: after the run
    sc, table, notes = vd.prepare(BASELINE, region)
    assert sc.attribution.cohort_date is None  # nobody's responsibility moves within the run
    assert any("after the run's last year 2022: the whole run is historic" in n for n in notes)
    assert any("the ingroeipad starts in 2026" in n for n in notes)
    split = vd.wlz_scenario(sc, region)
    assert split.attribution.cohort_date == dt.date(2021, 1, 1)  # the Wlz move is within the run
    results = run_replications(sc, 2, seed=SEED, workers=1)
    a = vd.assess(results, region, table, notes, run_replications(split, 2, seed=SEED, workers=1))
    assert np.allclose(a.fraction, 0) and not a.transfers.any()
    assert np.allclose(a.cost[:, table.names.index("Haarlem")], a.regional_cost)  # Haarlem pays for everyone
    assert a.existing_cost.sum() == 0 and a.wlz_moved[:, :, -1].sum() > 0  # the move comes out of the new cohort
    assert a.residents_cost.min() >= 0
    # a regime that needs no cohort split at the responsibility year is split at the Wlz date: one run
    phased = vd.load_settings(HAARLEM / "verdeel.yaml", ["regime=phased", "start_year=2019"])
    sc, _, _ = vd.prepare(BASELINE, phased)
    assert sc.attribution.cohort_date == dt.date(2021, 1, 1) and vd.wlz_scenario(sc, phased) is None
    b = vd.assess(run_replications(sc, 2, seed=SEED, workers=1), phased, table)
    assert np.allclose(b.wlz_moved, a.wlz_moved) and np.allclose(b.regional_cost, a.regional_cost)


def test_cli_bad_lang_is_one_line_exit_2_before_anything_runs(tmp_path):
    out = tmp_path / "res"
    result = runner.invoke(app, ["verdeel", str(BASELINE), "-n", "2", "--lang", "fr", "--out", str(out)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["error: --lang fr: expected one of en, nl"]
    assert not out.exists()


@pytest.mark.parametrize("command", ["verdeel", "new-region", "solve", "solve steady-state"])
def test_verdeel_new_region_and_solve_show_an_example_in_their_help(command):
    result = runner.invoke(app, [*command.split(), "--help"], terminal_width=200)
    text = " ".join(result.output.split())
    example = "Example: bwsim solve steady-state " if command.startswith("solve") else f"Example: bwsim {command} "
    assert result.exit_code == 0 and example in text, text


def test_euros_counts_and_shares_as_each_language_writes_them():
    from sim.report.templating import check_lang, euros, millions, number, percent

    assert euros(1_234_567.8, "nl") == "€ 1,2 mln" and euros(1_234_567.8, "en") == "€1.2m"
    assert euros(12_345.4, "nl") == "€ 12.345" and euros(12_345.4, "en") == "€12,345"
    assert euros(-3_760_000, "nl", sign=True) == "€ −3,8 mln" and euros(250_000, "nl", sign=True) == "€ +250.000"
    assert euros(400_000, "nl", mln=True) == "€ 0,4 mln" and euros(float("nan"), "nl") == "–"
    assert millions(-3_871_000, "nl") == "−3,87" and millions(-0.001, "nl", sign=True) == "0,00"
    assert number(1234.5, 1, "nl") == "1.234,5" and number(1234.5, 1, "en") == "1,234.5"
    assert percent(0.456, "nl") == "46%" and percent(0.05, "nl", 1) == "5,0%"
    with pytest.raises(ValueError, match="--lang fr: expected one of en, nl"):
        check_lang("fr")


# ---------------------------------------------------------------- national shares

#: the region's share of the national macro budget by the historic key and by the objective key (made up)
NATIONAL_HISTORIC, NATIONAL_OBJECTIVE = 0.025, 0.021


def national(rows):
    """The table's key columns as shares of a national macro budget: the region holds 2.5% of it
    by the historic key and 2.1% by the objective key."""
    for row in rows:
        row["historic_share"] = repr(float(row["historic_share"]) * NATIONAL_HISTORIC)
        row["objective_share"] = repr(float(row["objective_share"]) * NATIONAL_OBJECTIVE)
    return rows


def test_national_shares_of_a_national_budget_show_the_regions_own_herverdeeleffect(tmp_path):
    """The same historic money as the regional key with the region's budget, the objective key's
    amounts scaled by the region's objective share against its historic one, and the region's
    herverdeeleffect no longer 0; the costs are untouched."""
    results, table, notes = run()
    path = write_table(tmp_path / "national.csv", national)
    nat = settings(regime="two_track", shares="national", municipalities=str(path),
                   macro_budget=BUDGET / NATIONAL_HISTORIC)
    scenario = results.scenario
    national_table, _ = vd.check_against_scenario(
        vd.read_municipalities(path, national=nat.national_columns, extra=("inflow_share",)), scenario)
    regional = vd.assess(results, settings(regime="two_track"), table, notes)
    a = vd.assess(results, nat, national_table, notes)
    assert np.allclose(a.historic_amount, regional.historic_amount)
    assert np.allclose(a.objective_amount, regional.objective_amount * NATIONAL_OBJECTIVE / NATIONAL_HISTORIC)
    region = a.herverdeeleffect.sum(0)
    assert np.allclose(region, (NATIONAL_OBJECTIVE / NATIONAL_HISTORIC - 1) * regional.historic_amount.sum(0))
    assert np.all(region < 0) and np.allclose(regional.herverdeeleffect.sum(0), 0)
    assert np.allclose(a.cost, regional.cost) and np.allclose(a.cost.sum(1), a.regional_cost)
    assert nat.national_columns == ["historic_share", "objective_share"]


def test_national_shares_are_refused_where_they_cannot_mean_anything(tmp_path):
    path = write_table(tmp_path / "national.csv", national)
    with pytest.raises(vd.VerdeelError, match="scenario_cost is the region's own cost"):
        settings(shares="national", municipalities=str(path), macro_budget="scenario_cost")
    with pytest.raises(vd.VerdeelError, match="the shares must sum to 1"):  # national shares read as regional
        vd.prepare(BASELINE, settings(municipalities=str(path)))
    with pytest.raises(vd.VerdeelError, match="inflow_share: named as a national key column and as a regional"):
        vd.prepare(BASELINE, settings(shares="national", municipalities=str(path), objective_column="inflow_share"))
    over = write_table(tmp_path / "over.csv", lambda rows: [dict(r, historic_share="0.5") for r in rows])
    with pytest.raises(vd.VerdeelError, match="historic_share: national shares must sum to more than 0 and at most 1"):
        vd.prepare(BASELINE, settings(shares="national", municipalities=str(over)))
