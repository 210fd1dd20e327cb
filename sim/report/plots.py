"""The figures of a run, for a council to read at a glance: monthly stocks with their bands,
waiting times, yearly flows; observed numbers on top where an observations file gives them.

Each ``*_figure`` function returns a matplotlib figure (not saved, so it can be inspected or
shown in a notebook); :func:`plot_results` draws them all and writes one PNG each.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from ..experiment.replications import Results, mean_ci
from ..record.metrics import EXITS, MONTHLY_ROW, YEARLY_ROW
from .figures import PALETTE, footnote, pyplot, save_png

#: What each band means, in every legend.
CI_LABEL = "95% CI of the mean"
SPREAD_LABEL = "5–95% of replications (single runs)"


@dataclass(frozen=True)
class Stock:
    """A monthly stock figure: its title, the y-axis label (with the unit), the line's label."""

    title: str
    unit: str
    line: str


STOCKS = {
    "waitlist": Stock("People on the waitlist", "people", "waiting for a place (mean)"),
    "occupied": Stock("Occupied BW places", "places (occupied by a resident)", "occupied (mean)"),
    "ready_to_leave": Stock("Residents ready to leave, still holding a place while they wait for a home", "people",
                            "ready to leave (mean)"),
    "bridged": Stock("Overbruggingszorg: clients bridged while on the waitlist, and those waiting for a slot",
                     "people", "in overbruggingszorg (mean)"),
}
#: The file of each figure, in order.
FIGURES = (*STOCKS, "waiting_time", "flows")


def band(ax, x, values: np.ndarray, label: str, color=None, spread: bool = True, explain: bool = True,
         linestyle="-", ci_alpha: float = 0.3, spread_alpha: float = 0.12, **line):
    """The mean over replications (a line labelled ``label``), the 95% CI of the mean (a darker
    band) and, with ``spread``, the 5–95% of single replications (a lighter band). With
    ``explain`` the bands get their own legend entries (give it to one series per axes)."""
    mean, lo, hi = mean_ci(values)
    handle = ax.plot(x, mean, label=label, color=color, linestyle=linestyle, **line)[0]
    colour = handle.get_color()
    ax.fill_between(x, lo, hi, color=colour, alpha=ci_alpha, linewidth=0,
                    label=CI_LABEL if explain else "_nolegend_")
    if spread:
        with warnings.catch_warnings():  # months without any value (no one waiting) stay empty
            warnings.simplefilter("ignore", RuntimeWarning)
            p5, p95 = np.nanpercentile(values, [5, 95], axis=0)
        ax.fill_between(x, p5, p95, color=colour, alpha=spread_alpha, linewidth=0,
                        label=SPREAD_LABEL if explain else "_nolegend_")
    return handle


def dates_of(results: Results) -> np.ndarray:
    return np.array(results.calendar.dates, dtype="datetime64[D]")


def subtitle(results: Results) -> str:
    text = f"{results.scenario.name} — {results.replications} replications, seed {results.seed}"
    return f"{text}; {results.parameters}" if results.parameters else text


def finish(fig, ax, note: str, legend_outside: bool = False) -> None:
    """Grid, legend (beside the axes when it would cover the data), room for the note below."""
    ax.grid(alpha=0.3)
    if legend_outside:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    else:
        ax.legend(loc="best", fontsize=8, framealpha=0.9)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    footnote(fig, note)


# ---------------------------------------------------------------- observations


def observed_points(observed: Iterable, metric: str) -> list:
    """The observations of ``metric`` at a point in time (region-wide, not per municipality)."""
    return [o for o in observed or () if o.metric == metric and o.match == "point" and not o.subset]


def observed_years(observed: Iterable, metric: str) -> list:
    """The observed totals of ``metric`` over exactly one calendar year, as (year, observation)."""
    out = []
    for o in observed or ():
        if (o.metric == metric and o.match == "total" and not o.subset and o.start.year == o.end.year
                and (o.start.month, o.start.day, o.end.month, o.end.day) == (1, 1, 12, 31)):
            out.append((o.start.year, o))
    return out


def draw_points(ax, points: list, label: str, marker: str = "D", filled: bool = True) -> None:
    if not points:
        return
    x = np.array([o.start for o in points], dtype="datetime64[D]")
    y = np.array([o.value for o in points], float)
    sd = np.array([o.sd if o.sd is not None else np.nan for o in points], float)
    ax.errorbar(x, y, yerr=np.where(np.isfinite(sd), sd, 0), fmt=marker, ms=5, color="black",
                mfc="black" if filled else "white", capsize=3, lw=1, zorder=5, label=label)


# ---------------------------------------------------------------- figures


def stock_figure(results: Results, metric: str, observed: Iterable = ()):
    """One stock, month by month: mean, 95% CI of the mean, 5–95% of replications; observed points."""
    spec = STOCKS[metric]
    dates = dates_of(results)
    fig, ax = pyplot().subplots(figsize=(8.5, 4.6))
    values = results.monthly[:, MONTHLY_ROW[metric], :]
    band(ax, dates, values, spec.line, color=PALETTE[0], lw=2, zorder=3)
    draw_points(ax, observed_points(observed, metric), "observed (± sd)")
    note = "People counted at the start of each month (the point at 1 January is the count on 31 December)."
    if metric == "occupied":
        places = results.monthly[:, MONTHLY_ROW["places"], :]
        ax.plot(dates, np.nanmean(places, axis=0), color="black", lw=1.2, linestyle="--",
                label="places (contracted capacity)")
        draw_points(ax, observed_points(observed, "places"), "observed places", marker="s", filled=False)
        low = np.nanmin([np.nanmin(np.nanpercentile(values, 5, axis=0)), np.nanmin(places)])
        high = np.nanmax([np.nanmax(np.nanpercentile(values, 95, axis=0)), np.nanmax(places)])
        pad = max(5.0, 0.15 * (high - low))
        ax.set_ylim(max(0.0, low - pad), high + pad)
        note += " The axis is zoomed to the data: it does not start at zero."
    elif metric == "bridged":
        slots = results.scenario.bridging.places
        band(ax, dates, results.monthly[:, MONTHLY_ROW["bridging_waitlist"], :],
             "waiting for a bridging slot (mean)", color=PALETTE[1], explain=False, linestyle="--")
        if slots is not None:
            ax.axhline(slots, color="0.2", lw=1, linestyle=":", zorder=1, label=f"bridging slots ({slots})")
        else:
            note += " Bridging slots: unlimited."
        ax.set_ylim(bottom=0)
    else:
        ax.set_ylim(bottom=0)
    ax.set_ylabel(spec.unit)
    ax.set_title(f"{spec.title}\n{subtitle(results)}", fontsize=10.5)
    finish(fig, ax, note)
    return fig


def waiting_time_figure(results: Results):
    """Two different waits, clearly apart: the time waited so far by those still on the list
    (monthly), and the wait of those placed in the year until they were placed (yearly)."""
    dates = dates_of(results)
    fig, ax = pyplot().subplots(figsize=(8.5, 4.6))
    band(ax, dates, results.monthly[:, MONTHLY_ROW["waited_median"], :],
         "still waiting: median time waited so far", color=PALETTE[0])
    placed = results.yearly[:, YEARLY_ROW["wait_placed_median"], :]
    mean, lo, hi = mean_ci(placed)
    mid = np.array([dt.date(y, 7, 1) for y in results.calendar.years], dtype="datetime64[D]")
    ok = np.isfinite(mean)
    ax.errorbar(mid[ok], mean[ok], yerr=[(mean - lo)[ok], (hi - mean)[ok]], fmt="s", ms=5, capsize=3,
                color=PALETTE[5], label="placed in the year: median wait until placed (95% CI)")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("months")
    ax.set_title(f"How long people wait for a place\n{subtitle(results)}", fontsize=10.5)
    finish(fig, ax, "The line is the median time already waited by the people on the list at each date; the "
                    "squares are the median wait, until placement, of the people placed in each year.")
    return fig


def flows_figure(results: Results, observed: Iterable = ()):
    """Admissions and exits by destination, per calendar year, with 95% CIs."""
    years = np.array(results.calendar.years)
    fig, ax = pyplot().subplots(figsize=(9.5, 4.6))
    metrics = ("admissions",) + EXITS
    names = {"admissions": "admissions", "exits_independent": "exits to an independent home",
             "exits_intramural": "exits to other intramural care", "exits_died_or_moved": "died or moved away",
             "exits_early": "early exits (care ended early)"}
    count, shown = len(metrics), False
    for k, metric in enumerate(metrics):
        values = results.yearly[:, YEARLY_ROW[metric], :]
        mean, lo, hi = mean_ci(values)
        offset = (k - (count - 1) / 2) * 0.06
        ax.errorbar(years + offset, mean, yerr=[mean - lo, hi - mean], marker="os^Dv"[k], ms=4.5, capsize=3,
                    color=PALETTE[k], label=names[metric])
        for year, o in observed_years(observed, metric):
            ax.errorbar([year + offset], [o.value], yerr=[o.sd or 0], fmt="*", ms=9, color="black", capsize=2,
                        zorder=5, label="_nolegend_" if shown else "observed (± sd)")
            shown = True
    ax.set_xticks(results.calendar.years)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("people per year")
    ax.set_title(f"Admissions and exits per year, by destination\n{subtitle(results)}", fontsize=10.5)
    finish(fig, ax, "Mean number per calendar year with its 95% CI.", legend_outside=True)
    return fig


def run_figures(results: Results, observed: Iterable = ()) -> dict[str, object]:
    """Every figure of a run by file stem (not saved)."""
    figures = {metric: stock_figure(results, metric, observed) for metric in STOCKS}
    figures["waiting_time"] = waiting_time_figure(results)
    figures["flows"] = flows_figure(results, observed)
    return figures


def plot_results(results: Results, folder: Path, observed: Iterable = ()) -> list[Path]:
    """The run's figures as PNGs in ``folder``: one per stock, waiting_time.png and flows.png.
    ``observed``: observations (``sim.analysis.calibrate.read_observations``) drawn where a figure
    shows their metric."""
    paths = []
    for name in FIGURES:  # one figure at a time: each is closed once written
        if name in STOCKS:
            fig = stock_figure(results, name, observed)
        elif name == "waiting_time":
            fig = waiting_time_figure(results)
        else:
            fig = flows_figure(results, observed)
        paths.append(save_png(fig, Path(folder) / f"{name}.png", dpi=110))
    return paths
