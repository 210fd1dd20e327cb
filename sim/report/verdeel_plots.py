"""The verdeelmodel's figures: the gap per municipality in one year (with the band over the key and
budget variants), cost against budget per municipality year by year, the existing clients'
cost against the historic part of the budget, and the gap under every variant. Every figure
names its prices. Every word is in ``templates/figuur.<lang>.j2`` (``words``, from
:func:`.templating.labels`; English when not given). matplotlib is imported when a figure is
drawn (:mod:`.figures`)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..experiment.replications import mean_ci
from ..policy.verdeel import Assessment, probability_short
from .figures import pyplot, save_png
from .templating import labels

MILLION = 1e6


#: The gap's verdict, colour-blind safe (Okabe-Ito): short with 95% confidence, surplus, either.
SHORT, SURPLUS, EITHER = "#D55E00", "#0072B2", "#BBBBBB"
#: One marker shape per variant, so the variants are told apart without colour.
MARKERS = ("o", "s", "^", "v", "P", "X", "*", "h", "<", ">")

def english(words: dict[str, str] | None) -> dict[str, str]:
    return words if words is not None else labels("figuur", "en")


def regime_title(a: Assessment, words: dict[str, str] | None = None) -> str:
    """The regime and its dates, short, for figure titles."""
    s = a.settings
    return english(words)[f"regime_{s.regime}"].format(responsibility=s.responsibility, start=s.start_year)


def prices_text(a: Assessment, words: dict[str, str]) -> str:
    """The prices every euro is in (:func:`sim.policy.verdeel.price_label`), in the words' language."""
    s = a.settings
    if s.budget_index or s.cost_index:
        return words["prices_current"].format(year=s.price_year)
    return words["prices_fixed"].format(year=s.price_year) if s.price_year else words["prices_scenario"]


def relabel_band(ax, words: dict[str, str]) -> None:
    """The two bands :func:`.plots.band` just drew (CI, then 5–95%), labelled in the words' language."""
    ci, spread = ax.collections[-2:]
    ci.set_label(words["band_ci"])
    spread.set_label(words["band_spread"])


def mark_years(ax, a: Assessment) -> None:
    """Dashed lines where the responsibility moves and where the ingroeipad starts."""
    s = a.settings
    for year in sorted({s.responsibility if s.regime == "two_track" else s.start_year, s.start_year}):
        ax.axvline(year - 0.5, color="0.6", lw=0.8, ls="--")


def draw_municipality(ax, a: Assessment, m: int, legend: bool, words: dict[str, str] | None = None) -> None:
    """Municipality ``m``'s cost paid (band) against its budget (line) on ``ax``, in € million."""
    from matplotlib.ticker import MaxNLocator

    from .plots import band

    w = english(words)
    years = np.array(a.years)
    band(ax, years, a.cost[:, m, :] / MILLION, w["cost_paid"], color="tab:blue")
    relabel_band(ax, w)
    if not np.allclose(a.cost[:, m, :], a.residents_cost[:, m, :]):
        ax.plot(years, a.residents_cost[:, m, :].mean(0) / MILLION, ":", color="0.4", lw=1.2,
                label=w["residents"])
    ax.plot(years, a.budget[m] / MILLION, "-", color="black", marker="o", ms=3, lw=1.4, label=w["budget"])
    if a.transfers[m].any():
        ax.plot(years, (a.budget[m] - a.transfers[m]) / MILLION, "-", color="0.55", lw=0.9,
                label=w["budget_before"])
    if a.settings.regional_pool > 0:
        ax.plot(years, a.funds[:, m, :].mean(0) / MILLION, "--", color="tab:green", lw=1.2, label=w["budget_pool"])
    mark_years(ax, a)
    ax.set_title(a.municipalities[m], fontsize=10)
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=7)
    if legend:
        ax.legend(fontsize=7, loc="best")


def plot_municipality(a: Assessment, m: int, path: Path, words: dict[str, str] | None = None) -> None:
    w = english(words)
    fig, ax = pyplot().subplots(figsize=(8, 4.2))
    draw_municipality(ax, a, m, legend=True, words=w)
    ax.set_title(w["municipality_title"].format(name=a.municipalities[m], regime=regime_title(a, w),
                                                scenario=a.scenario_name), fontsize=9)
    ax.set_ylabel(w["million_a_year"].format(prices=prices_text(a, w)))
    fig.tight_layout()
    save_png(fig, path, dpi=100)


def plot_grid(a: Assessment, path: Path, words: dict[str, str] | None = None) -> None:
    """Small multiples: every municipality's cost band against its budget line."""
    w = english(words)
    n = len(a.municipalities)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    fig, axes = pyplot().subplots(rows, cols, figsize=(3.6 * cols, 2.7 * rows), squeeze=False)
    for m in range(rows * cols):
        ax = axes[m // cols][m % cols]
        if m < n:
            draw_municipality(ax, a, m, legend=False, words=w)
        else:
            ax.axis("off")
    labels = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            labels.setdefault(label, handle)
    fig.legend(list(labels.values()), list(labels), loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(w["grid_title"].format(prices=prices_text(a, w), regime=regime_title(a, w), scenario=a.scenario_name),
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.025 * math.ceil(len(labels) / 3) + 0.01, 1, 0.95))
    save_png(fig, path, dpi=90)


def plot_overview(a: Assessment, year: int, path: Path, words: dict[str, str] | None = None) -> None:
    """The gap (budget − cost) per municipality in one year, with 95% CIs, P(short) and the range
    of the CIs over the key and budget variants."""
    w = english(words)
    k = a.years.index(year)
    gap = a.gap[:, :, k] / MILLION
    mean, lo, hi = mean_ci(gap)
    p = probability_short(a.gap[:, :, k])
    n = len(a.municipalities)
    band_low, band_high, _ = (v[:n, k] / MILLION for v in a.band())
    y = np.arange(n)[::-1]
    # colour-blind safe (Okabe-Ito) and told apart without colour too: short is hatched
    colors = [SHORT if high < 0 else SURPLUS if low > 0 else EITHER for low, high in zip(lo, hi)]
    fig, ax = pyplot().subplots(figsize=(8.5, 0.45 * len(y) + 2.1))
    if a.variants:
        ax.hlines(y, band_low, band_high, color="tab:purple", lw=7, alpha=0.18,
                  label=w["overview_band"].format(n=len(a.variants)))
    bars = ax.barh(y, mean, color=colors, alpha=0.8, edgecolor="black", linewidth=0.4)
    for bar, high in zip(bars, hi):
        if high < 0:
            bar.set_hatch("///")
    ax.errorbar(mean, y, xerr=[mean - lo, hi - mean], fmt="none", ecolor="black", capsize=3, lw=1)
    p5, p95 = np.percentile(gap, [5, 95], axis=0)
    ax.hlines(y, p5, p95, color="0.3", lw=0.6, alpha=0.7)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, a.municipalities)
    left, right = min(p5.min(), band_low.min(), 0), max(p95.max(), band_high.max(), 0)
    span = max(right - left, 1e-9)
    for yi, hi_, pi in zip(y, np.maximum(np.maximum(hi, p95), band_high), p):
        ax.text(max(hi_, 0) + 0.02 * span, yi, w["overview_p"].format(p=f"{pi:.0%}"), va="center", fontsize=8)
    ax.set_xlim(left - 0.05 * span, right + 0.3 * span)
    ax.set_xlabel(w["overview_x"].format(prices=prices_text(a, w)))
    ax.set_title(w["overview_title"].format(year=year, regime=regime_title(a, w), scenario=a.scenario_name), fontsize=9)
    if a.variants:
        fig.legend(fontsize=7, loc="lower right", bbox_to_anchor=(0.99, 0.03), frameon=False)
    fig.text(0.01, 0.01, w["overview_note"].format(n=a.replications), fontsize=7, color="0.35")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout(rect=(0, 0.07 if a.variants else 0.03, 1, 1))
    save_png(fig, path, dpi=100)


def plot_existing(a: Assessment, path: Path, words: dict[str, str] | None = None) -> None:
    """The region: what the existing clients cost the centrumgemeente (band) against the historic
    part of the budget (line), and what is left of it after passing on money for new clients."""
    from matplotlib.ticker import MaxNLocator

    from .plots import band

    w = english(words)
    years = np.array(a.years)
    first = min(a.settings.first_year, a.settings.responsibility)
    show = slice(max(a.years.index(first) - 2, 0) if first in a.years else 0, None)
    fig, ax = pyplot().subplots(figsize=(8.5, 5.2))
    band(ax, years[show], a.centre_existing[:, show] / MILLION,
         w["existing_cost"].format(responsibility=a.settings.responsibility), color="tab:red")
    relabel_band(ax, w)
    ax.plot(years[show], a.historic_part[show] / MILLION, "-", color="black", marker="o", ms=3, lw=1.4,
            label=w["existing_historic"])
    if a.passed_on.any():
        ax.plot(years[show], (a.historic_part - a.passed_on)[show] / MILLION, "--", color="black", lw=1.2,
                label=w["existing_after"])
    if a.wlz_moved.any():
        ax.plot(years[show], a.wlz_moved.sum(1).mean(0)[show] / MILLION, ":", color="0.45", lw=1.2,
                label=w["existing_wlz"])
    mark_years(ax, a)
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.set_ylabel(w["million_a_year"].format(prices=prices_text(a, w)))
    ax.set_title(w["existing_title"].format(regime=regime_title(a, w), scenario=a.scenario_name), fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2, frameon=False)
    fig.tight_layout()
    save_png(fig, path, dpi=100)


def plot_sensitivity(a: Assessment, year: int, path: Path, words: dict[str, str] | None = None) -> None:
    """The gap per municipality in ``year`` under the settings and every variant, mean with 95% CI."""
    w = english(words)
    k = a.years.index(year)
    variants = a.all_assessments()
    n, v = len(a.municipalities), len(variants)
    fig, ax = pyplot().subplots(figsize=(9, 0.62 * n + 2.2))
    cmap = pyplot().get_cmap("tab10")
    offsets = np.linspace(0.32, -0.32, v)
    for j, (name, b) in enumerate(variants.items()):
        mean, lo, hi = (x[:, k] / MILLION for x in mean_ci(b.gap))
        y = np.arange(n)[::-1] + offsets[j]
        style = dict(color="black", marker="D", ms=5) if j == 0 else dict(color=cmap(j % 10), marker=MARKERS[j % len(MARKERS)], ms=4)
        ax.errorbar(mean, y, xerr=[mean - lo, hi - mean], fmt="none", ecolor=style["color"], lw=1, alpha=0.8)
        ax.plot(mean, y, ls="none", label=w["as_set"] if j == 0 else name, **style)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(np.arange(n)[::-1], a.municipalities)
    for yy in np.arange(n)[:-1] + 0.5:
        ax.axhline(yy, color="0.85", lw=0.6)
    ax.set_xlabel(w["sensitivity_x"].format(year=year, prices=prices_text(a, w)))
    ax.set_title(w["sensitivity_title"].format(year=year, regime=regime_title(a, w), scenario=a.scenario_name),
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    save_png(fig, path, dpi=100)


def plot_page(a: Assessment, m: int, path: Path, words: dict[str, str], first: int | None = None) -> None:
    """The figure of a municipal page: municipality ``m``'s cost paid (mean, 95% CI of the mean,
    5–95% of replications) against its budget, year by year from ``first`` (default: the whole
    run), with the dates of the regime marked and labelled. ``words``: the labels, in the page's
    language (:func:`.templating.labels`)."""
    from matplotlib.ticker import MaxNLocator

    from .figures import PALETTE

    s = a.settings
    name = a.municipalities[m]
    show = np.array([y >= (first or a.years[0]) for y in a.years])
    years = np.array(a.years)[show]
    cost = a.cost[:, m, show] / MILLION
    residents = a.residents_cost[:, m, show].mean(0) / MILLION
    budget = a.budget[m, show] / MILLION
    mean, lo, hi = mean_ci(cost)
    p5, p95 = np.percentile(cost, [5, 95], axis=0)
    prices = prices_text(a, words)
    fig, ax = pyplot().subplots(figsize=(7.6, 3.2))
    ax.fill_between(years, p5, p95, color=PALETTE[0], alpha=0.13, lw=0, label=words["spread"])
    ax.fill_between(years, lo, hi, color=PALETTE[0], alpha=0.35, lw=0, label=words["ci"])
    ax.plot(years, mean, "-", color=PALETTE[0], lw=1.8, label=words["cost"].format(name=name))
    top = max(float(np.max(p95)), float(np.max(budget)), 1e-6)
    if not np.allclose(a.cost[:, m, show], a.residents_cost[:, m, show]):
        ax.plot(years, residents, ":", color="0.35", lw=1.4, label=words["residents"])
        top = max(top, float(np.max(residents)))
    ax.plot(years, budget, "--", color="black", marker="o", ms=3, lw=1.3, label=words["budget"])
    marks = {s.start_year: words["ingroeipad"].format(year=s.start_year)}
    if s.regime == "two_track":
        marks[s.responsibility] = words["responsibility"].format(year=s.responsibility)
    for year, text in sorted(marks.items()):
        if years[0] < year <= years[-1]:
            ax.axvline(year - 0.5, color=PALETTE[5], lw=0.9, ls="-.")
            ax.text(year - 0.58, top * 1.1, text, fontsize=6.5, color=PALETTE[5], rotation=90, va="top", ha="right")
    ax.set_ylim(0, top * 1.12)
    ax.set_xlim(years[0] - 0.3, years[-1] + 0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=8)
    ax.set_ylabel(words["ylabel"].format(prices=prices), fontsize=8)
    ax.set_title(words["title"].format(name=name), fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    fig.tight_layout()
    save_png(fig, path, dpi=110)
