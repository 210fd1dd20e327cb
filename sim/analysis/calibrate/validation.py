"""Hold-out validation: fit on the observations up to a cut-off, score the prediction of the later ones.

:func:`check_holdout` refuses a configuration that has nothing to hold out (before any
work); :func:`score_holdout` reads the held-out rows of a fit's predictive table.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .config import Config
from .errors import CalibrationError
from .fitting import Calibration
from .observations import HOLDOUT

COLUMNS = ("observation", "observed", "sd", "post_mean", "post_p5", "post_p95", "covered", "error_of_mean",
           "relative_error", "z", "prior_p5", "prior_p95", "covered_prior")


@dataclass
class Validation:
    calibration: Calibration
    holdout: pd.DataFrame  # one row per held-out observation (``COLUMNS``)
    predicted: pd.DataFrame  # the same observations' rows of the predictive table, with relative_error and z

    @property
    def coverage(self) -> float:
        return float(self.holdout["covered"].mean())


def check_holdout(config: Config) -> None:
    """A :class:`CalibrationError` unless ``config`` has a cut-off and an observation after it to predict."""
    if config.cutoff is None:
        raise CalibrationError(f"{config.path}: validation needs a cut-off date")
    if not any(o.use == HOLDOUT for o in config.observations):
        raise CalibrationError(f"{config.observations_path}: no fitted observation after {config.cutoff} to predict")


def score_holdout(result: Calibration) -> Validation:
    """The held-out observations of a fit: predicted band and mean against the observed value."""
    table = result.predictive[result.predictive["use"] == HOLDOUT].copy()
    table["relative_error"] = table["error_of_mean"] / table["observed"].abs()
    table["z"] = table["error_of_mean"] / table["sd"]
    table = table.reset_index(drop=True)
    return Validation(result, table[list(COLUMNS)], table)
