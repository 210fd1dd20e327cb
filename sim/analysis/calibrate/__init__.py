"""Calibration: fit a scenario's free parameters to observations with ABC-SMC.

The method is the adaptive population Monte Carlo ABC of Lenormand, Jabot and
Deffuant (2013, "Adaptive approximate Bayesian computation for complex models",
Computational Statistics 28:2777): a population of ``N`` parameter sets is drawn
from the prior; each generation keeps the ``alpha * N`` sets closest to the
observations (the tolerance is the alpha-quantile of the distances, so it adapts
by itself), refills the population by resampling the kept sets by weight and
perturbing them with a Gaussian kernel (twice their weighted covariance), and
gives each new set the importance weight prior / proposal. It stops when the
share of new sets that beat the previous tolerance drops below
``min_acceptance`` or after ``generations`` generations. The kept sets with
their weights are the posterior: a set of plausible parameter values, not a
point.

Parameters have uniform priors on ``[low, high]``. The kernel works on the logit
of each parameter's position in its range, so proposals never leave the prior
and the importance weights stay exact (the prior of a logit of a uniform is the
logistic density).

Every parameter set is simulated with the same seed and replications ``0..k-1``
(common random numbers), the distance is the root mean square of
``(mean of the k replications - observed) / scale`` over the fitted
observations, with ``scale`` the observation's own error and a model
discrepancy added in quadrature. Each generation is checkpointed atomically, and
generation ``t`` draws its random numbers from ``(seed, t)`` only, so a resumed
run gives exactly the result of an uninterrupted one.

The algorithm itself is :mod:`sim.analysis.abc_smc`; this package holds the rest:

* :mod:`.errors` — ``CalibrationError``, the one error for bad input;
* :mod:`.progress` — ``ProgressEvent``: the library never prints, progress goes to a callback;
* :mod:`.observations` — the observations CSV and the records each observation is matched to;
* :mod:`.config` — the calibration file's schema, the free parameters, ``load_config``;
* :mod:`.horizon` — the fit horizon: the scenario runs only up to the last fitted observation;
* :mod:`.matching` — ``Matcher``: a replication's records as one number per observation;
* :mod:`.simulation` — parameter sets simulated over an executor (process pool, Dask) or in process;
* :mod:`.checkpoints` — one file per generation, for ``--resume`` (and where they live);
* :mod:`.prediction` — prior and posterior predictive runs;
* :mod:`.posterior` — the weighted posterior, its summary, and drawing from it later;
* :mod:`.fitting` — ``fit``: ABC-SMC and the predictive runs, as a ``Calibration``;
* :mod:`.validation` — fit up to a cut-off, score the prediction of the later observations.

Nothing here writes a results folder: :mod:`sim.report.calibration_report` does
(``calibrate``, ``validate``; all at once, with the figures of :mod:`sim.report.calibration_plots`).
"""

from __future__ import annotations

from ..abc_smc import Box, Generation, abc_smc, scaled_rms
from .checkpoints import FOLDER as CHECKPOINTS
from .checkpoints import digest, load_checkpoints, save_checkpoint, start_checkpoints, write_atomic
from .config import Config, Method, Parameter, load_config, parameter_values, prior_box
from .errors import CalibrationError
from .fitting import Calibration, fit, generations_frame
from .horizon import fit_data, trimmed
from .matching import Matcher
from .observations import HOLDOUT, MATCHES, OBS_COLUMNS, USES, Observation, read_observations, record_indices
from .posterior import (ErasedDifference, comparison_draws, differing_keys, parameters_text, fitted_table, parameter_keys, posterior_frame, posterior_overrides,
                        read_posterior, sample_posterior, weighted_quantile)
from .prediction import BAND, SERIES, predictive, predictive_table
from .progress import Progress, ProgressEvent, no_progress
from .simulation import run_sets, simulate_set
from .validation import Validation, check_holdout, score_holdout

__all__ = [
    "BAND", "CHECKPOINTS", "HOLDOUT", "MATCHES", "OBS_COLUMNS", "SERIES", "USES",
    "Box", "Calibration", "CalibrationError", "Config", "Generation", "Matcher", "Method", "Observation", "Parameter",
    "Progress", "ProgressEvent", "Validation",
    "ErasedDifference", "abc_smc", "check_holdout", "comparison_draws", "differing_keys", "digest", "fit", "fit_data", "fitted_table", "generations_frame", "load_checkpoints",
    "load_config", "no_progress", "parameter_keys", "parameter_values", "posterior_frame", "posterior_overrides", "predictive",
    "predictive_table", "prior_box", "read_observations", "read_posterior", "record_indices", "run_sets",
    "parameters_text", "sample_posterior", "save_checkpoint", "scaled_rms", "score_holdout", "simulate_set", "start_checkpoints",
    "trimmed", "weighted_quantile", "write_atomic",
]
