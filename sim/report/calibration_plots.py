"""Figures of a calibration, a hold-out validation and a Morris screening.

Each function returns a matplotlib figure (save it with :func:`sim.report.figures.save_png`).
They take plain tables and sequences, not the calibration's own objects: parameters are
anything with ``key``, ``low`` and ``high``, observations anything with ``metric``,
``match``, ``municipality``, ``start``, ``value``, ``sd`` and ``use``. matplotlib is imported
when a figure is drawn (:func:`sim.report.figures.pyplot`), not when this module is.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Sequence

import numpy as np
import pandas as pd

from .figures import pyplot

#: Colour of an observation by its use; any other use (``holdout``) is orange.
USE_COLOURS = {"fit": "tab:red", "check": "k"}


def plot_observations(table: pd.DataFrame, title: str = "Observations against the simulated 90% band"):
    """One panel per observation: prior and calibrated 5-95% bars and medians, and the observed value."""
    plt = pyplot()
    n = len(table)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.5 * rows), squeeze=False)
    for ax, r in zip(axes.flat, table.itertuples(index=False)):
        for x, prefix, colour, label in ((0, "prior", "0.6", "prior"), (1, "post", "tab:blue", "calibrated")):
            lo, mid, hi = getattr(r, f"{prefix}_p5"), getattr(r, f"{prefix}_p50"), getattr(r, f"{prefix}_p95")
            ax.plot([x, x], [lo, hi], color=colour, lw=6, alpha=0.6, solid_capstyle="butt")
            ax.plot([x], [mid], "o", color=colour, ms=4)
        ax.errorbar([0.5], [r.observed], yerr=[[1.645 * r.sd]], fmt="D", color="tab:red", ms=5, capsize=3)
        ax.set_xticks([0, 0.5, 1], ["prior", "obs", "fit"], fontsize=7)
        ax.set_xlim(-0.5, 1.5)
        ax.tick_params(labelsize=7)
        ax.set_title(f"{r.metric}\n{r.date_or_period} ({r.use})", fontsize=8)
        ax.grid(alpha=0.3, axis="y")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle(title + " (bars: 5-95% of runs, dot: median; red: observed ± 1.645 sd)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_series(dates: Sequence[dt.date], series: dict, observations: Sequence, metrics: Sequence[str],
                band: tuple[float, float] = (5.0, 95.0)):
    """Monthly stocks ``metrics``: the prior and posterior bands of ``series[name][draw, metric, month]``,
    and the regional point observations of those metrics."""
    plt = pyplot()
    days = np.array(dates, dtype="datetime64[D]")
    fig, axes = plt.subplots(len(metrics), 1, figsize=(8, 2.6 * len(metrics)), sharex=True)
    for i, (ax, metric) in enumerate(zip(axes, metrics)):
        for name, colour in (("prior", "0.6"), ("posterior", "tab:blue")):
            values = series[name][:, i, :]
            lo, mid, hi = np.nanpercentile(values, [band[0], 50, band[1]], axis=0)
            ax.fill_between(days, lo, hi, color=colour, alpha=0.3, linewidth=0, label=f"{name} 5-95%")
            ax.plot(days, mid, color=colour, lw=1.2)
        for o in observations:
            if o.metric == metric and o.match == "point" and not o.subset:
                day = np.datetime64(o.start)
                colour = USE_COLOURS.get(o.use, "tab:orange")
                ax.errorbar([day], [o.value], yerr=[[1.645 * o.sd]], fmt="D", color=colour, ms=4, capsize=2)
        ax.set_ylabel(metric, fontsize=8)
        ax.grid(alpha=0.3)
        if metric != "occupied":
            ax.set_ylim(bottom=0)
    axes[0].legend(fontsize=7, loc="upper right")
    axes[0].set_title("Monthly stocks: prior and calibrated 90% bands; observations (red fit, orange held out, black check)",
                      fontsize=8)
    fig.tight_layout()
    return fig


def plot_marginals(parameters: Sequence, posterior: pd.DataFrame, fitted: pd.DataFrame):
    """Weighted histogram per parameter over its prior range, with the 90% interval of ``fitted``
    (columns ``parameter``, ``p5``, ``p95``)."""
    plt = pyplot()
    d = len(parameters)
    cols = min(3, d)
    rows = math.ceil(d / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.4 * rows), squeeze=False)
    w = posterior["weight"].to_numpy()
    intervals = fitted.set_index("parameter")
    for ax, p in zip(axes.flat, parameters):
        x = posterior[p.key].to_numpy(float)
        ax.hist(x, bins=25, range=(p.low, p.high), weights=w, color="tab:blue", alpha=0.7)
        ax.axhline(1.0 / 25, color="0.5", ls="--", lw=1, label="prior")
        for q in (intervals.loc[p.key, "p5"], intervals.loc[p.key, "p95"]):
            ax.axvline(q, color="k", lw=0.8, ls=":")
        ax.set_xlim(p.low, p.high)
        ax.set_title(p.key, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[d:]:
        ax.set_visible(False)
    fig.suptitle("Posterior marginals (weighted; dotted: 90% interval; dashed: uniform prior)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_pairs(parameters: Sequence, posterior: pd.DataFrame):
    """Lower triangle of pairwise scatter plots (point size = weight), histograms on the diagonal."""
    plt = pyplot()
    d = len(parameters)
    fig, axes = plt.subplots(d, d, figsize=(1.6 * d + 1, 1.6 * d + 1), squeeze=False)
    w = posterior["weight"].to_numpy()
    size = 40 * w / w.max()
    for i, pi in enumerate(parameters):
        for j, pj in enumerate(parameters):
            ax = axes[i, j]
            ax.tick_params(labelsize=6)
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                ax.hist(posterior[pi.key], bins=20, range=(pi.low, pi.high), weights=w, color="tab:blue", alpha=0.7)
                ax.set_xlim(pi.low, pi.high)
            else:
                ax.scatter(posterior[pj.key], posterior[pi.key], s=size, alpha=0.4, color="tab:blue", linewidths=0)
                ax.set_xlim(pj.low, pj.high)
                ax.set_ylim(pi.low, pi.high)
            if i == d - 1:
                ax.set_xlabel(pj.key.split(".", 1)[-1], fontsize=6)
            if j == 0:
                ax.set_ylabel(pi.key.split(".", 1)[-1], fontsize=6)
    fig.suptitle("Posterior: pairs of parameters over their prior ranges (point size = weight)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_morris(frame: pd.DataFrame):
    """mu* against sigma per output of a Morris screening (columns as ``sim.analysis.sensitivity.morris``)."""
    outputs = list(dict.fromkeys(frame["output"]))
    fig, axes = pyplot().subplots(1, len(outputs), figsize=(4.6 * len(outputs), 4.2), squeeze=False)
    for ax, output in zip(axes[0], outputs):
        part = frame[frame["output"] == output]
        ax.errorbar(part["mu_star"], part["sigma"], xerr=part["mu_star_conf"], fmt="o", ms=5, capsize=2)
        for r in part.itertuples(index=False):
            ax.annotate(r.parameter.split(".", 1)[-1], (r.mu_star, r.sigma), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
        top = max(part["mu_star"].max(), part["sigma"].max()) * 1.15 or 1.0
        ax.plot([0, top], [0, top], color="0.7", lw=0.8, ls="--")
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_xlabel("mu* (change over the parameter's range)", fontsize=8)
        ax.set_ylabel("sigma (interaction / non-linearity)", fontsize=8)
        ax.set_title(f"{output} on {part['date'].iloc[0]}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    fig.suptitle("Morris elementary effects (bars: 95% bootstrap interval of mu*)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_rolling(scores: pd.DataFrame):
    """One row per forecast: its 50% and 90% bands and mean, as (value - observed) / sd, so that the
    observed value is at 0 for every observation; grouped by cut-off, coloured by horizon."""
    plt = pyplot()
    n = len(scores)
    fig, ax = plt.subplots(figsize=(9.5, 1.6 + 0.26 * max(n, 1)))
    colours = {6: "#0072B2", 12: "#E69F00"}  # colour-blind safe (Okabe-Ito)
    labels = []
    for i, r in enumerate(scores.itertuples(index=False)):
        y = n - 1 - i
        colour = colours.get(r.horizon, "0.4")
        z = [(v - r.observed) / r.sd for v in (r.p5, r.p25, r.mean, r.p75, r.p95)]
        ax.plot([z[0], z[4]], [y, y], color=colour, lw=1.5)
        ax.plot([z[1], z[3]], [y, y], color=colour, lw=6, alpha=0.8, solid_capstyle="butt")
        ax.plot([z[2]], [y], "o", color="black", ms=3)
        labels.append(f"from {r.cutoff}: {r.metric} {str(r.observation).split(' ', 1)[-1][-10:]} (+{r.months_ahead:g} mo)")
    ax.axvline(0, color="tab:red", lw=1.2, label="observed value")
    ax.set_yticks(range(n), labels[::-1], fontsize=7)
    ax.set_xlabel("forecast minus observed, in units of the observation's sd (0 = the observed value)", fontsize=8)
    for h, colour in colours.items():
        ax.plot([], [], color=colour, lw=6, label=f"up to {h} months ahead: 50% band (thick), 90% band (thin)")
    ax.plot([], [], "o", color="black", ms=3, label="forecast mean")
    ax.grid(alpha=0.3, axis="x")
    fig.suptitle("Rolling validation: fitted up to each cut-off, forecasting the next 6 and 12 months", fontsize=10)
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=7, frameon=False)
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.4, right=0.98, bottom=1.05 / height, top=1 - 0.45 / height)
    return fig
