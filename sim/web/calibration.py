"""The calibration page's data: the observations against the prior and posterior predictive
bands (``predictive.csv`` of ``bwsim calibrate``) and, when there is one, the rolling
forecast-skill table (``rolling_summary.csv`` of ``bwsim validate --rolling``, by default in the
calibration folder's ``rolling/``)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from . import charts

PREDICTIVE = "predictive.csv"
ROLLING = "rolling_summary.csv"


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def to_float(text) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def cell(text: str) -> str:
    """A CSV cell for people: numbers to 3 significant digits, booleans as yes/no."""
    if text in ("True", "False"):
        return "yes" if text == "True" else "no"
    value = to_float(text)
    if math.isnan(value) or text.strip().lstrip("-").isdigit():
        return text
    return f"{value:.3g}"


def view(folder: Path | None, rolling: Path | None) -> dict:
    """What the page shows; ``found`` False when the folder holds no calibration results."""
    out: dict = {"folder": str(folder) if folder else None, "found": False, "rows": [], "figures": [],
                 "rolling": None, "rolling_folder": str(rolling) if rolling else None}
    if folder is not None and (folder / PREDICTIVE).is_file():
        rows = read_csv(folder / PREDICTIVE)
        out["found"] = True
        for r in rows:
            obs, sd = to_float(r.get("observed")), to_float(r.get("sd"))
            out["rows"].append({
                "observation": r.get("observation", ""), "use": r.get("use", ""), "match": r.get("match", ""),
                "observed": f"{obs:.4g}" + (f" ± {sd:.3g}" if math.isfinite(sd) and sd > 0 else ""),
                "prior": f"[{to_float(r.get('prior_p5')):.4g}, {to_float(r.get('prior_p95')):.4g}]",
                "posterior": f"{to_float(r.get('post_p50')):.4g} [{to_float(r.get('post_p5')):.4g}, "
                             f"{to_float(r.get('post_p95')):.4g}]",
                "covered": r.get("covered") == "True"})
        by_metric: dict[str, list[dict]] = {}
        for r in rows:
            by_metric.setdefault(r.get("metric", ""), []).append(r)
        for metric, group in by_metric.items():
            if len(group) < 2:
                continue
            xs = [r.get("date_or_period", "") for r in group]

            def series(label, mid, low, high):
                return charts.Series(label, [to_float(r.get(mid)) for r in group], [to_float(r.get(low)) for r in group],
                                     [to_float(r.get(high)) for r in group])

            observed = charts.Series("observed (± sd)", [to_float(r.get("observed")) for r in group],
                                     [to_float(r.get("observed")) - (to_float(r.get("sd")) or 0) for r in group],
                                     [to_float(r.get("observed")) + (to_float(r.get("sd")) or 0) for r in group])
            svg = charts.band_chart(f"{metric}: observed against the predictive bands", xs,
                                    [series("posterior predictive", "post_p50", "post_p5", "post_p95"),
                                     series("prior predictive", "prior_p50", "prior_p5", "prior_p95"), observed],
                                    "", 1, band_name="90% band")
            out["figures"].append({"metric": metric, "svg": svg})
    # the given folder, else the calibration's own `rolling/` (bwsim validate --rolling --out <results>/rolling)
    for candidate in ([rolling] if rolling else []) + ([folder / "rolling", folder] if folder else []):
        if candidate is not None and (candidate / ROLLING).is_file():
            table = read_csv(candidate / ROLLING)
            out["rolling"] = {"columns": list(table[0]) if table else [],
                              "rows": [[cell(v) for v in row.values()] for row in table], "folder": str(candidate)}
            break
    return out
