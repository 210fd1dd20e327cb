"""The verdeelmodel's results folder: ``verdeel.csv`` (every number with its CI),
``manifest.json``, the figures (:mod:`.verdeel_plots`), ``report.md`` and ``report.html``
(one list of :mod:`.blocks`, rendered twice), written all or nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..policy.verdeel import REGION, SCENARIO_COST, Assessment, Settings, VerdeelError
from .blocks import Block, Cell, fmt, render_html, render_markdown
from .output import atomic_folder, package_versions
from .verdeel_plots import MILLION, plot_grid, plot_municipality, plot_overview

REGIME_TEXT = {
    "historic": "the whole macro budget goes to the centrumgemeente, which pays for every client in the region",
    "objective": "from {start} each municipality receives its objective share of the macro budget and pays for "
                 "its own residents (woonplaatsbeginsel)",
    "phased": "ingroeipad from {start}: each year a growing fraction of the macro budget is divided by the "
              "objective key and the rest goes to the centrumgemeente; the bill moves with the money (that "
              "fraction of every client's cost is paid by their woonplaats, the rest by the centrumgemeente)",
    "two_track": "two tracks from {start}: clients in care before 1 January {start} (and their later ambulant "
                 "care) stay with the centrumgemeente, which keeps the historic part of the macro budget along "
                 "the ingroeipad; new clients are paid by their woonplaats from the objective part",
}


def money(value: float) -> str:
    """Euros as € million with two decimals (the unit is in the column header)."""
    return fmt(value / MILLION, 2)


def money_ci(mean: float, lo: float, hi: float) -> str:
    return f"{money(mean)} [{money(lo)}, {money(hi)}]"


def slug(text: str) -> str:
    """A municipality's name as part of a file name."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text).strip("-").lower() or "municipality"


def describe(settings: Settings) -> str:
    """The regime in words, with the ingroeipad and the regional pool."""
    text = REGIME_TEXT[settings.regime].format(start=settings.start_year)
    if settings.regime in ("phased", "two_track"):
        steps = ", ".join(f"{f:.0%}" for f in settings.phase_in)
        text += f". Objective fraction from {settings.start_year}: {steps} (100% from {settings.full_year})"
    if settings.regional_pool > 0:
        text += (f". Regional pool: {settings.regional_pool:.0%} of every budget covers deficits in proportion; "
                 "the rest is paid back")
    return text + "."


def year_table(a: Assessment, frame: pd.DataFrame, year: int) -> Block:
    """People, budget, cost and gap per municipality in one year (bold: short with 95% confidence)."""
    rows = []
    for name in a.municipalities + [REGION]:
        r = frame[(frame.municipality == name) & (frame.year == year)].iloc[0]
        short = r.gap_ci_high < 0
        rows.append([Cell(name, name == REGION), Cell(f"{r.in_bw_mean:.1f}"), Cell(f"{r.waiting_mean:.1f}"),
                     Cell(money(r.residents_cost_mean)), Cell(money(r.budget)),
                     Cell(money_ci(r.cost_mean, r.cost_ci_low, r.cost_ci_high)),
                     Cell(money_ci(r.gap_mean, r.gap_ci_low, r.gap_ci_high), bool(short)),
                     Cell(f"{r.p_short:.0%}")])
    header = ["municipality", "in BW (31 Dec)", "waiting (31 Dec)", "residents' care (€ m)", "budget (€ m)",
              "cost paid (€ m) [95% CI]", "gap (€ m) [95% CI]", "P(short)"]
    return Block("table", header=header, rows=rows)


def path_table(a: Assessment, frame: pd.DataFrame) -> Block:
    """Gap per municipality and year from the start year (bold: short with 95% confidence)."""
    years = [y for y in a.years if y >= a.settings.start_year]
    rows = []
    for name in a.municipalities + [REGION]:
        sub = frame[frame.municipality == name].set_index("year")
        rows.append([Cell(name)] + [Cell(money(sub.loc[y, "gap_mean"]), bool(sub.loc[y, "gap_ci_high"] < 0))
                                    for y in years])
    return Block("table", header=["gap (€ m)"] + [str(y) for y in years], rows=rows)


def report_blocks(a: Assessment, frame: pd.DataFrame, year: int, overview: Path, grid: Path) -> list[Block]:
    s = a.settings
    macro = ("the run's own mean regional cost, year by year (budget-neutral)" if s.macro_budget == SCENARIO_COST
             else f"€ {money(a.macro[-1])} m a year" if np.allclose(a.macro, a.macro[0])
             else ", ".join(f"{y}: € {money(v)} m" for y, v in zip(a.years, a.macro)))
    blocks = [
        Block("h1", f"Verdeelmodel: {s.regime} from {s.start_year} — {a.scenario_name}"),
        Block("p", f"{a.replications} replications, seed {a.seed}, {a.years[0]}–{a.years[-1]}. Made with bwsim "
                   f"{__version__} on {dt.date.today().isoformat()}."),
        Block("p", f"Regime: {describe(s)} Macro budget: {macro}. Shares: {a.table.path.name} (historic key: "
                   f"historic_share, all to {a.table.centrumgemeente}; objective key: {a.table.objective_column}). "
                   "Before the start year every regime is the historic one."),
        Block("h2", f"Gap per municipality in {year}"),
        year_table(a, frame, year),
        Block("note", "People: clients from the municipality (woonplaats) in a BW place and on the waitlist on "
                      "31 December. Residents' care: the cost of all care of the municipality's residents (places, "
                      "bridging, ambulant, beschermd thuis); cost paid: what the municipality pays under the regime. "
                      "Gap: budget (after the regional pool, if any) minus cost paid; negative means short. "
                      "[95% CI]: the interval of the mean over replications (how well the simulation knows the "
                      "average); P(short): the share of replications in which that year's gap is negative (the "
                      "risk in a single year). Bold: short with 95% confidence."),
        Block("image", f"Gap per municipality in {year}", path=overview),
        Block("h2", "Year by year"),
        path_table(a, frame),
        Block("image", "Cost paid (band) against budget (line) per municipality", path=grid),
        Block("note", "One PNG per municipality, and every number with its CI (verdeel.csv), are in this folder. "
                      "Uncertainty here is the simulation's (who arrives, stays, leaves, from where); the shares, "
                      "costs per day and the macro budget are inputs, and their uncertainty is not in the intervals."),
    ]
    if a.notes:
        blocks.append(Block("h2", "Notes"))
        blocks += [Block("p", note) for note in a.notes]
    return blocks


def write_outputs(a: Assessment, out: str | Path, year: int | None = None, extra: dict | None = None) -> Path:
    """verdeel.csv, manifest.json, the figures, report.md and report.html, all or nothing."""
    year = a.years[-1] if year is None else year
    if year not in a.years:
        raise VerdeelError(f"year: {year} is not in the run ({a.years[0]}–{a.years[-1]})")
    frame = a.frame()
    with atomic_folder(out) as tmp:
        frame.to_csv(tmp / "verdeel.csv", index=False, float_format="%.6g")
        manifest = {"settings": json.loads(a.settings.model_dump_json()), "scenario": a.scenario_name,
                    "municipalities_table": str(a.table.path), "seed": a.seed, "replications": a.replications,
                    "years": a.years, "report_year": year, "notes": a.notes, "packages": package_versions(),
                    **(extra or {})}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        overview, grid = tmp / "overview.png", tmp / "municipalities.png"
        plot_overview(a, year, overview)
        plot_grid(a, grid)
        for m, name in enumerate(a.municipalities):
            plot_municipality(a, m, tmp / f"municipality-{slug(name)}.png")
        blocks = report_blocks(a, frame, year, overview, grid)
        (tmp / "report.md").write_text(render_markdown(blocks), encoding="utf-8")
        (tmp / "report.html").write_text(render_html(blocks, blocks[0].text), encoding="utf-8")
    return Path(out)
