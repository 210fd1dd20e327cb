"""Fitting: ABC-SMC over the scenario, then prior and posterior predictive runs.

:func:`fit` computes a :class:`Calibration`; the only files it writes are its checkpoints
(:mod:`.checkpoints`). Writing a results folder is :mod:`sim.report.calibration_report`.
Parameter sets run on ``executor`` when one is given (a ``concurrent.futures.Executor``:
a process pool, Dask, ...), else on a local process pool of ``workers`` processes; the
same seed gives the same numbers either way.
"""

from __future__ import annotations

import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ...config import scenario as scenario_mod
from ...experiment.executors import pool_for
from ...model.calendar import Calendar
from ..abc_smc import Generation, abc_smc, scaled_rms
from .checkpoints import digest, save_checkpoint, start_checkpoints
from .config import Config, parameter_values, prior_box
from .horizon import fit_data
from .matching import Matcher
from .posterior import fitted_table, posterior_frame
from .prediction import predictive, predictive_table
from .progress import Progress, ProgressEvent, no_progress
from .simulation import run_sets


@dataclass
class Calibration:
    config: Config
    history: list[Generation]
    posterior: pd.DataFrame  # one row per kept set: parameters, weight, distance
    fitted: pd.DataFrame
    predictive: pd.DataFrame
    wall_seconds: float
    out: Path | None = None  # the results folder, once written
    resumed_from: int = 0
    series: dict = field(default_factory=dict)
    #: the predictive draws matched to every observation: {"prior": (draws, obs), "posterior": (draws, obs)}
    matched: dict = field(default_factory=dict)


def fit(config: Config, checkpoints: str | Path | None = None, workers: int | None = None, resume: bool = False,
        progress: Progress | None = None, executor: Executor | None = None) -> Calibration:
    """Fit ``config``: ABC-SMC, then the prior and posterior predictive runs.

    Each generation is checkpointed in the folder ``checkpoints`` (none when ``None``); with
    ``resume`` the fit continues from the generations checkpointed there."""
    progress = progress or no_progress
    folder = Path(checkpoints) if checkpoints is not None else None
    started = time.perf_counter()
    method = config.method
    data = fit_data(config)
    sc = scenario_mod.from_mapping(data)
    matcher = Matcher.build(config.fitted, Calendar(sc.start, sc.end), list(sc.inflow.municipalities))
    observed = np.array([o.value for o in config.fitted])
    box = prior_box(config)
    key = digest(config)
    history = start_checkpoints(folder, key, resume) if folder is not None else []
    resumed_from = len(history)
    with pool_for(executor, workers) as pool:
        def simulate(x: np.ndarray, t: int) -> np.ndarray:
            reps = tuple(range(method.replications))
            tasks = [(data, parameter_values(config, row), method.seed, reps, matcher) for row in x]
            return np.stack([m for m, _ in run_sets(tasks, f"generation {t}", progress, pool)])

        def on_generation(gen: Generation) -> None:
            if folder is not None:
                save_checkpoint(folder, gen, key)
            progress(ProgressEvent(f"generation {gen.index}", 1, 1, info=(
                f"tolerance {gen.epsilon:.3f}, acceptance {gen.acceptance:.2f}, ESS {gen.ess:.0f}")))

        history = abc_smc(simulate, scaled_rms(observed, config.scales()), box, method, history, on_generation)
        posterior = posterior_frame(config, history[-1])
        rng = np.random.default_rng([method.seed, 10_000])
        n = config.predictive_draws
        prior_x = box.low + (box.high - box.low) * rng.random((n, len(box.low)))
        post_x = box.to_x(history[-1].u)[rng.choice(len(posterior), size=n, p=history[-1].normalised)]
        prior_m, prior_s = predictive(config, prior_x, "prior predictive", progress, pool)
        post_m, post_s = predictive(config, post_x, "posterior predictive", progress, pool)
    return Calibration(config, history, posterior, fitted_table(config, posterior),
                       predictive_table(config, prior_m, post_m), time.perf_counter() - started, None, resumed_from,
                       {"prior": prior_s, "posterior": post_s}, {"prior": prior_m, "posterior": post_m})


def generations_frame(history: list[Generation]) -> pd.DataFrame:
    """One row per generation: tolerance, acceptance, effective sample size, sets simulated so far."""
    return pd.DataFrame([{"generation": g.index, "tolerance": g.epsilon, "acceptance": g.acceptance, "ess": g.ess,
                          "simulated_sets": g.simulated} for g in history])
