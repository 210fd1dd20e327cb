"""The figure and files of a sweep: ``sweep.csv``, ``sweep.png`` and ``manifest.json``, written all
or nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..experiment.sweep import Sweep
from ..record.metrics import KIND
from .figures import PALETTE, footnote, pyplot, save_png
from .output import atomic_folder, metric_unit, write_manifest, write_table
from .plots import band


def sweep_figure(sweep: Sweep):
    """The metric against the parameter: mean, 95% CI of the mean, 5–95% of replications."""
    fig, ax = pyplot().subplots(figsize=(8.5, 4.6))
    x = np.asarray(sweep.values, float)
    n = sweep.per_replication.shape[0]
    band(ax, x, sweep.per_replication, f"mean of {n} replications", color=PALETTE[0], marker="o", ms=4)
    ax.set_xlabel(sweep.key)
    ax.set_ylabel(f"{sweep.what}\n({metric_unit(sweep.metric, KIND.get(sweep.metric, 'flow'), 'year')})")
    how = f"\n{sweep.parameters}" if sweep.parameters else ""
    ax.set_title(f"{sweep.what} against {sweep.key.split('.')[-1]}\n{sweep.scenario_name} — seed {sweep.seed}, "
                 f"the same random numbers at every value{how}", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    footnote(fig, "Every value runs the same replications (common random numbers), so the curve is smooth.")
    return fig


def plot_sweep(sweep: Sweep, path: Path) -> None:
    save_png(sweep_figure(sweep), path, dpi=110)


def write_sweep(sweep: Sweep, out: str | Path, manifest: dict | None = None) -> Path:
    """``sweep.csv``, ``sweep.png`` and ``manifest.json`` (``manifest``, e.g. from
    :func:`sim.report.output.provenance`, with the sweep's key, values and metric) in ``out``,
    all or nothing."""
    with atomic_folder(out) as tmp:
        write_table(sweep.frame(), tmp, "sweep")
        write_manifest(tmp, {**(manifest or {}), "parameter": sweep.key, "values": list(sweep.values),
                             "metric": sweep.metric, "year": sweep.year, "seed": sweep.seed,
                             "replications": int(sweep.per_replication.shape[0])})
        plot_sweep(sweep, tmp / "sweep.png")
    return Path(out)
