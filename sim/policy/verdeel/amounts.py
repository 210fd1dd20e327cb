"""Published amounts: the historic and the objective budget of each municipality in euros, per
year (``historic_amount``, ``objective_amount``), instead of shares of one regional budget.

With shares, both keys divide the same macro budget, so the region is budget-neutral by
construction and the *herverdeeleffect* (objective − historic) sums to 0. Published amounts
need not: the objective model may give the region more or less than its historic budget, and
that difference is what the region gains or loses when the money moves. Nothing is rescaled.

The table lists some years; a year that is not listed takes the amount of the latest listed
year before it (or of the first listed year), moved along the budget path (indexation and the
Wlz reduction, :func:`sim.policy.verdeel.budget.budget_path`).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .settings import VerdeelError

AMOUNT_COLUMNS = ("municipality", "year", "historic_amount", "objective_amount")


@dataclass(frozen=True)
class Amounts:
    """[municipality, listed year] euros, municipalities in the order of ``names``."""

    path: Path
    names: list[str]
    years: list[int]
    historic: np.ndarray
    objective: np.ndarray

    def in_order(self, names: list[str]) -> Amounts:
        index = [self.names.index(n) for n in names]
        return Amounts(self.path, list(names), self.years, self.historic[index], self.objective[index])

    def at(self, years: list[int], path_factor) -> tuple[np.ndarray, np.ndarray]:
        """[municipality, year] historic and objective amounts for ``years``; an unlisted year takes the
        nearest earlier listed year (else the first) times ``path_factor(year) / path_factor(listed)``."""
        historic = np.zeros((len(self.names), len(years)))
        objective = np.zeros_like(historic)
        for k, year in enumerate(years):
            earlier = [y for y in self.years if y <= year]
            listed = earlier[-1] if earlier else self.years[0]
            j = self.years.index(listed)
            scale = path_factor(year) / path_factor(listed)
            historic[:, k] = self.historic[:, j] * scale
            objective[:, k] = self.objective[:, j] * scale
        return historic, objective


def read_amounts(path: str | Path, names: list[str]) -> Amounts:
    """Read and check the CSV: one row per municipality and year, euros ≥ 0, every municipality
    of ``names`` in every listed year, no municipality that is not in ``names``, no row twice."""
    path = Path(path)
    if not path.is_file():
        raise VerdeelError(f"{path}: file not found")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in reader.fieldnames or []]
        rows = [({(k or "").strip(): (v or "").strip() for k, v in row.items()}, reader.line_num) for row in reader]
    for column in AMOUNT_COLUMNS:
        if column not in columns:
            raise VerdeelError(f"{path}: column {column!r} is missing (columns: {', '.join(columns) or 'none'})")
    if not rows:
        raise VerdeelError(f"{path}: no amounts listed")
    values: dict[tuple[str, int], tuple[float, float]] = {}
    for row, line in rows:
        name = row["municipality"]
        if name not in names:
            raise VerdeelError(f"{path}: line {line}: municipality {name!r} is not in the municipality table "
                               f"({', '.join(names)})")
        try:
            year = int(row["year"])
        except ValueError:
            raise VerdeelError(f"{path}: line {line} ({name}): year: expected a year, got {row['year']!r}") from None
        if (name, year) in values:
            raise VerdeelError(f"{path}: line {line} ({name}, {year}): listed twice")
        pair = []
        for column in AMOUNT_COLUMNS[2:]:
            text = row[column]
            try:
                value = float(text)
            except ValueError:
                raise VerdeelError(f"{path}: line {line} ({name}, {year}): {column}: expected euros, "
                                   f"got {text!r}") from None
            if not math.isfinite(value) or value < 0:
                raise VerdeelError(f"{path}: line {line} ({name}, {year}): {column}: expected euros ≥ 0, "
                                   f"got {text!r}")
            pair.append(value)
        values[(name, year)] = (pair[0], pair[1])
    years = sorted({year for _, year in values})
    for year in years:
        missing = [n for n in names if (n, year) not in values]
        if missing:
            raise VerdeelError(f"{path}: {year}: no amounts for {', '.join(missing)} (every municipality in every "
                               "listed year)")
    historic = np.array([[values[(n, y)][0] for y in years] for n in names])
    objective = np.array([[values[(n, y)][1] for y in years] for n in names])
    if not historic.sum(0).all():
        raise VerdeelError(f"{path}: a year with no historic amount for any municipality: the historic key "
                           "needs a holder")
    return Amounts(path, list(names), years, historic, objective)
