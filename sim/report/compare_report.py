"""A readable report of a scenario comparison: figures, a table, Markdown and HTML.

:func:`write_report` writes, all or nothing, a folder with the comparison's data
(``comparison.csv``, ``comparison.json``, ``arrays.npz``; see :mod:`sim.experiment.compare`),
one PNG per key metric with every scenario on the same axes, ``report.md`` (which
links the PNGs) and ``report.html`` (self-contained: the PNGs are embedded as
base64 data URIs, the CSS is inline).

The report is built once as a list of blocks (heading, paragraph, table, image)
and rendered to both formats, so the two always say the same thing.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

from .. import __version__
from ..analysis.calibrate.posterior import parameters_text
from ..experiment.compare import (Change, Comparison, Metric, crn_gain, informative, key_metrics, metric_kind,
                                  metric_values, save)
from ..experiment.replications import mean_ci
from ..record.metrics import MONTHLY_ROW, YEARLY_ROW
from .blocks import Block, Cell, fmt, render_html, render_markdown
from .figures import footnote, pyplot, save_png, style
from .output import atomic_folder, write_manifest
from .plots import CI_LABEL, band, draw_points, observed_points, observed_years

# ---------------------------------------------------------------- numbers


def level_text(row, digits: int) -> str:
    return f"{fmt(row['mean'], digits)} [{fmt(row.ci_low, digits)}, {fmt(row.ci_high, digits)}]"


def diff_text(row, digits: int) -> str:
    return (f"{fmt(row.diff_mean, digits, sign=True)} "
            f"[{fmt(row.diff_ci_low, digits, sign=True)}, {fmt(row.diff_ci_high, digits, sign=True)}]")


def excludes_zero(row) -> bool:
    """The 95% interval of the difference lies wholly above or below zero."""
    return bool(row.diff_ci_low > 0 or row.diff_ci_high < 0)


def metric_title(metric: Metric) -> str:
    """The label, with the unit unless it is a count of people."""
    return metric.label if metric.unit in ("", "people") else f"{metric.label} ({metric.unit})"


# ---------------------------------------------------------------- what each scenario changes


def value_text(value) -> str:
    """A scenario value for people: ``(none)`` for null or an empty list, a list in brackets with
    dated entries as ``631 from 2016-01-01`` (long lists cut in the middle), a distribution as
    ``lognormal(mean 3, sd 2) years``."""
    if value is None or value == []:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict) and "dist" in value:
        params = ", ".join(f"{k} {value_text(v)}" for k, v in value.items() if k not in ("dist", "unit"))
        return f"{value['dist']}({params})" + (f" {value['unit']}" if value.get("unit") else "")
    if isinstance(value, dict):
        return ", ".join(f"{k}: {value_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        def entry(e):
            if isinstance(e, dict) and "date" in e:
                rest = [value_text(v) for k, v in e.items() if k != "date"]
                return f"{' '.join(rest)} from {e['date']}"
            return value_text(e)
        items = [entry(e) for e in value]
        if len(items) > 4:
            items = items[:2] + [f"… {len(items) - 3} more …"] + items[-1:]
        return "[" + ", ".join(items) + "]"
    return str(value)


def change_text(change: Change) -> str:
    """``key: before → after``."""
    return f"{change.key}: {value_text(change.before)} → {value_text(change.after)}"


def month_text(day: dt.date) -> str:
    return day.strftime("%b %Y")


def scenario_blocks(comparison: Comparison) -> list[Block]:
    """Each scenario as its difference from the reference: the keys it changes and from when."""
    ref = comparison.results[0].scenario
    ref_description = " ".join(ref.description.split())
    blocks = [Block("p", f"{comparison.reference} (reference): {ref_description or 'no description'}")]
    for k in range(1, len(comparison.results)):
        label, sc = comparison.labels[k], comparison.results[k].scenario
        changes, start = comparison.changes(k), comparison.policy_start(k)
        description = " ".join(sc.description.split())
        own = f" {description}" if description and description != ref_description else ""
        if not changes:
            same = comparison.identical_to(k)
            blocks.append(Block("p", f"{label}: the same scenario as the reference (no key differs)"
                                     + (", so its numbers are identical" if same is not None else "") + f".{own}"))
            continue
        when = ("from the start of the run" if start is None or start <= sc.start
                else f"from {start.isoformat()}")
        blocks.append(Block("list", f"{label}: differs from the reference {when}.{own} Changed keys "
                                    "(reference → this scenario):",
                            items=[change_text(c) for c in changes]))
    return blocks


def posterior_text(comparison: Comparison) -> str:
    post = comparison.posterior
    if not post:
        return ("Parameters: as written in the scenario files (no posterior): the intervals hold the "
                "simulation's chance only, not the uncertainty of the parameters.")
    source = f" {post['file']}" if post.get("file") else ""
    return (f"Parameters: drawn from the calibration posterior{source}, {post.get('draws')} draws with "
            f"{post.get('replications_per_draw')} replications each; replication r of every scenario uses the "
            "same draw, so the intervals include parameter uncertainty and the differences stay paired.")


# ---------------------------------------------------------------- figures


def y_label(metric: Metric) -> str:
    """The axis label with the unit; what is counted over the year says so."""
    kind = metric_kind(metric)
    if kind == "stock":
        return metric.unit or "people"
    if kind == "wait":
        return metric.unit
    if metric.unit == "place-years":
        return "place-years per year\n(places held on average)"
    return f"{metric.unit} per year"


def placed_counts(res) -> np.ndarray:
    """Mean number placed per year (over replications): how many waits a wait percentile rests on."""
    return np.nanmean(res.yearly[:, YEARLY_ROW["placed"], :], axis=0)


#: Below this many people placed in a year, a wait percentile is shown with its count.
FEW_PLACED = 10


def year_x(day: dt.date) -> float:
    """A date on the axis of yearly points (a point at year Y stands for the whole year)."""
    return day.year - 0.5 + (day.timetuple().tm_yday - 1) / 365.25


def metric_figure(comparison: Comparison, metric: Metric, observed=()):
    """Every scenario on one set of axes (top) and its paired difference from the reference with
    the 95% CI (bottom); vertical lines where scenarios start to differ from the reference;
    ``observed`` numbers of the metric (points in time, or totals over a calendar year) on top."""
    plt = pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9.5, 8.0), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
    kind = metric_kind(metric)
    stock = kind == "stock"
    labels, results = comparison.labels, comparison.results
    count = len(results)
    ref_values = None
    notes = []
    lowest = np.inf
    if stock:
        x = np.array(results[0].calendar.dates, dtype="datetime64[D]")
    else:
        x = np.array(comparison.years, float)
    for k, (label, res) in enumerate(zip(labels, results)):
        st = style(k)
        same = comparison.identical_to(k)
        start = comparison.policy_start(k)
        shown = label + (f" (from {month_text(start)})" if start is not None and start > res.scenario.start else "")
        if same is not None:
            shown += f" — same numbers as {labels[same]}"
            notes.append(f"{label} gives exactly the numbers of {labels[same]}: its line lies on top (markers).")
        if stock:
            values = res.monthly[:, MONTHLY_ROW[metric.source], :] * metric.scale
        else:
            values = metric_values(res, metric)
        if k == 0:
            ref_values = values
        if np.isfinite(values).any():
            lowest = min(lowest, float(np.nanmin(values)))
        if stock:
            extra = {"marker": st["marker"], "markevery": (3 * k, 12), "ms": 5} if same is not None or count > 1 else {}
            band(top, x, values, shown, color=st["color"], linestyle=st["linestyle"], spread=False, explain=k == 0,
                 ci_alpha=0.15, lw=1.8 if same is None else 1.4, **extra)
            if k:
                band(bottom, x, values - ref_values, label, color=st["color"], linestyle=st["linestyle"],
                     spread=False, explain=False, ci_alpha=0.15, lw=1.6, marker=st["marker"], markevery=(3 * k, 12),
                     ms=5)
        else:
            offset = (k - (count - 1) / 2) * min(0.12, 0.6 / count)
            mean, lo, hi = mean_ci(values)
            top.errorbar(x + offset, mean, yerr=[mean - lo, hi - mean], marker=st["marker"], ms=5, capsize=3,
                         color=st["color"], linestyle=st["linestyle"], lw=1.3, label=shown)
            if kind == "wait":
                few = placed_counts(res)
                for xi, yi, n in zip(x + offset, mean, few):
                    if np.isfinite(yi) and n < FEW_PLACED:
                        top.annotate(f"n={n:.0f}", (xi, yi), textcoords="offset points", xytext=(5, 6), fontsize=7.5,
                                     color="black", zorder=6,
                                     bbox={"boxstyle": "round,pad=0.15", "facecolor": "white",
                                           "edgecolor": st["color"], "lw": 0.8})
                if np.any(few < FEW_PLACED):
                    notes.append(f"n=…: fewer than {FEW_PLACED} people placed in the year (mean over replications); "
                                 "a percentile of so few waits is rough.")
            if k:
                d_mean, d_lo, d_hi = mean_ci(values - ref_values)
                bottom.errorbar(x + offset, d_mean, yerr=[d_mean - d_lo, d_hi - d_mean], marker=st["marker"], ms=5,
                                capsize=3, color=st["color"], linestyle=st["linestyle"], lw=1.3, label=label)
    if stock:
        draw_points(top, observed_points(observed, metric.source), "observed (± sd)")
    else:
        seen = observed_years(observed, metric.source)
        if seen:
            top.errorbar([y for y, _ in seen], [o.value * metric.scale for _, o in seen],
                         yerr=[(o.sd or 0) * metric.scale for _, o in seen], fmt="*", ms=9, color="black", capsize=2,
                         zorder=5, label="observed (± sd)")
    # where each scenario starts to differ from the reference
    starts: dict[dt.date, list[int]] = {}
    for k in range(1, count):
        day = comparison.policy_start(k)
        if day is not None and day > results[k].scenario.start:
            starts.setdefault(day, []).append(k)
    for day, ks in sorted(starts.items()):
        colour = style(ks[0])["color"] if len(ks) == 1 else "0.3"
        where = np.datetime64(day, "D") if stock else year_x(day)
        for ax in (top, bottom):
            ax.axvline(where, color=colour, lw=1, linestyle=(0, (2, 2)), zorder=1)
        text = (f"{labels[ks[0]]} starts" if len(ks) == 1 else f"{len(ks)} scenarios start") + f" {month_text(day)}"
        top.annotate(text, (where, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -4),
                     textcoords="offset points", rotation=90, va="top", ha="left", fontsize=7, color=colour,
                     bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1})
    if lowest >= 0:
        top.set_ylim(bottom=0)
    bottom.axhline(0, color="black", lw=0.8)
    title = (metric.label.replace(", 31 December", ", month by month") if stock else metric.label)
    fig.suptitle(title, fontsize=11.5)
    top.set_ylabel(y_label(metric))
    bottom.set_ylabel(f"difference from\n{comparison.reference}\n({y_label(metric).splitlines()[0]})", fontsize=9)
    bottom.set_title("Each scenario minus the reference, replication by replication (paired), with its 95% CI",
                     fontsize=9)
    if not stock:
        bottom.set_xticks(comparison.years)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    handles, names = top.get_legend_handles_labels()
    order = sorted(range(len(names)), key=lambda i: names[i] == CI_LABEL)  # the band's meaning last
    top.legend([handles[i] for i in order], [names[i] for i in order], loc="lower left", bbox_to_anchor=(0.0, 1.01),
               ncol=2, fontsize=8, frameon=False)
    post = comparison.posterior or {}
    parameters = parameters_text(post.get("file") or ("posterior" if post else None), post.get("draws"),
                                 post.get("replications_per_draw"))
    note = (f"Top: mean over {comparison.replications} replications, {parameters},"
            + (" with the 95% CI of the mean as a band." if stock else " per year with its 95% CI.")
            + " Dashed vertical lines: where a scenario starts to differ from the reference.")
    fig.tight_layout(rect=(0, 0.05 + 0.02 * len(notes), 1, 1))
    footnote(fig, " ".join([note] + list(dict.fromkeys(notes))))
    return fig


def plot_metric(comparison: Comparison, metric: Metric, path: Path, observed=()) -> None:
    """The :func:`metric_figure` of ``metric``, as a PNG."""
    save_png(metric_figure(comparison, metric, observed), path, dpi=100)


# ---------------------------------------------------------------- the report as blocks


def council_table(comparison: Comparison, year: int) -> Block:
    """Metric by scenario for one year: the reference's level, each other scenario's level and
    its difference from the reference with the 95% CI (bold when the interval excludes zero)."""
    frame = comparison.rows(year).set_index(["metric", "scenario"])
    header = ["", f"{comparison.reference} (reference)"]
    for label in comparison.labels[1:]:
        header += [label, f"{label}: difference vs reference [95% CI]"]
    k_year = comparison.years.index(year)
    placed = [placed_counts(res)[k_year] for res in comparison.results]

    def few(k: int, metric: Metric) -> str:
        n = placed[k]
        return f" ({n:.0f} placed)" if metric_kind(metric) == "wait" and np.isfinite(n) and n < FEW_PLACED else ""

    rows = []
    for metric in key_metrics():
        ref = frame.loc[(metric.name, comparison.reference)]
        cells = [Cell(metric_title(metric)), Cell(level_text(ref, metric.digits) + few(0, metric))]
        for k, label in enumerate(comparison.labels[1:], start=1):
            row = frame.loc[(metric.name, label)]
            cells += [Cell(fmt(row["mean"], metric.digits) + few(k, metric)),
                      Cell(diff_text(row, metric.digits), excludes_zero(row))]
        rows.append(cells)
    return Block("table", header=header, rows=rows)


def crn_blocks(comparison: Comparison, year: int) -> list[Block]:
    """How much narrower the paired (CRN) intervals are than unpaired ones would be."""
    rows = informative(comparison.frame, year)
    if rows.empty:
        return [Block("p", f"In {year} no difference varied between replications, so the gain from common random "
                           "numbers cannot be measured here.")]
    ratio = rows["width_ratio"].median()
    text = (f"Every scenario ran with the same random numbers (seed {comparison.seed}): replication r of each "
            "scenario meets the same clients with the same fates, so differences are taken replication by "
            f"replication. In {year} the paired 95% intervals of the differences are {ratio:.0%} of the width an "
            "unpaired comparison of the same runs would give (median over metrics and scenarios); without common "
            f"random numbers it would take about {1 / ratio ** 2:.0f}× as many replications to be as precise. "
            "Differences that were the same in every replication (zero-width intervals, usually a metric the "
            "scenario does not touch) are left out.")
    titles = {m.name: metric_title(m) for m in key_metrics()}
    table = [[Cell(titles[name]), Cell(f"{r.median_ratio:.0%}"), Cell(f"{r.replication_factor:.1f}×")]
             for name, r in crn_gain(comparison.frame, year).iterrows()]
    return [Block("p", text),
            Block("table", header=["metric", "paired / unpaired CI width", "replications an unpaired comparison "
                                   "would need (factor)"], rows=table)]


def report_blocks(comparison: Comparison, year: int, figures: dict[str, Path],
                  command: list[str] | None = None) -> list[Block]:
    made = f"Made with bwsim {__version__} on {dt.date.today().isoformat()}"
    if command:
        made += ": " + " ".join(Path(command[0]).name if i == 0 else a for i, a in enumerate(command))
    blocks = [Block("h1", f"Scenario comparison: {' vs '.join(comparison.labels)}"),
              Block("p", f"{comparison.replications} replications per scenario, seed {comparison.seed}, "
                         f"{comparison.years[0]}–{comparison.years[-1]}. {made}."),
              Block("p", posterior_text(comparison))]
    blocks.append(Block("h2", "Scenarios"))
    blocks += scenario_blocks(comparison)
    blocks.append(Block("h2", f"Key figures for {year}"))
    blocks.append(council_table(comparison, year))
    blocks.append(Block("note", "Levels: mean over replications [95% confidence interval]. People counts are on "
                                "31 December; admissions, exits, place-years and cost are totals over the year; "
                                "waits are those of the people placed in the year. Difference: scenario minus "
                                "reference, paired replication by replication. Bold: the interval excludes zero, "
                                "so the difference is not plausibly chance. Waits: when fewer than "
                                f"{FEW_PLACED} people were placed in the year (mean over replications) the count "
                                "is given beside the wait. Single runs scatter more widely than these intervals "
                                "(see the 5–95% bands of each scenario's own bwsim run figures): the intervals "
                                "describe the average outcome, not one year's."))
    blocks.append(Block("h2", "How much common random numbers help"))
    blocks += crn_blocks(comparison, year)
    blocks.append(Block("h2", "Figures"))
    for metric in key_metrics():
        blocks.append(Block("image", metric_title(metric), path=figures[metric.name]))
    blocks.append(Block("note", "The numbers behind this report are in comparison.csv or comparison.parquet "
                                "(every metric and year), comparison.json (every scenario's parameters and what it "
                                "changes), arrays.npz (every replication) and manifest.json (how it was made)."))
    return blocks


# ---------------------------------------------------------------- writing


def render(comparison: Comparison, folder: Path, year: int, command: list[str] | None = None,
           observed=()) -> list[Path]:
    """Write the PNGs, ``report.md`` and ``report.html`` into an existing folder."""
    if year not in comparison.years:
        raise ValueError(f"year {year} is not in the run ({comparison.years[0]}–{comparison.years[-1]})")
    figures = {}
    for metric in key_metrics():
        figures[metric.name] = folder / f"{metric.name}.png"
        plot_metric(comparison, metric, figures[metric.name], observed)
    blocks = report_blocks(comparison, year, figures, command)
    (folder / "report.md").write_text(render_markdown(blocks), encoding="utf-8")
    (folder / "report.html").write_text(render_html(blocks, blocks[0].text), encoding="utf-8")
    return [folder / "report.md", folder / "report.html", *figures.values()]


def write_report(comparison: Comparison, out: str | Path, year: int | None = None, manifest: dict | None = None,
                 fmt: str = "csv", observed=()) -> Path:
    """The comparison's data (the table as ``fmt``: csv or parquet), figures, report and
    ``manifest.json`` (``manifest``, e.g. from :func:`sim.report.output.provenance`, with the
    scenarios' hashes and labels added) in ``out``, all or nothing."""
    year = comparison.years[-1] if year is None else year
    if year not in comparison.years:
        raise ValueError(f"year {year} is not in the run ({comparison.years[0]}–{comparison.years[-1]})")
    manifest = {**(manifest or {}), "labels": comparison.labels,
                "scenario_hashes": [r.scenario.digest() for r in comparison.results],
                "seed": comparison.seed, "replications": comparison.replications, "report_year": year,
                "format": fmt}
    with atomic_folder(out) as tmp:
        save(comparison, tmp, fmt)
        written = write_manifest(tmp, manifest)
        command = json.loads(written.read_text(encoding="utf-8")).get("command")
        render(comparison, tmp, year, command, observed)
    return Path(out)
