"""PNG plots of a run: monthly stocks with bands, yearly flows with CIs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..experiment.replications import Results, mean_ci
from ..record.metrics import EXITS, MONTHLY_ROW, YEARLY_ROW
from .figures import pyplot, save_png

LABELS = {
    "waitlist": "Clients on the external waitlist",
    "occupied": "Occupied BW places",
    "ready_to_leave": "Residents ready to leave, waiting for a home",
    "bridged": "Clients in overbruggingszorg",
    "waited_median": "Median time waited so far (months)",
}


def band(ax, x, values: np.ndarray, label: str, color=None):
    """Mean line, 95% CI of the mean (dark band) and 5-95% of replications (light band)."""
    mean, lo, hi = mean_ci(values)
    line = ax.plot(x, mean, label=label, color=color)[0]
    ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.35, linewidth=0)
    p5, p95 = np.nanpercentile(values, [5, 95], axis=0)
    ax.fill_between(x, p5, p95, color=line.get_color(), alpha=0.12, linewidth=0)
    return line


def plot_stock(results: Results, metric: str, path: Path) -> None:
    dates = np.array(results.calendar.dates, dtype="datetime64[D]")
    fig, ax = pyplot().subplots(figsize=(8, 4.2))
    band(ax, dates, results.monthly[:, MONTHLY_ROW[metric], :], "mean (95% CI; 5-95% of runs)")
    if metric == "occupied":
        ax.plot(dates, results.monthly[0, MONTHLY_ROW["places"], :], "k--", lw=1, label="places")
    ax.set_title(f"{LABELS.get(metric, metric)} — {results.scenario.name}")
    ax.set_ylim(bottom=0)
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_png(fig, path, dpi=110)


def plot_flows(results: Results, path: Path) -> None:
    years = np.array(results.calendar.years)
    fig, ax = pyplot().subplots(figsize=(8, 4.2))
    for metric in ("admissions",) + EXITS:
        values = results.yearly[:, YEARLY_ROW[metric], :]
        mean, lo, hi = mean_ci(values)
        ax.errorbar(years, mean, yerr=[mean - lo, hi - mean], marker="o", capsize=3, label=metric.replace("_", " "))
    ax.set_title(f"Admissions and exits by destination per year — {results.scenario.name}")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_png(fig, path, dpi=110)


def plot_results(results: Results, folder: Path) -> list[Path]:
    paths = []
    for metric in LABELS:
        path = folder / f"{metric}.png"
        plot_stock(results, metric, path)
        paths.append(path)
    path = folder / "flows.png"
    plot_flows(results, path)
    return paths + [path]
