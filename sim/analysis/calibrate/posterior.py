"""The posterior: the kept parameter sets with their weights, their summary, and using it later
(drawing sets by weight, turning a set into ``--set`` overrides)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import yaml

from ..abc_smc import Generation
from .config import Config, prior_box
from .errors import CalibrationError


def posterior_frame(config: Config, gen: Generation) -> pd.DataFrame:
    """One row per kept set: the parameter values, the normalised weight and the distance."""
    x = prior_box(config).to_x(gen.u)
    frame = pd.DataFrame({p.key: [p.value(v) for v in x[:, i]] for i, p in enumerate(config.parameters)})
    frame["weight"] = gen.normalised
    frame["distance"] = gen.distances
    return frame


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """Quantiles (0-1) of a weighted sample, interpolating the weighted empirical CDF at mid-points."""
    order = np.argsort(values, kind="stable")
    v, w = np.asarray(values, float)[order], np.asarray(weights, float)[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(q, cdf, v)


def fitted_table(config: Config, posterior: pd.DataFrame) -> pd.DataFrame:
    """Per parameter: prior range, weighted mean, median, 90% interval and its width against the prior."""
    rows = []
    w = posterior["weight"].to_numpy()
    for p in config.parameters:
        x = posterior[p.key].to_numpy(float)
        p5, p50, p95 = weighted_quantile(x, w, [0.05, 0.5, 0.95])
        rows.append({"parameter": p.key, "prior_low": p.low, "prior_high": p.high, "mean": float(np.average(x, weights=w)),
                     "median": p50, "p5": p5, "p95": p95, "width_vs_prior": (p95 - p5) / (0.9 * (p.high - p.low))})
    return pd.DataFrame(rows)


#: Columns of a posterior.csv that are not scenario keys.
NOT_PARAMETERS = ("weight", "distance")


def _read(path: str | Path) -> tuple[pd.DataFrame, list[int]]:
    """The checked posterior and the file's line number of each row."""
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(f"{path}: posterior file not found" if not path.exists()
                               else f"{path}: expected a posterior CSV file, got a folder")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CalibrationError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    reader = csv.reader(text.splitlines())
    try:
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise CalibrationError(f"{path}: line {reader.line_num}: not a CSV row: {exc}") from None
    rows = [(line, row) for line, row in rows if any(cell.strip() for cell in row)]
    expected = "a header of scenario key paths and 'weight', then one parameter set per row (a calibration's posterior.csv)"
    if not rows:
        raise CalibrationError(f"{path}: empty file: expected {expected}")
    header = [c.strip() for c in rows[0][1]]
    for i, column in enumerate(header):
        if not column or column in header[:i]:
            raise CalibrationError(f"{path}: line {rows[0][0]}: column {i + 1} "
                                   + ("has no name" if not column else f"{column!r} is named twice") + f"; expected {expected}")
    if "weight" not in header:
        raise CalibrationError(f"{path}: line {rows[0][0]}: no 'weight' column; expected {expected}")
    if not [c for c in header if c not in NOT_PARAMETERS]:
        raise CalibrationError(f"{path}: line {rows[0][0]}: no parameter column (only {', '.join(header)}); "
                               f"expected {expected}")
    if len(rows) == 1:
        raise CalibrationError(f"{path}: no parameter sets (only a header); expected {expected}")
    columns: dict[str, list] = {c: [] for c in header}
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise CalibrationError(f"{path}: line {line}: {len(row)} fields, expected {len(header)} as in the header")
        for column, text in zip(header, row):
            columns[column].append(_number(path, line, column, text.strip()))
    lines = [line for line, _ in rows[1:]]
    for line, w in zip(lines, columns["weight"]):
        if w < 0:
            raise CalibrationError(f"{path}: line {line}: weight: expected a number of at least 0, got {w:g}")
    if not sum(columns["weight"]) > 0:
        raise CalibrationError(f"{path}: weight: every weight is 0; expected at least one positive weight")
    frame = pd.DataFrame({c: pd.Series(v, dtype="int64" if all(isinstance(x, int) for x in v) else "float64")
                          for c, v in columns.items()})
    return frame, lines


def _number(path: Path, line: int, column: str, text: str) -> int | float:
    """A cell as an int (written as one) or a finite float."""
    try:
        whole = int(text)
        if abs(whole) < 2 ** 53:  # larger: as a float (an int64 column cannot hold every int)
            return whole
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise CalibrationError(f"{path}: line {line}: {column}: expected a finite number, got {text!r}")
    return value


def read_posterior(path: str | Path) -> pd.DataFrame:
    """A posterior.csv, checked: parameter columns and a ``weight`` column, at least one row, finite
    numbers, weights of at least 0 and not all 0. A :class:`CalibrationError` names the file and line."""
    return _read(path)[0]


def parameter_keys(frame: pd.DataFrame) -> list[str]:
    """The scenario key paths a posterior sets (its columns but weight and distance)."""
    return [c for c in frame.columns if c not in NOT_PARAMETERS]


def _value_at(data: dict, key: str):
    """The value at a dotted key path of a scenario mapping, or ``KeyError`` if there is none."""
    node = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(key)
        node = node[part]
    return node


def sample_posterior(path: str | Path, n: int, seed: int, scenarios: Sequence = (),
                     labels: Sequence[str] = (), leave_out: Sequence[str] = ()) -> list[dict[str, float]]:
    """``n`` parameter sets drawn by weight (with replacement) from a posterior.csv, without the
    columns in ``leave_out`` (keys the user sets instead; the same rows are drawn either way).

    With ``scenarios``, every column drawn must be a key of each scenario and every drawn set must give
    a valid scenario, checked here (before any replication runs), named by the file's line.
    """
    frame, lines = _read(path)
    keys = [k for k in parameter_keys(frame) if k not in leave_out]
    w = frame["weight"].to_numpy(float)
    rows = np.random.default_rng(seed).choice(len(frame), size=n, p=w / w.sum())
    draws = [{k: frame[k].iloc[i].item() for k in keys} for i in rows]
    for sc, label in zip(scenarios, list(labels) or [sc.name for sc in scenarios]):
        _check_fits(Path(path), keys, sc, label, [(lines[i], d) for i, d in zip(rows, draws)])
    return draws


def _check_fits(path: Path, keys: list[str], scenario, label: str, draws: list[tuple[int, dict]]) -> None:
    from ...config.scenario import ScenarioError, from_mapping, with_values

    data = scenario.model_dump(mode="json")
    for key in keys:
        try:
            _value_at(data, key)
        except KeyError:
            raise CalibrationError(f"{path}: column {key!r} is not a key of scenario {label!r}; expected the "
                                   "key paths of the calibration's free parameters") from None
    for line, values in sorted(dict(draws).items()):
        try:
            from_mapping(with_values(data, values), label)
        except ScenarioError as exc:
            detail = str(exc).replace("\n", "; ")
            raise CalibrationError(f"{path}: line {line}: this parameter set does not fit scenario {label!r}: "
                                   f"{detail}") from None


def differing_keys(keys: Sequence[str], scenarios: Sequence) -> list[str]:
    """The keys among ``keys`` on which the scenarios differ: a posterior setting them would erase
    the very difference a comparison is about."""
    dumps = [sc.model_dump(mode="json") for sc in scenarios]
    out = []
    for key in keys:
        values = []
        for data in dumps:
            try:
                values.append(_value_at(data, key))
            except KeyError:
                values.append(None)
        if any(v != values[0] for v in values[1:]):
            out.append(key)
    return out


def posterior_overrides(row: dict[str, float]) -> list[str]:
    """A posterior row as ``--set key.path=value`` assignments (values written as YAML numbers)."""
    return [f"{key}={yaml.safe_dump(value).splitlines()[0]}" for key, value in row.items()]


def parameters_text(posterior: str | Path | None, draws: int | None = None, per_draw: int | None = None,
                    fixed: Sequence[str] = ()) -> str:
    """What tables, figures and manifests say about a run's parameters: calibrated (how many draws,
    which fitted keys the user fixed instead) or the scenario's first guesses."""
    if posterior is None:
        return "first-guess parameters"
    text = f"calibrated: {draws} posterior draws × {per_draw} replications ({Path(posterior).name})"
    return text + (f"; {', '.join(fixed)} as set" if fixed else "")


class ErasedDifference(CalibrationError):
    """A posterior column is a key on which the compared scenarios differ (``key``): drawn alike in
    all of them, it would erase the very difference the comparison is about."""

    def __init__(self, key: str):
        super().__init__(f"its column {key} is a key on which the scenarios differ")
        self.key = key


def comparison_draws(path: str | Path, n: int, seed: int, scenarios: Sequence, labels: Sequence[str]) -> list[dict]:
    """``n`` parameter sets to run every scenario of a comparison on (see :func:`sample_posterior`);
    :class:`ErasedDifference` when the posterior sets a key on which the scenarios differ."""
    draws = sample_posterior(path, n, seed, scenarios=scenarios, labels=labels)
    erased = differing_keys(list(draws[0]), scenarios)
    if erased:
        raise ErasedDifference(erased[0])
    return draws
