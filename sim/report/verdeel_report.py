"""The verdeelmodel's results folder: ``verdeel.csv`` (every number with its CI, and the band over
the key and budget variants), ``sensitivity.csv`` (every variant), ``manifest.json``, the figures
(:mod:`.verdeel_plots`), ``report.md`` (in English a list of :mod:`.blocks`), ``report.html`` and a
page per municipality in English or Dutch (:mod:`.verdeel_pages`, worded in jinja2 templates),
written all or nothing. Every table names its prices."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..policy.verdeel import EXPECTED_COST, REGION, SCENARIO_COST, Assessment, Settings, VerdeelError
from .blocks import Block, Cell, fmt, render_markdown
from .output import atomic_folder, write_manifest
from .templating import check_lang, labels
from .verdeel_pages import PAGES, shown_years, write_municipal_pages, write_report_html
from .verdeel_plots import (MILLION, plot_existing, plot_grid, plot_municipality, plot_overview, plot_page,
                            plot_sensitivity)

REGIME_TEXT = {
    "historic": "the whole macro budget goes to the centrumgemeente, which pays for every client in the region",
    "objective": "from {start} each municipality receives its objective budget and pays for its own residents "
                 "(woonplaatsbeginsel)",
    "phased": "a regional shared purse (a regional option, not the national rule): along the ingroeipad from "
              "{start} a growing fraction of the budget is divided by the objective key and the rest goes to the "
              "centrumgemeente, and the bill moves with the money (that fraction of every client's cost is paid by "
              "their woonplaats, the rest by the centrumgemeente)",
    "two_track": "two tracks: from 1 January {resp} new clients are paid by their woonplaats; clients placed before "
                 "that date stay with the centrumgemeente{ambulant} and the historic part of the budget. The money "
                 "follows the historic key until the ingroeipad starts in {start}",
}


def money(value: float) -> str:
    """Euros as € million with two decimals (the unit is in the column header)."""
    return fmt(value / MILLION, 2)


def money_ci(mean: float, lo: float, hi: float) -> str:
    return f"{money(mean)} [{money(lo)}, {money(hi)}]"


def slug(text: str) -> str:
    """A municipality's name as part of a file name."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text).strip("-").lower() or "municipality"


def percent(rate) -> str:
    if isinstance(rate, dict):
        return ", ".join(f"{rate[y]:.1%} from {y}" for y in sorted(rate))
    return f"{rate:.1%} a year"


def describe(settings: Settings, centre: str = "the centrumgemeente") -> str:
    """The regime in words: dates, ingroeipad, what is passed on, the cohort rule, the pool."""
    s = settings
    ambulant = (" (their ambulant support after they leave is paid by their woonplaats)"
                if s.cohort.ambulant_after_exit == "woonplaats" else " (with their later ambulant support)")
    text = REGIME_TEXT[s.regime].format(start=s.start_year, resp=s.responsibility, ambulant=ambulant)
    if s.regime in ("phased", "two_track"):
        steps = ", ".join(f"{f:.0%}" for f in s.phase_in)
        text += f". Objective fraction from {s.start_year}: {steps} (100% from {s.full_year})"
    if s.regime == "two_track":
        rule = s.pass_on
        if rule.amount == EXPECTED_COST:
            amount = "the region's expected cost of the clients the municipalities pay for (the run's mean)"
        elif rule.amount:
            amount = ("€ " + ", ".join(f"{money(v)} m from {y}" for y, v in sorted(rule.amount.items()))
                      if isinstance(rule.amount, dict) else f"€ {money(rule.amount)} m a year") \
                + (f" ({s.price_year} prices, indexed)" if s.budget_index else "")
        else:
            amount = None
        if amount:
            text += (f". From {s.responsibility}, {centre} passes on {amount}, less the objective part of the budget, "
                     f"divided by {rule.key}")
        else:
            text += ". Nothing is passed on: until the ingroeipad the other municipalities pay from nothing"
        text += (f". Clients waiting on 1 January {s.responsibility} and relapses count as new (the only rule the "
                 "simulated metrics can compute)")
    if s.regional_pool > 0:
        text += (f". Regional pool: {s.regional_pool:.0%} of every budget covers deficits in proportion; "
                 "the rest is paid back")
    return text + "."


def describe_money(a: Assessment) -> str:
    """The macro budget, its path and the prices, in words."""
    s = a.settings
    if s.amounts is not None:
        text = f"Published amounts per municipality and year from {Path(s.amounts).name} (not rescaled)"
    elif s.macro_budget == SCENARIO_COST:
        text = "Macro budget: the run's own mean regional cost, year by year (budget-neutral)"
    else:
        base = (f"€ {money(s.macro_budget)} m a year" if not isinstance(s.macro_budget, dict)
                else ", ".join(f"€ {money(v)} m from {y}" for y, v in sorted(s.macro_budget.items())))
        text = f"Macro budget: {base}" + (f" in {s.price_year} prices" if s.price_year else "")
        if s.shares == "national":
            text = (f"National {text[0].lower()}{text[1:]}; the region's keys are national shares (historic "
                    f"{a.table.historic.sum():.3%}, objective {a.table.column(s.objective_column).sum():.3%} of it)")
    if s.macro_budget != SCENARIO_COST or s.amounts is not None:
        if s.budget_index:
            text += f", indexed {percent(s.budget_index)}"
        if s.wlz.budget_share:
            text += f", less {s.wlz.budget_share:.0%} from {s.wlz.year} (the Wlz move)"
    text += f"; the region receives € {money(a.macro[0])} m in {a.years[0]} and € {money(a.macro[-1])} m in {a.years[-1]}"
    text += ". Costs: the scenario's daily prices" + (f" of {s.price_year}" if s.price_year else "")
    if s.cost_index:
        text += f", indexed {percent(s.cost_index)}"
    if s.wlz.client_share:
        text += (f"; {s.wlz.client_share:.0%} of the clients in care on 1 January {s.wlz.year} leave for the Wlz with "
                 "their cost (and places)")
    if s.woonplaats_column:
        text += f"; the simulated woonplaats reweighted to {s.woonplaats_column}"
    return text + f". All euros in {a.prices}."


def year_table(a: Assessment, frame: pd.DataFrame, year: int) -> Block:
    """People, budget, cost and gap per municipality in one year (bold: short with 95% confidence)."""
    rows = []
    for name in a.municipalities + [REGION]:
        r = frame[(frame.municipality == name) & (frame.year == year)].iloc[0]
        short = r.gap_ci_high < 0
        row = [Cell(name, name == REGION), Cell(f"{r.in_bw_mean:.1f}"), Cell(f"{r.waiting_mean:.1f}"),
               Cell(money(r.residents_cost_mean)), Cell(money(r.budget)),
               Cell(money_ci(r.cost_mean, r.cost_ci_low, r.cost_ci_high)),
               Cell(money_ci(r.gap_mean, r.gap_ci_low, r.gap_ci_high), bool(short)), Cell(f"{r.p_short:.0%}")]
        if a.variants:
            row += [Cell(f"[{money(r.gap_band_low)}, {money(r.gap_band_high)}]"), Cell(f"{r.p_short_band:.0%}")]
        rows.append(row)
    header = ["municipality", "in BW (31 Dec)", "waiting (31 Dec)", "residents' care (€ m)", "budget (€ m)",
              "cost paid (€ m) [95% CI]", "gap (€ m) [95% CI]", "P(short)"]
    if a.variants:
        header += ["gap over the variants (€ m)", "P(short) over the variants"]
    return Block("table", header=header, rows=rows)


def path_table(a: Assessment, frame: pd.DataFrame, column: str = "gap") -> Block:
    """Gap (or P(short)) per municipality and year from the first year of the new model (bold: short
    with 95% confidence)."""
    years = [y for y in a.years if y >= a.settings.first_year] or a.years  # the whole run when it is all historic
    rows = []
    for name in a.municipalities + [REGION]:
        sub = frame[frame.municipality == name].set_index("year")
        cells = [Cell(money(sub.loc[y, "gap_mean"]) if column == "gap" else f"{sub.loc[y, 'p_short']:.0%}",
                      bool(sub.loc[y, "gap_ci_high"] < 0)) for y in years]
        rows.append([Cell(name)] + cells)
    label = f"gap (€ m, {a.prices})" if column == "gap" else "P(short)"
    return Block("table", header=[label] + [str(y) for y in years], rows=rows)


def existing_table(a: Assessment) -> Block:
    """The region, year by year: the historic part of the budget, what is passed on, what is left,
    the existing clients' cost to the centrumgemeente [CI], the margin [CI] and P(margin < 0)."""
    from ..experiment.replications import mean_ci

    years = [y for y in a.years if y >= min(a.settings.first_year, a.settings.responsibility) - 1][-12:] or a.years
    left = a.historic_part - a.passed_on
    margin = left[None, :] - a.centre_existing
    cost_mean, cost_lo, cost_hi = mean_ci(a.centre_existing)
    m_mean, m_lo, m_hi = mean_ci(margin)
    short = np.mean(margin < 0, axis=0)
    rows = []
    for y in years:
        k = a.years.index(y)
        rows.append([Cell(str(y)), Cell(money(a.historic_part[k])), Cell(money(a.passed_on[k])), Cell(money(left[k])),
                     Cell(money_ci(cost_mean[k], cost_lo[k], cost_hi[k])),
                     Cell(money_ci(m_mean[k], m_lo[k], m_hi[k]), bool(m_hi[k] < 0)), Cell(f"{short[k]:.0%}")])
    header = ["year", f"historic part (€ m, {a.prices})", "passed on for new clients", "left for existing clients",
              "existing clients' cost [95% CI]", "margin [95% CI]", "P(margin < 0)"]
    return Block("table", header=header, rows=rows)


def herverdeel_table(a: Assessment, year: int) -> Block:
    """Per municipality and for the region: historic amount, objective amount and the difference in ``year``."""
    k = a.years.index(year)
    rows = []
    for m, name in enumerate(a.municipalities + [REGION]):
        h = a.historic_amount[:, k].sum() if name == REGION else a.historic_amount[m, k]
        o = a.objective_amount[:, k].sum() if name == REGION else a.objective_amount[m, k]
        rows.append([Cell(name, name == REGION), Cell(money(h)), Cell(money(o)), Cell(fmt((o - h) / MILLION, 2, True)),
                     Cell(fmt(100 * (o - h) / h, 0, True) + "%" if h > 0 else "–")])
    header = ["municipality", f"historic (€ m, {year}, {a.prices})", "objective (€ m)", "herverdeeleffect (€ m)",
              "relative"]
    return Block("table", header=header, rows=rows)


def sensitivity_table(a: Assessment, year: int) -> Block:
    """The gap in ``year`` under the settings and each variant; the last column says whether the
    95% conclusion (short, surplus or either) holds under every variant."""
    frame = a.sensitivity_frame()
    frame = frame[frame.year == year]
    robust = a.robustness(year).set_index("municipality")
    names = list(a.all_assessments())
    rows = []
    for name in a.municipalities + [REGION]:
        sub = frame[frame.municipality == name].set_index("variant")
        cells = [Cell(f"{money(sub.loc[v, 'gap_mean'])} ({sub.loc[v, 'p_short']:.0%})",
                      bool(sub.loc[v, "conclusion"] == "short")) for v in names]
        changed = robust.loc[name, "changes_under"]
        verdict = f"{robust.loc[name, 'conclusion']}: " + ("holds under every variant" if not changed
                                                          else "not under " + "; ".join(changed))
        rows.append([Cell(name, name == REGION)] + cells + [Cell(verdict, not changed)])
    return Block("table", header=["gap (€ m) (P(short))"] + names + ["95% conclusion"], rows=rows)


def variants_text(a: Assessment) -> str:
    parts = []
    for name, variant in a.settings.variants.items():
        changes = "; ".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in variant.items())
        parts.append(f"“{name}”: {changes}")
    return "Variants (each is the settings with these keys changed, on the same simulated clients): " + \
        " · ".join(parts) + "."


def report_blocks(a: Assessment, frame: pd.DataFrame, year: int, paths: dict[str, Path],
                  calibrated: bool = False) -> list[Block]:
    s = a.settings
    centre = a.table.centrumgemeente
    blocks = [
        Block("h1", f"Verdeelmodel — {a.scenario_name}"),
        Block("p", f"{a.replications} replications, seed {a.seed}, {a.years[0]}–{a.years[-1]}. Made with bwsim "
                   f"{__version__} on {dt.date.today().isoformat()}. All euros in {a.prices}."),
        Block("p", f"Regime: {describe(s, centre)}"),
        Block("p", f"{describe_money(a)} Keys: {a.table.path.name} (historic: historic_share, all to {centre}; "
                   f"objective: {s.objective_column}). Before the first year of the new model every regime is the "
                   "historic one."),
        Block("h2", f"Gap per municipality in {year}"),
        year_table(a, frame, year),
        Block("note", "People: clients from the municipality (woonplaats) in a BW place and on the waitlist on "
                      "31 December. Residents' care: the cost of all care of the municipality's residents (places, "
                      "bridging, ambulant, beschermd thuis); cost paid: what the municipality pays under the regime. "
                      "Budget: its part of the money, after what is passed on. Gap: budget (after the regional pool, "
                      "if any) minus cost paid; negative means short. [95% CI]: the interval of the mean over "
                      "replications (how well the simulation knows the average); P(short): the share of replications "
                      "in which that year's gap is negative (the risk in a single year). Over the variants: the lowest "
                      "and highest CI bound under the settings and every key and budget variant, and P(short) over "
                      "all their replications. Bold: short with 95% confidence."),
        Block("image", f"Gap per municipality in {year} ({a.prices})", path=paths["overview"]),
        Block("h2", "Year by year"),
        path_table(a, frame),
        path_table(a, frame, "p_short"),
        Block("image", f"Cost paid (band) against budget (line) per municipality ({a.prices})", path=paths["grid"]),
        Block("h2", "Existing clients against the historic money"),
        Block("p", f"Clients placed before 1 January {s.responsibility} stay with {centre}, which keeps the historic "
                   "part of the budget for them. Does that money outlast them? The margin is the historic part, less "
                   "what is passed on for new clients, less the existing clients' cost to the centrumgemeente."),
        existing_table(a),
        Block("image", f"Existing clients' cost against the historic part of the budget ({a.prices})",
              path=paths["existing"]),
        Block("h2", "Herverdeeleffect: what the objective key moves"),
        herverdeel_table(a, year),
        Block("note", ("The amounts are shares of one macro budget, so the region's herverdeeleffect is 0 by "
                       "construction: what the objective key does to the region as a whole is hidden. Give the "
                       "published amounts (amounts: FILE.csv) or national shares (shares: national) to see it."
                       if s.amounts is None and s.shares == "regional" else
                       ("Published amounts" if s.amounts is not None else "National shares of the national macro "
                        "budget") + ", not rescaled: the region's herverdeeleffect is what the objective model "
                       "gives or takes from the region as a whole.")
              + f" In {year} the objective fraction is {a.fraction[a.years.index(year)]:.0%}: that much of the "
                "effect is in the budget."),
    ]
    if a.variants:
        blocks += [
            Block("h2", f"Sensitivity: which conclusions survive another key or budget ({year})"),
            sensitivity_table(a, year),
            Block("note", variants_text(a) + " Bold: short with 95% confidence. The conclusion is what the 95% CI "
                  "says (short, surplus, either); it holds when every variant says the same."),
            Block("image", f"Gap in {year} under each variant ({a.prices})", path=paths["sensitivity"]),
        ]
    blocks.append(Block("p", f"One page per municipality, to print on A4: {PAGES}/index.html in this folder "
                             "(bwsim verdeel --lang nl writes them, and this report, in Dutch)."))
    blocks.append(Block("note", "One PNG per municipality, and every number with its CI (verdeel.csv, sensitivity.csv), "
                                "are in this folder. The CIs and P(short) are the simulation's uncertainty (who "
                                "arrives, stays, leaves, from where)" + (
                                    " and that of the calibrated parameters (each replication runs on a posterior "
                                    "draw)" if calibrated else "; the model's own parameters are not varied (first "
                                    "guesses)") + "; the variants show what the keys and the budget do."))
    if a.notes:
        blocks.append(Block("h2", "Notes"))
        blocks += [Block("p", note) for note in a.notes]
    return blocks


def write_outputs(a: Assessment, out: str | Path, year: int | None = None, extra: dict | None = None,
                  lang: str = "en") -> Path:
    """verdeel.csv, sensitivity.csv, manifest.json, the figures, report.md, report.html and a page
    per municipality (``gemeenten/``, with an index), all or nothing. ``lang`` (en or nl): the
    language of report.md, report.html and the municipal pages."""
    try:
        check_lang(lang)
    except ValueError as exc:
        raise VerdeelError(str(exc)) from None
    year = a.years[-1] if year is None else year
    if year not in a.years:
        raise VerdeelError(f"year: {year} is not in the run ({a.years[0]}–{a.years[-1]})")
    frame = a.frame()
    with atomic_folder(out) as tmp:
        frame.to_csv(tmp / "verdeel.csv", index=False, float_format="%.6g")
        a.sensitivity_frame().to_csv(tmp / "sensitivity.csv", index=False, float_format="%.6g")
        write_manifest(tmp, {"settings": json.loads(a.settings.model_dump_json()), "scenario": a.scenario_name,
                             "municipalities_table": str(a.table.path), "seed": a.seed,
                             "replications": a.replications, "years": a.years, "report_year": year,
                             "prices": a.prices, "variants": list(a.variants), "notes": a.notes, "lang": lang,
                             **(extra or {})})
        paths = {"overview": tmp / "overview.png", "grid": tmp / "municipalities.png",
                 "existing": tmp / "existing.png", "sensitivity": tmp / "sensitivity.png"}
        words = labels("figuur", lang)
        plot_overview(a, year, paths["overview"], words)
        plot_grid(a, paths["grid"], words)
        plot_existing(a, paths["existing"], words)
        if a.variants:
            plot_sensitivity(a, year, paths["sensitivity"], words)
        for m, name in enumerate(a.municipalities):
            plot_municipality(a, m, tmp / f"municipality-{slug(name)}.png", words)
        (tmp / PAGES).mkdir()
        figures = {}
        for m, name in enumerate(a.municipalities):
            figures[name] = tmp / PAGES / f"{slug(name)}.png"
            plot_page(a, m, figures[name], words, first=shown_years(a)[0])
        write_municipal_pages(a, tmp, year, figures, lang, extra)
        if lang == "en":
            blocks = report_blocks(a, frame, year, paths, calibrated=bool((extra or {}).get("draws")))
            (tmp / "report.md").write_text(render_markdown(blocks), encoding="utf-8")
        write_report_html(a, tmp, year, paths, lang, extra, markdown=lang != "en")
    return Path(out)
