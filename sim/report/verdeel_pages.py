"""The verdeelmodel's pages for people: one page per municipality (``gemeenten/<name>.html``, a
one-page summary for the wethouder that prints on one A4), their index and, in Dutch, the whole
report (``report.html``). The numbers are gathered here (:func:`municipal_page`,
:func:`report_context`); every word is in the templates (:mod:`.templating`)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

from .. import __version__
from ..experiment.replications import mean_ci
from ..policy.verdeel import REGION, SCENARIO_COST, Assessment
from .templating import data_uri, render

#: The folder of the municipal pages inside the verdeel output folder.
PAGES = "gemeenten"
#: At most this many years in a municipal page's table (it must fit on one A4 page).
PAGE_YEARS = 10


def conclusion(low: float, high: float) -> str:
    """What a 95% interval of a gap says: ``short``, ``surplus`` or ``either``."""
    return "short" if high < 0 else "surplus" if low > 0 else "either"


def shown_years(a: Assessment) -> list[int]:
    """The years a table shows: from the year before the new model (at most :data:`PAGE_YEARS`)."""
    first = a.settings.first_year - 1
    years = [y for y in a.years if y >= first] or a.years
    return years[-PAGE_YEARS:]


def run_info(a: Assessment, extra: dict | None = None) -> dict:
    """The provenance every page states: scenario, replications, seed, years, version, date."""
    extra = extra or {}
    return {"scenario": a.scenario_name, "scenario_file": extra.get("scenario_file"),
            "settings_file": extra.get("settings_file"), "overrides": list(extra.get("scenario_overrides") or []),
            "replications": a.replications, "seed": a.seed, "first": a.years[0], "last": a.years[-1],
            "version": __version__, "date": dt.date.today().isoformat(),
            # posterior draws when the run was calibrated (none: first guesses), and the fitted keys set instead
            "draws": extra.get("draws"), "per_draw": extra.get("per_draw"), "fixed": list(extra.get("fixed") or [])}


def money_info(a: Assessment, year: int) -> dict:
    """The regime and the macro budget, as data for the templates' sentences."""
    s = a.settings
    k = a.years.index(year)
    macro = s.macro_budget
    return {"year": year, "regime": s.regime, "start": s.start_year, "responsibility": s.responsibility,
            "full": s.full_year, "first": s.first_year, "phase_in": list(s.phase_in),
            "fraction": float(a.fraction[k]), "price_year": s.price_year, "prices_current": bool(
                s.budget_index or s.cost_index),
            "macro_kind": "amounts" if s.amounts is not None else "scenario_cost" if macro == SCENARIO_COST
            else "path" if isinstance(macro, dict) else "fixed",
            "national": s.shares == "national" and s.amounts is None,
            "historic_total_share": float(a.table.historic.sum()),
            "objective_total_share": float(a.table.column(s.objective_column).sum()),
            "macro_base": macro if isinstance(macro, (int, float)) else None,
            "macro_path": sorted(macro.items()) if isinstance(macro, dict) else [],
            "amounts_file": Path(s.amounts).name if s.amounts is not None else None,
            "budget_index": s.budget_index if not isinstance(s.budget_index, dict) else None,
            "cost_index": s.cost_index if not isinstance(s.cost_index, dict) else None,
            "macro_year": float(a.macro[k]), "macro_first": float(a.macro[0]), "macro_last": float(a.macro[-1]),
            "pool": s.regional_pool, "wlz_year": s.wlz.year, "wlz_budget_share": s.wlz.budget_share,
            "wlz_client_share": s.wlz.client_share, "objective_column": s.objective_column,
            "pass_on_key": s.pass_on.key, "passes_on": bool(s.pass_on.amount) and s.regime == "two_track", "table": a.table.path.name, "variants": list(a.variants)}


def _people(a: Assessment) -> np.ndarray:
    """[municipality, year] residents in BW and on the waitlist on 31 December, mean over replications."""
    return (a.people["in_bw"] + a.people["waiting"]).mean(0)


def year_row(a: Assessment, m: int, k: int) -> dict:
    """Municipality ``m`` (or the region, ``m`` = len) in year index ``k``: people, money, the gap."""
    region = m == len(a.municipalities)

    def stat(values: np.ndarray) -> tuple[float, float, float]:
        v = values.sum(1) if region else values[:, m]
        mean, lo, hi = mean_ci(v[:, k][:, None])
        return float(mean[0]), float(lo[0]), float(hi[0])

    gap = stat(a.gap)
    pick = (lambda v: v.sum(0)[k]) if region else (lambda v: v[m, k])
    shorts = (a.gap.sum(1) if region else a.gap[:, m])[:, k] < 0
    return {"year": a.years[k], "in_bw": stat(a.people["in_bw"])[0], "waiting": stat(a.people["waiting"])[0],
            "residents_cost": stat(a.residents_cost)[0], "existing_cost": stat(a.existing_cost)[0],
            "cost": stat(a.cost), "budget": float(pick(a.budget)), "funds": stat(a.funds)[0],
            "transfer": float(pick(a.transfers)), "gap": gap, "p_short": float(np.mean(shorts)),
            "conclusion": conclusion(gap[1], gap[2])}


def municipal_page(a: Assessment, m: int, year: int, figure: Path, extra: dict | None = None) -> dict:
    """Everything the page of municipality ``m`` says, for ``year`` and year by year."""
    k = a.years.index(year)
    name = a.municipalities[m]
    centre = a.table.centrumgemeente
    people = _people(a)
    now = year_row(a, m, k)
    budget_total = a.budget[:, k].sum()
    low, high, shorts = a.band()
    return {
        "name": name, "centre": centre, "is_centre": name == centre, "year": year, "prices": a.prices,
        "now": now, "rows": [year_row(a, m, a.years.index(y)) for y in shown_years(a)],
        "drivers": {
            "client_share": float(people[m, k] / people[:, k].sum()) if people[:, k].sum() > 0 else 0.0,
            "budget_share": float(a.budget[m, k] / budget_total) if budget_total > 0 else 0.0,
            "objective_share": float(a.table.column(a.settings.objective_column)[m]),
            "herverdeeleffect": float(a.herverdeeleffect[m, k]),
            "existing_own": now["existing_cost"], "new_own": now["residents_cost"] - now["existing_cost"],
            "centre_existing": float(a.centre_existing[:, k].mean()),
        },
        "band": ({"low": float(low[m, k]), "high": float(high[m, k]), "p_short": float(shorts[m, k]),
                  "count": len(a.variants)} if a.variants else None),
        "money": money_info(a, year), "run": run_info(a, extra), "figure": data_uri(figure),
    }


def page_name(name: str) -> str:
    from .verdeel_report import slug

    return f"{slug(name)}.html"


def write_municipal_pages(a: Assessment, folder: Path, year: int, figures: dict[str, Path], lang: str,
                          extra: dict | None = None) -> list[Path]:
    """``folder/gemeenten/<name>.html`` for every municipality and ``folder/gemeenten/index.html``."""
    pages = folder / PAGES
    pages.mkdir(exist_ok=True)
    written, entries = [], []
    for m, name in enumerate(a.municipalities):
        page = municipal_page(a, m, year, figures[name], extra)
        path = pages / page_name(name)
        path.write_text(render("gemeente", lang, page=page), encoding="utf-8")
        written.append(path)
        entries.append({"name": name, "file": path.name, "now": page["now"], "is_centre": page["is_centre"]})
    index = {"year": year, "prices": a.prices, "entries": entries, "region": year_row(a, len(a.municipalities),
                                                                                       a.years.index(year)),
             "money": money_info(a, year), "run": run_info(a, extra), "centre": a.table.centrumgemeente}
    path = pages / "index.html"
    path.write_text(render("gemeenten_index", lang, index=index), encoding="utf-8")
    return written + [path]


def report_context(a: Assessment, year: int, paths: dict[str, Path], extra: dict | None = None) -> dict:
    """The whole report's numbers, for ``verdeel_report.<lang>.html.j2``."""
    k = a.years.index(year)
    n = len(a.municipalities)
    names = a.municipalities + [REGION]
    years = shown_years(a)
    left = a.historic_part - a.passed_on
    margin = left[None, :] - a.centre_existing
    cost_mean, cost_lo, cost_hi = mean_ci(a.centre_existing)
    m_mean, m_lo, m_hi = mean_ci(margin)
    existing = [{"year": y, "historic": float(a.historic_part[j]), "passed_on": float(a.passed_on[j]),
                 "left": float(left[j]), "cost": (float(cost_mean[j]), float(cost_lo[j]), float(cost_hi[j])),
                 "margin": (float(m_mean[j]), float(m_lo[j]), float(m_hi[j])),
                 "p_short": float(np.mean(margin[:, j] < 0))}
                for j, y in ((a.years.index(y), y) for y in years)]
    herverdeel = []
    for m, name in enumerate(names):
        h = a.historic_amount[:, k].sum() if m == n else a.historic_amount[m, k]
        o = a.objective_amount[:, k].sum() if m == n else a.objective_amount[m, k]
        herverdeel.append({"name": name, "region": m == n, "historic": float(h), "objective": float(o),
                           "effect": float(o - h), "relative": float((o - h) / h) if h > 0 else None})
    sensitivity = None
    if a.variants:
        frame = a.sensitivity_frame()
        frame = frame[frame.year == year]
        robust = a.robustness(year).set_index("municipality")
        variants = list(a.all_assessments())
        changes = {v: {key: json.dumps(value, ensure_ascii=False) for key, value in a.settings.variants.get(v, {}).items()}
                   for v in variants}
        sensitivity = {"variants": variants, "changes": changes,
                       "rows": []}
        for name in names:
            sub = frame[frame.municipality == name].set_index("variant")
            sensitivity["rows"].append({
                "name": name, "region": name == REGION,
                "cells": [{"gap": float(sub.loc[v, "gap_mean"]), "p_short": float(sub.loc[v, "p_short"]),
                           "conclusion": sub.loc[v, "conclusion"]} for v in variants],
                "conclusion": robust.loc[name, "conclusion"], "changes_under": list(robust.loc[name, "changes_under"])})
    low, high, shorts = a.band()
    rows = []
    for m, name in enumerate(names):
        row = year_row(a, m, k)
        row.update(name=name, region=m == n, file=None if m == n else f"{PAGES}/{page_name(name)}",
                   band=(float(low[m, k]), float(high[m, k]), float(shorts[m, k])) if a.variants else None)
        rows.append(row)
    path_rows = [{"name": name, "region": m == len(a.municipalities),
                  "cells": [year_row(a, m, a.years.index(y)) for y in years]} for m, name in enumerate(names)]
    figures = {key: data_uri(p) for key, p in paths.items() if p.exists()}
    files = {key: p.name for key, p in paths.items() if p.exists()}
    return {"year": year, "prices": a.prices, "centre": a.table.centrumgemeente, "rows": rows, "years": years,
            "path_rows": path_rows, "existing": existing, "herverdeel": herverdeel, "sensitivity": sensitivity,
            "figures": figures, "files": files, "money": money_info(a, year), "run": run_info(a, extra), "notes": list(a.notes),
            "pages": PAGES, "shares_only": a.settings.amounts is None and a.settings.shares == "regional", "cohort": a.settings.cohort.model_dump()}


def write_report_html(a: Assessment, folder: Path, year: int, paths: dict[str, Path], lang: str,
                      extra: dict | None = None, markdown: bool = False) -> Path:
    """``folder/report.html`` in ``lang``; with ``markdown`` also ``folder/report.md`` from the same
    numbers (the English report.md is written from :mod:`.blocks` instead)."""
    report = report_context(a, year, paths, extra)
    path = folder / "report.html"
    path.write_text(render("verdeel_report", lang, report=report), encoding="utf-8")
    if markdown:
        (folder / "report.md").write_text(render("verdeel_report", lang, "md", report=report), encoding="utf-8")
    return path
