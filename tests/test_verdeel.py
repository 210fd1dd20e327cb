"""The verdeelmodel: budgets per municipality under each regime against the cost each pays."""

from __future__ import annotations

import csv
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
from sim.experiment.replications import run_replications
from sim.record.metrics import YEARLY_ROW

HAARLEM = Path(__file__).resolve().parents[1] / "scenarios" / "haarlem"
BASELINE = HAARLEM / "baseline.yaml"
TABLE = HAARLEM / "municipalities.csv"
START, REPS, SEED = 2019, 6, 17
BUDGET = 40e6


def settings(**changes) -> vd.Settings:
    data = {"regime": "phased", "start_year": START, "macro_budget": BUDGET, "municipalities": str(TABLE),
            "phase_in": [0.0, 0.25, 0.5, 1.0]}
    data.update(changes)
    return vd.settings_from_mapping(data)


@lru_cache(maxsize=None)
def run(*overrides: str):
    """The baseline split into cohorts at the start year, and the table in the scenario's order."""
    sc, table, notes = vd.prepare(BASELINE, settings(), overrides)
    return run_replications(sc, REPS if not overrides else 3, seed=SEED, workers=1), table, notes


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
    rich = assessment(regime="objective", macro_budget=1e12)
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
    rows = [r for r in rows if r["municipality"] != "Uitgeest"]
    rows[0]["inflow_share"] = str(float(rows[0]["inflow_share"]) + 0.0139)
    rows[0]["objective_share"] = str(float(rows[0]["objective_share"]) + 0.0251)
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
    with pytest.raises(vd.VerdeelError, match="start_year: 2040 must be"):
        vd.prepare(BASELINE, settings(start_year=2040))
    with pytest.raises(vd.VerdeelError, match="column 'objective_2021' is missing"):
        vd.read_municipalities(TABLE, "objective_2021")


runner = CliRunner()


def cli(*args):
    return runner.invoke(app, ["verdeel", *(str(a) for a in args)], catch_exceptions=False)


def test_cli_bad_input_exits_with_code_2_and_writes_nothing(tmp_path):
    out = tmp_path / "res"
    good = HAARLEM / "verdeel.yaml"
    cases = []
    for name, edit, needle in (("bad.csv", bad_shares, "the shares must sum to 1"),
                               ("short.csv", without_uitgeest, "'Uitgeest' is in")):
        table = write_table(tmp_path / name, edit)
        cases.append((["--settings", good, "--setting", f"municipalities={table}"], [name, needle]))
    negative = tmp_path / "negative.yaml"
    negative.write_text(good.read_text().replace("macro_budget: 37700000", "macro_budget: -37700000"))
    assert negative.read_text() != good.read_text()
    cases.append((["--settings", negative], ["negative.yaml", "macro_budget", "cannot be negative"]))
    cases.append((["--settings", good, "--regime", "fair"], ["regime"]))
    for args, needles in cases:
        result = cli(BASELINE, *args, "-n", 2, "--out", out)
        assert result.exit_code == 2, result.output
        text = " ".join(result.output.split())
        assert all(n in text for n in needles), (needles, result.output)
        assert not out.exists()


def test_cli_writes_the_report(tmp_path):
    out = tmp_path / "res"
    result = cli(BASELINE, "--start-year", 2020, "--regime", "two_track", "-n", 2, "-w", 1, "--seed", 3,
                 "--setting", "regional_pool=0.1", "--out", out)
    assert result.exit_code == 0, result.output
    assert "Gap per municipality in 2022" in result.output and "Haarlemmermeer" in result.output
    names = {p.name for p in out.iterdir()}
    assert {"verdeel.csv", "report.md", "report.html", "overview.png", "municipalities.png", "manifest.json",
            "municipality-haarlem.png", "municipality-uitgeest.png"} <= names
    frame = pd.read_csv(out / "verdeel.csv")
    assert set(frame.municipality) == set(run()[1].names) | {vd.REGION}
    assert {"budget", "cost_mean", "cost_ci_low", "gap_ci_high", "p_short", "in_bw_mean", "waiting_mean"} <= set(frame)
    region = frame[frame.municipality == vd.REGION]
    assert np.allclose(region.budget, 37.7e6)
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2 and "<img" in html and 'src="overview.png"' not in html
    assert "two tracks from 2020" in (out / "report.md").read_text()


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
    args = [BASELINE, "-n", 2, "-w", 2, "--seed", 5]
    local = cli(*args, "--out", tmp_path / "local")
    dask = cli(*args, "--executor", "dask", "--out", tmp_path / "dask")
    assert local.exit_code == 0 and dask.exit_code == 0, (local.output, dask.output)
    assert used[0] is None and isinstance(used[1], DaskExecutor)  # the replications really ran on Dask
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
