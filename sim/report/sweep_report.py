"""The figure and files of a sweep: ``sweep.csv`` and ``sweep.png``, written all or nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..experiment.sweep import Sweep
from .figures import pyplot, save_png
from .output import atomic_folder
from .plots import band


def plot_sweep(sweep: Sweep, path: Path) -> None:
    fig, ax = pyplot().subplots(figsize=(8, 4.4))
    x = np.asarray(sweep.values, float)
    band(ax, x, sweep.per_replication, "mean (95% CI; 5–95% of replications)")
    ax.plot(x, np.nanmean(sweep.per_replication, axis=0), "o", ms=3, color="C0")
    ax.set_xlabel(sweep.key)
    ax.set_ylabel(sweep.what)
    ax.set_title(f"{sweep.what} against {sweep.key.split('.')[-1]} — {sweep.scenario_name}", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_png(fig, path, dpi=110)


def write_sweep(sweep: Sweep, out: str | Path) -> Path:
    """``sweep.csv`` and ``sweep.png`` in ``out``, all or nothing."""
    with atomic_folder(out) as tmp:
        sweep.frame().to_csv(tmp / "sweep.csv", index=False)
        plot_sweep(sweep, tmp / "sweep.png")
    return Path(out)
