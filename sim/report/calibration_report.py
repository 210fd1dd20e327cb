"""The results folders of ``bwsim calibrate``, ``bwsim validate`` and ``bwsim sensitivity``.

Each folder is written all at once through :func:`sim.report.output.atomic_folder` (a
temporary sibling, swapped in when complete): a run that fails or is killed while writing
over an earlier result leaves that result whole, never a mix of new and old files. The
target is checked before any work (:func:`sim.report.output.check_target`, ``OutputError``).

Checkpoints live in the results folder, ``<out>/checkpoints/gen_NNN.npz``. They cannot wait
for the final swap: they must outlive a run killed part-way, so :func:`calibrate` has the fit
write them straight into the results folder as generations finish (a new folder is created
and marked as a bwsim result first, so that ``--resume`` and a later run may use it). When the
run completes, ``checkpoints/`` is copied into the new folder before the swap, so a finished
folder holds the checkpoints of its own run and ``--resume`` can extend it (more generations,
say). A run killed part-way leaves the earlier results untouched next to the new run's
checkpoints; the digest in each checkpoint keeps ``--resume`` from mixing configurations.
Other subfolders of an earlier calibration (results nested inside it: ``validation-<cutoff>/``
and ``sensitivity/`` are written there by default) are carried along the same way.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import Executor
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.calibrate import (BAND, CHECKPOINTS, SERIES, Calibration, CalibrationError, Config, Progress,
                                  Validation, check_holdout, digest, fit, generations_frame, load_config,
                                  score_holdout)
from ..analysis.calibrate.rolling import HORIZONS, default_cutoffs, score_cutoff
from ..analysis.calibrate.rolling import summary as rolling_summary
from ..config import scenario as scenario_mod
from ..model.calendar import Calendar
from . import calibration_plots as plots_mod
from .figures import save_png
from .output import atomic_folder, check_target, mark_result, package_versions, write_manifest

DPI = 90


def calibrate(config: Config, out: str | Path, workers: int | None = None, resume: bool = False,
              progress: Progress | None = None, plots: bool = True, executor: Executor | None = None) -> Calibration:
    """Fit ``config`` (checkpoints in ``out/checkpoints``) and write the results folder ``out``:
    posterior.csv, fitted.csv/.md, predictive.csv, generations.csv, manifest.json and figures."""
    out = _start(out)
    result = fit(config, out / CHECKPOINTS, workers, resume, progress, executor)
    result.out = out
    with atomic_folder(out) as folder:
        write_calibration(result, folder, plots)
        carry_subfolders(out, folder)
    return result


def validate(config: Config, out: str | Path, workers: int | None = None, resume: bool = False,
             progress: Progress | None = None, plots: bool = True, executor: Executor | None = None) -> Validation:
    """Fit on the observations up to ``config.cutoff`` and score the prediction of the later ones;
    the results folder ``out`` holds the calibration's files and holdout.csv/.md/.png."""
    check_holdout(config)
    out = _start(out)
    result = fit(config, out / CHECKPOINTS, workers, resume, progress, executor)
    result.out = out
    validation = score_holdout(result)
    with atomic_folder(out) as folder:
        write_calibration(result, folder, plots)
        write_holdout(validation, folder, plots)
        carry_subfolders(out, folder)
    return validation


def rolling_validate(config_path: str | Path, cutoffs, out: str | Path, workers: int | None = None,
                     progress: Progress | None = None, plots: bool = True, executor: Executor | None = None,
                     horizons=HORIZONS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit up to each cut-off (none given: :func:`default_cutoffs`) and score the forecasts of the next
    6 and 12 months; the folder ``out`` gets rolling.csv, rolling_summary.csv, rolling.md, rolling.png
    and manifest.json, all at once. Returns (scores, summary)."""
    first = load_config(config_path)
    cutoffs = list(cutoffs) or default_cutoffs(first.observations, max(horizons))
    if not cutoffs:
        raise CalibrationError(f"{first.observations_path}: no fitted observation follows another within "
                               f"{max(horizons)} months; nothing to forecast")
    out = check_target(out)
    scores, fits, wall = [], [], 0.0
    for cutoff in cutoffs:
        config = load_config(config_path, cutoff)
        check_holdout(config)
        result = fit(config, None, workers, False, progress, executor)
        wall += result.wall_seconds
        scores.append(score_cutoff(config, result.matched["posterior"], horizons))
        fitted = result.fitted.copy()
        fitted.insert(0, "cutoff", cutoff.isoformat())
        fits.append(fitted)
    table = pd.concat(scores, ignore_index=True)
    summed = rolling_summary(table, horizons)
    with atomic_folder(out) as folder:
        table.to_csv(folder / "rolling.csv", index=False)
        summed.to_csv(folder / "rolling_summary.csv", index=False)
        pd.concat(fits, ignore_index=True).to_csv(folder / "fitted_by_cutoff.csv", index=False)
        text = (f"Fitted up to each of {len(cutoffs)} cut-offs ({', '.join(c.isoformat() for c in cutoffs)}); "
                f"{len(table)} forecasts of fitted observations up to {max(horizons)} months ahead.\n\n"
                + markdown_table(summed) + "\n\n" + markdown_table(table))
        (folder / "rolling.md").write_text(text, encoding="utf-8")
        if plots and len(table):
            save_png(plots_mod.plot_rolling(table), folder / "rolling.png", dpi=DPI)
        write_manifest(folder, {"config": str(config_path), "cutoffs": [c.isoformat() for c in cutoffs],
                                "horizons_months": list(horizons), "method": first.method.model_dump(),
                                "wall_seconds": round(wall, 1), "packages": package_versions()})
    return table, summed


def _start(out: str | Path) -> Path:
    """The results folder, checked before any work; a new (or empty) one is created and marked."""
    out = check_target(out)
    if not out.is_dir() or not any(out.iterdir()):
        mark_result(out)
    return out


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    def cell(v) -> str:
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "no"
        if isinstance(v, (float, np.floating)):
            return f"{v:.{digits}g}"
        return str(v)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def _relative(path: Path, folder: Path) -> str:
    """``path`` as written relative to the calibration file's folder (portable manifests)."""
    return os.path.relpath(path, folder.resolve())


def calibration_manifest(result: Calibration) -> dict:
    config = result.config
    return {
        "config": str(config.path), "scenario": _relative(config.scenario_path, config.path.parent),
        "observations": _relative(config.observations_path, config.path.parent),
        "cutoff": str(config.cutoff) if config.cutoff else None, "digest": digest(config),
        "method": config.method.model_dump(), "discrepancy_relative": config.discrepancy_relative,
        "generations": len(result.history), "simulated_sets": result.history[-1].simulated,
        "replications_per_set": config.method.replications, "predictive_draws": config.predictive_draws,
        "resumed_from_generation": result.resumed_from, "wall_seconds": round(result.wall_seconds, 1),
        "packages": package_versions(),
    }


def write_calibration(result: Calibration, folder: Path, plots: bool = True) -> None:
    """A calibration's files, into ``folder`` (the temporary folder of :func:`atomic_folder`)."""
    config = result.config
    result.posterior.to_csv(folder / "posterior.csv", index=False)
    result.fitted.to_csv(folder / "fitted.csv", index=False)
    (folder / "fitted.md").write_text(markdown_table(result.fitted), encoding="utf-8")
    result.predictive.to_csv(folder / "predictive.csv", index=False)
    generations_frame(result.history).to_csv(folder / "generations.csv", index=False)
    write_manifest(folder, calibration_manifest(result))
    if plots:
        sc = scenario_mod.from_mapping(config.scenario_data)
        dates = Calendar(sc.start, sc.end).dates
        save_png(plots_mod.plot_observations(result.predictive), folder / "observations.png", dpi=DPI)
        save_png(plots_mod.plot_series(dates, result.series, config.observations, SERIES, BAND),
                 folder / "series.png", dpi=DPI)
        save_png(plots_mod.plot_marginals(config.parameters, result.posterior, result.fitted),
                 folder / "marginals.png", dpi=DPI)
        save_png(plots_mod.plot_pairs(config.parameters, result.posterior), folder / "pairs.png", dpi=DPI)


def write_holdout(validation: Validation, folder: Path, plots: bool = True) -> None:
    """holdout.csv, holdout.md (a summary and the table) and holdout.png, into ``folder``."""
    config, holdout = validation.calibration.config, validation.holdout
    holdout.to_csv(folder / "holdout.csv", index=False)
    summary = (f"Fitted on {len(config.fitted)} observations up to {config.cutoff}; "
               f"{len(holdout)} held out. Coverage of the 90% band: {holdout['covered'].mean():.0%} "
               f"(prior: {holdout['covered_prior'].mean():.0%}); mean absolute error of the mean: "
               f"{holdout['error_of_mean'].abs().mean():.2f}; mean absolute relative error: "
               f"{holdout['relative_error'].abs().mean():.1%}.\n\n")
    (folder / "holdout.md").write_text(summary + markdown_table(holdout), encoding="utf-8")
    if plots:
        save_png(plots_mod.plot_observations(validation.predicted, f"Held-out observations after {config.cutoff}"),
                 folder / "holdout.png", dpi=DPI)


def carry_subfolders(old: Path, new: Path) -> None:
    """Copy the subfolders of the earlier results folder ``old`` into ``new`` before it is swapped in:
    ``checkpoints/`` and results nested inside (see the module's docstring). Hidden entries
    (another run's temporary folders) are left behind."""
    if not old.is_dir():
        return
    for entry in sorted(old.iterdir()):
        if entry.is_dir() and not entry.is_symlink() and not entry.name.startswith(".") and not (new / entry.name).exists():
            shutil.copytree(entry, new / entry.name, symlinks=True)


def write_morris(frame: pd.DataFrame, out: str | Path, plots: bool = True, manifest: dict | None = None) -> Path:
    """A Morris screening's results folder ``out``, all at once: morris.csv, morris.png, and
    manifest.json when a ``manifest`` is given (the package versions are added)."""
    with atomic_folder(out) as folder:
        frame.to_csv(folder / "morris.csv", index=False)
        if plots:
            save_png(plots_mod.plot_morris(frame), folder / "morris.png", dpi=DPI)
        if manifest is not None:
            write_manifest(folder, {**manifest, "packages": package_versions()})
    return Path(out)
