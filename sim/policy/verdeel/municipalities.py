"""The table of member municipalities and their shares (a CSV), checked against the scenario."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...config.scenario import Scenario
from .settings import VerdeelError

#: Shares in the municipality table must sum to 1 within this tolerance (published shares are
#: often rounded to 3–4 decimals; the scenario's own shares use 1e-6).
SHARE_TOLERANCE = 1e-3
REQUIRED_COLUMNS = ("municipality", "inflow_share", "historic_share")


@dataclass(frozen=True)
class Municipalities:
    """Member municipalities and their shares, in the order of the table (or of the scenario,
    after :meth:`in_order`)."""

    path: Path
    names: list[str]
    inflow: np.ndarray
    historic: np.ndarray
    objective: np.ndarray
    objective_column: str = "objective_share"
    #: every share column read (the three above included), by column name
    shares: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def centrumgemeente(self) -> str:
        return self.names[int(np.argmax(self.historic))]

    def column(self, name: str) -> np.ndarray:
        """A share column by name (it must have been read: see :func:`read_municipalities`)."""
        if name not in self.shares:
            raise VerdeelError(f"{self.path}: column {name!r} is missing (columns read: {', '.join(self.shares)})")
        return self.shares[name]

    def in_order(self, names: list[str]) -> Municipalities:
        index = [self.names.index(n) for n in names]
        return Municipalities(self.path, list(names), self.inflow[index], self.historic[index],
                              self.objective[index], self.objective_column,
                              {k: v[index] for k, v in self.shares.items()})


def read_municipalities(path: str | Path, objective_column: str = "objective_share",
                        extra: tuple[str, ...] | list[str] = (), national: tuple[str, ...] | list[str] = (),
                        regional: tuple[str, ...] | list[str] = ()) -> Municipalities:
    """Read and check the CSV: required columns, numbers in [0, 1], no duplicates, each share
    column summing to 1 within :data:`SHARE_TOLERANCE` (then rescaled to sum to 1 exactly).
    ``extra``: more share columns to read (keys of variants, the pass-on key), checked the same way.
    ``national``: key columns that are shares of the national macro budget: they may sum to less
    than 1 and are taken as they are; none of them may be one of the ``regional`` columns (the
    woonplaats and pass-on keys, which divide the region)."""
    path = Path(path)
    if not path.is_file():
        raise VerdeelError(f"{path}: file not found")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in reader.fieldnames or []]
            rows = [(_cells(path, row, columns, reader.line_num), reader.line_num) for row in reader]
    except UnicodeDecodeError as exc:
        raise VerdeelError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    except csv.Error as exc:
        raise VerdeelError(f"{path}: line {reader.line_num}: not a CSV row: {exc}") from None
    for i, column in enumerate(columns):
        if column in columns[:i]:
            raise VerdeelError(f"{path}: line 1: column {column!r} is named twice")
    wanted = list(dict.fromkeys((*REQUIRED_COLUMNS[1:], objective_column, *extra)))
    for column in (*REQUIRED_COLUMNS, *wanted):
        if column not in columns:
            raise VerdeelError(f"{path}: column {column!r} is missing (columns: {', '.join(columns) or 'none'})")
    if not rows:
        raise VerdeelError(f"{path}: no municipalities listed")
    names: list[str] = []
    shares = {c: [] for c in wanted}
    for row, line in rows:
        name = row["municipality"]
        if not name:
            raise VerdeelError(f"{path}: line {line}: municipality: empty name")
        if name in names:
            raise VerdeelError(f"{path}: line {line} ({name}): listed twice (first on line "
                               f"{rows[names.index(name)][1]}); keep one row per municipality")
        names.append(name)
        for column in shares:
            text = row[column]
            try:
                value = float(text)
            except ValueError:
                raise VerdeelError(f"{path}: line {line} ({name}): {column}: expected a share, got {text!r}") from None
            if not 0 <= value <= 1:
                raise VerdeelError(f"{path}: line {line} ({name}): {column}: expected a share in [0, 1], got {value:g}")
            shares[column].append(value)
    both = [c for c in national if c in ("inflow_share", *regional)]
    if both:
        raise VerdeelError(f"{path}: {both[0]}: named as a national key column and as a regional share (the "
                           "woonplaats or pass-on key); give the national shares their own column")
    for column, values in shares.items():
        total = sum(values)
        if column in national:
            if not 0 < total <= 1 + SHARE_TOLERANCE:
                raise VerdeelError(f"{path}: {column}: national shares must sum to more than 0 and at most 1 "
                                   f"(within {SHARE_TOLERANCE:g}), got {total:.6g}")
            continue
        if abs(total - 1.0) > SHARE_TOLERANCE:
            raise VerdeelError(f"{path}: {column}: the shares must sum to 1 (within {SHARE_TOLERANCE:g}), "
                               f"got {total:.6g}")
    # rescaled to sum exactly to 1, so that the budgets always add up to the macro budget
    exact = {c: np.array(v) / (1.0 if c in national else sum(v)) for c, v in shares.items()}
    return Municipalities(path, names, exact["inflow_share"], exact["historic_share"], exact[objective_column],
                          objective_column, exact)


def _cells(path: Path, row: dict, columns: list[str], line: int) -> dict[str, str]:
    """A row's cells by column name, stripped; a row with fewer or more fields than the header is refused."""
    if None in row or None in row.values():
        fields = len(columns) + len(row.get(None) or ()) - sum(v is None for v in row.values())
        raise VerdeelError(f"{path}: line {line}: {fields} fields, expected {len(columns)} as in the header "
                           f"({','.join(columns)}); quote a text holding a comma")
    return {k.strip(): v.strip() for k, v in row.items()}


def check_against_scenario(table: Municipalities, scenario: Scenario,
                           scenario_source: str = "the scenario") -> tuple[Municipalities, list[str]]:
    """The table in the scenario's order, and notes on inflow shares that differ from the
    scenario's ``inflow.municipalities`` (the scenario's shares are the ones simulated).
    A municipality missing from either is an error."""
    in_scenario = list(scenario.inflow.municipalities)
    missing = [n for n in in_scenario if n not in table.names]
    if missing:
        raise VerdeelError(f"{table.path}: municipality {missing[0]!r} is in {scenario_source} "
                           "(inflow.municipalities) but not in this table")
    extra = [n for n in table.names if n not in in_scenario]
    if extra:
        raise VerdeelError(f"{table.path}: municipality {extra[0]!r} is in this table but not in {scenario_source} "
                           "(inflow.municipalities)")
    ordered = table.in_order(in_scenario)
    notes = []
    for name, share in zip(ordered.names, ordered.inflow):
        simulated = scenario.inflow.municipalities[name]
        if abs(simulated - share) > SHARE_TOLERANCE:
            notes.append(f"{name}: inflow_share {share:g} in {table.path.name}, but the scenario simulates "
                         f"{simulated:g} (inflow.municipalities.{name})")
    return ordered, notes
