"""The verdeelmodel's figures: the gap per municipality in one year, and cost against budget per
municipality, year by year. matplotlib is imported when a figure is drawn (:mod:`.figures`)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..experiment.replications import mean_ci
from ..policy.verdeel import Assessment, probability_short
from .figures import pyplot, save_png

MILLION = 1e6


def draw_municipality(ax, a: Assessment, m: int, legend: bool) -> None:
    """Municipality ``m``'s cost paid (band) against its budget (line) on ``ax``, in € million."""
    from matplotlib.ticker import MaxNLocator

    from .plots import band

    years = np.array(a.years)
    band(ax, years, a.cost[:, m, :] / MILLION, "cost paid (mean, 95% CI, 5–95% of runs)", color="tab:blue")
    if not np.allclose(a.cost[:, m, :], a.residents_cost[:, m, :]):
        ax.plot(years, a.residents_cost[:, m, :].mean(0) / MILLION, ":", color="0.4", lw=1.2,
                label="care of own residents (woonplaats)")
    ax.plot(years, a.budget[m] / MILLION, "-", color="black", marker="o", ms=3, lw=1.4, label="budget")
    if a.settings.regional_pool > 0:
        ax.plot(years, a.funds[:, m, :].mean(0) / MILLION, "--", color="tab:green", lw=1.2, label="budget after pool")
    ax.axvline(a.settings.start_year - 0.5, color="0.6", lw=0.8, ls="--")
    ax.set_title(a.municipalities[m], fontsize=10)
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=7)
    if legend:
        ax.legend(fontsize=7, loc="best")


def plot_municipality(a: Assessment, m: int, path: Path) -> None:
    fig, ax = pyplot().subplots(figsize=(8, 4.2))
    draw_municipality(ax, a, m, legend=True)
    ax.set_title(f"{a.municipalities[m]}: cost and budget, {a.settings.regime} from {a.settings.start_year} — "
                 f"{a.scenario_name}", fontsize=10)
    ax.set_ylabel("€ million a year")
    fig.tight_layout()
    save_png(fig, path, dpi=100)


def plot_grid(a: Assessment, path: Path) -> None:
    """Small multiples: every municipality's cost band against its budget line."""
    n = len(a.municipalities)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    fig, axes = pyplot().subplots(rows, cols, figsize=(3.6 * cols, 2.7 * rows), squeeze=False)
    for m in range(rows * cols):
        ax = axes[m // cols][m % cols]
        if m < n:
            draw_municipality(ax, a, m, legend=False)
        else:
            ax.axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle(f"Cost paid vs budget per municipality (€ million a year): {a.settings.regime} from "
                 f"{a.settings.start_year} — {a.scenario_name}", fontsize=11)
    fig.tight_layout(rect=(0, 0.04, 1, 0.96))
    save_png(fig, path, dpi=90)


def plot_overview(a: Assessment, year: int, path: Path) -> None:
    """The gap (budget − cost) per municipality in one year, with 95% CIs and P(short)."""
    k = a.years.index(year)
    gap = a.gap[:, :, k] / MILLION
    mean, lo, hi = mean_ci(gap)
    p = probability_short(a.gap[:, :, k])
    y = np.arange(len(a.municipalities))[::-1]
    colors = ["tab:red" if high < 0 else "tab:green" if low > 0 else "tab:orange" for low, high in zip(lo, hi)]
    fig, ax = pyplot().subplots(figsize=(8.5, 0.45 * len(y) + 1.6))
    ax.barh(y, mean, color=colors, alpha=0.75)
    ax.errorbar(mean, y, xerr=[mean - lo, hi - mean], fmt="none", ecolor="black", capsize=3, lw=1)
    p5, p95 = np.percentile(gap, [5, 95], axis=0)
    ax.hlines(y, p5, p95, color="0.3", lw=0.6, alpha=0.7)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, a.municipalities)
    span = max(np.abs(np.concatenate([p5, p95])).max(), 1e-9)
    for yi, hi_, pi in zip(y, np.maximum(hi, p95), p):
        ax.text(max(hi_, 0) + 0.03 * span, yi, f"P(short) {pi:.0%}", va="center", fontsize=8)
    ax.set_xlim(min(p5.min(), 0) - 0.1 * span, max(p95.max(), 0) + 0.45 * span)
    ax.set_xlabel("gap = budget − cost paid (€ million)")
    ax.set_title(f"Gap per municipality in {year}: {a.settings.regime} from {a.settings.start_year} — "
                 f"{a.scenario_name}", fontsize=10)
    fig.text(0.01, 0.01, "bar: mean; black: 95% CI of the mean; grey: 5–95% of replications; red: short, green: "
             f"surplus, orange: either, with 95% confidence ({a.replications} replications)", fontsize=7, color="0.35")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    save_png(fig, path, dpi=100)
