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
from pathlib import Path

import numpy as np

from .. import __version__
from ..experiment.compare import (Comparison, Metric, crn_gain, informative, key_metrics, metric_kind,
                                  metric_values, save)
from ..experiment.replications import mean_ci
from ..record.metrics import MONTHLY_ROW
from .blocks import Block, Cell, fmt, render_html, render_markdown
from .figures import pyplot, save_png
from .output import atomic_folder
from .plots import band

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


# ---------------------------------------------------------------- figures


def plot_metric(comparison: Comparison, metric: Metric, path: Path) -> None:
    """Every scenario on one set of axes: monthly bands for stocks, yearly error bars otherwise."""
    fig, ax = pyplot().subplots(figsize=(8.5, 4.4))
    lowest = np.inf
    if metric_kind(metric) == "stock":
        dates = np.array(comparison.results[0].calendar.dates, dtype="datetime64[D]")
        for label, res in zip(comparison.labels, comparison.results):
            values = res.monthly[:, MONTHLY_ROW[metric.source], :] * metric.scale
            band(ax, dates, values, label)
            lowest = min(lowest, np.nanmin(values))
        note = "line: mean; dark band: 95% CI of the mean; light band: 5–95% of replications"
    else:
        years = np.array(comparison.years, float)
        count = len(comparison.results)
        for k, (label, res) in enumerate(zip(comparison.labels, comparison.results)):
            values = metric_values(res, metric)
            mean, lo, hi = mean_ci(values)
            offset = (k - (count - 1) / 2) * min(0.12, 0.6 / count)
            ax.errorbar(years + offset, mean, yerr=[mean - lo, hi - mean], marker="o", ms=4, capsize=3, label=label)
            if np.isfinite(values).any():
                lowest = min(lowest, np.nanmin(values))
        ax.set_xticks(comparison.years)
        note = "mean per year with its 95% CI"
    if lowest >= 0:
        ax.set_ylim(bottom=0)
    ax.set_title(metric.label.replace(", 31 December", ", month by month") if metric_kind(metric) == "stock"
                 else metric.label, fontsize=11)
    ax.set_ylabel(metric.unit)
    ax.text(0.0, -0.14, note, transform=ax.transAxes, fontsize=7, color="0.35")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_png(fig, path, dpi=100)


# ---------------------------------------------------------------- the report as blocks


def council_table(comparison: Comparison, year: int) -> Block:
    """Metric by scenario for one year: the reference's level, each other scenario's level and
    its difference from the reference with the 95% CI (bold when the interval excludes zero)."""
    frame = comparison.rows(year).set_index(["metric", "scenario"])
    header = ["", f"{comparison.reference} (reference)"]
    for label in comparison.labels[1:]:
        header += [label, f"{label}: difference vs reference [95% CI]"]
    rows = []
    for metric in key_metrics():
        ref = frame.loc[(metric.name, comparison.reference)]
        cells = [Cell(metric_title(metric)), Cell(level_text(ref, metric.digits))]
        for label in comparison.labels[1:]:
            row = frame.loc[(metric.name, label)]
            cells += [Cell(fmt(row["mean"], metric.digits)), Cell(diff_text(row, metric.digits), excludes_zero(row))]
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


def report_blocks(comparison: Comparison, year: int, figures: dict[str, Path]) -> list[Block]:
    blocks = [Block("h1", f"Scenario comparison: {' vs '.join(comparison.labels)}"),
              Block("p", f"{comparison.replications} replications per scenario, seed {comparison.seed}, "
                         f"{comparison.years[0]}–{comparison.years[-1]}. Made with bwsim {__version__} "
                         f"on {dt.date.today().isoformat()}.")]
    blocks.append(Block("h2", "Scenarios"))
    for k, (label, res) in enumerate(zip(comparison.labels, comparison.results)):
        role = " (reference)" if k == 0 else ""
        description = " ".join(res.scenario.description.split()) or "no description"
        blocks.append(Block("p", f"{label}{role}: {description}"))
    blocks.append(Block("h2", f"Key figures for {year}"))
    blocks.append(council_table(comparison, year))
    blocks.append(Block("note", "Levels: mean over replications [95% confidence interval]. People counts are on "
                                "31 December; admissions, exits, place-years and cost are totals over the year; "
                                "waits are those of the people placed in the year. Difference: scenario minus "
                                "reference, paired replication by replication. Bold: the interval excludes zero, "
                                "so the difference is not plausibly chance. Single runs scatter more widely than "
                                "these intervals (the light bands in the figures): the intervals describe the "
                                "average outcome, not one year's."))
    blocks.append(Block("h2", "How much common random numbers help"))
    blocks += crn_blocks(comparison, year)
    blocks.append(Block("h2", "Figures"))
    for metric in key_metrics():
        blocks.append(Block("image", metric_title(metric), path=figures[metric.name]))
    blocks.append(Block("note", "The numbers behind this report are in comparison.csv (every metric and year), "
                                "comparison.json and arrays.npz (every replication)."))
    return blocks


# ---------------------------------------------------------------- writing


def render(comparison: Comparison, folder: Path, year: int) -> list[Path]:
    """Write the PNGs, ``report.md`` and ``report.html`` into an existing folder."""
    if year not in comparison.years:
        raise ValueError(f"year {year} is not in the run ({comparison.years[0]}–{comparison.years[-1]})")
    figures = {}
    for metric in key_metrics():
        figures[metric.name] = folder / f"{metric.name}.png"
        plot_metric(comparison, metric, figures[metric.name])
    blocks = report_blocks(comparison, year, figures)
    (folder / "report.md").write_text(render_markdown(blocks), encoding="utf-8")
    (folder / "report.html").write_text(render_html(blocks, blocks[0].text), encoding="utf-8")
    return [folder / "report.md", folder / "report.html", *figures.values()]


def write_report(comparison: Comparison, out: str | Path, year: int | None = None) -> Path:
    """The comparison's data, figures and report in ``out``, all or nothing."""
    year = comparison.years[-1] if year is None else year
    with atomic_folder(out) as tmp:
        save(comparison, tmp)
        render(comparison, tmp, year)
    return Path(out)
