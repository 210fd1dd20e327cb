"""What the web app runs: a comparison of scenarios and a verdeelmodel assessment, each cached in
a folder of ``cache`` named by a hash of what determines its numbers (every scenario's resolved
content, the labels, the seed, the replications, the bwsim version), so that asking again gives
the same folder, at once.

A comparison's folder is what ``bwsim compare`` writes (``report.html``, ``comparison.csv``,
``manifest.json``, the figures), written by :func:`sim.report.compare_report.write_report` in a
worker process. A verdeel folder holds ``gaps.json`` (the gap per municipality and year, with its
95% interval and P(short)) and ``manifest.json``."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .. import __version__
from .jobs import Job, JobQueue

#: At most this many replications per request.
MAX_REPLICATIONS = 50
MAX_SCENARIOS = 4
PER_DRAW = 3  # replications per posterior draw, as `bwsim compare` (-k 3)
KEY = re.compile(r"[0-9a-f]{24}")
#: The folder of a verdeel result that holds the full report (``bwsim verdeel --lang nl``).
REPORT = "report"
#: The files of a comparison a user may download.
DOWNLOADS = {"report.html": "text/html", "comparison.csv": "text/csv", "manifest.json": "application/json",
             "report.md": "text/markdown"}


class RequestError(ValueError):
    """A request the app refuses (shown with the field it is about)."""


def digest(payload: dict) -> str:
    text = json.dumps({**payload, "bwsim": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def check_key(key: str) -> str:
    if not KEY.fullmatch(key or ""):
        raise RequestError("not a result")
    return key


def check_numbers(replications: int, seed: int) -> None:
    if not 2 <= replications <= MAX_REPLICATIONS:
        raise RequestError(f"replications: between 2 and {MAX_REPLICATIONS} (got {replications})")
    if not 0 <= seed <= 2 ** 32 - 1:
        raise RequestError(f"seed: between 0 and {2 ** 32 - 1} (got {seed})")


# ---------------------------------------------------------------- comparisons


@dataclass
class CompareRequest:
    names: list[str]
    scenarios: list  # validated Scenario objects, the first the reference
    files: list[str]
    replications: int
    seed: int
    overrides: list[str]
    posterior: str | None = None  # the calibration the scenarios name, drawn from as `bwsim compare` does
    draws: list | None = None

    @cached_property
    def key(self) -> str:
        return digest({"kind": "compare", "scenarios": [s.model_dump(mode="json") for s in self.scenarios],
                       "labels": self.labels, "seed": self.seed, "replications": self.replications,
                       "draws": self.draws, "per_draw": PER_DRAW})

    @property
    def labels(self) -> list[str]:
        from ..experiment.compare import unique_labels

        return unique_labels([s.name for s in self.scenarios])

    @property
    def total(self) -> int:
        """Units of work: every replication, and the report."""
        return self.replications * len(self.scenarios) + 1


def compare_request(catalog, names: list[str], replications: int, seed: int, end_year: int | None) -> CompareRequest:
    """Check a comparison request: 2–4 scenario names of the folder, bounded replications, and
    an optional last year (the run ends on 1 January of the year after)."""
    from ..config.scenario import ScenarioError

    names = [n for n in names if n]
    if not 2 <= len(names) <= MAX_SCENARIOS:
        raise RequestError(f"scenarios: choose 2 to {MAX_SCENARIOS} (got {len(names)})")
    if len(set(names)) != len(names):
        raise RequestError("scenarios: each scenario once")
    check_numbers(replications, seed)
    overrides = [f"end={end_year + 1}-01-01"] if end_year else []
    loaded = []
    for name in names:
        try:
            loaded.append(catalog.scenario(name, overrides))
        except ScenarioError as exc:  # the folder's path is the server's business
            raise RequestError(str(exc).replace(str(catalog.folder) + "/", "")) from None
    first = loaded[0]
    for name, sc in zip(names[1:], loaded[1:]):
        if (sc.start, sc.end) != (first.start, first.end):
            raise RequestError(f"{name} runs {sc.start} to {sc.end}, but {names[0]} runs {first.start} to "
                               f"{first.end}; compared scenarios must cover the same period")
    request = CompareRequest(names, loaded, [str(catalog.path(n)) for n in names], replications, seed, overrides)
    request.posterior, request.draws = calibrated_draws(loaded, request.labels, replications, seed)
    return request


def posterior_provenance(posterior: dict | None) -> dict:
    """The manifest's posterior keys from what the comparison actually ran on (its ``posterior``)."""
    if not posterior:
        return {"posterior": None}
    return {"posterior": posterior["file"], "draws": posterior["draws"],
            "per_draw": posterior["replications_per_draw"]}


def calibrated_draws(scenarios: list, labels: list[str], replications: int, seed: int):
    """The posterior every scenario names and its parameter draws (replication r takes draw r // PER_DRAW),
    as ``bwsim compare`` draws them; (None, None) when the scenarios name no calibration."""
    import math

    from ..analysis.calibrate import CalibrationError, ErasedDifference, comparison_draws

    named = {sc.calibration.posterior for sc in scenarios}
    if named == {None}:
        return None, None
    if len(named) > 1 or None in named:
        raise RequestError("these scenarios name different calibrations (calibration.posterior); compare "
                           "scenarios of one calibration")
    posterior = named.pop()
    if not Path(posterior).is_file():
        raise RequestError(f"the calibration {Path(posterior).name} the scenarios name does not exist")
    try:
        draws = comparison_draws(posterior, math.ceil(replications / PER_DRAW), seed, scenarios, labels)
    except ErasedDifference as exc:
        raise RequestError(f"the scenarios differ on {exc.key}, which their calibration sets in every run; "
                           "compare them on the command line with --first-guess") from None
    except CalibrationError as exc:
        raise RequestError(str(exc).replace(str(Path(posterior).parent) + "/", "")) from None
    return posterior, draws


def is_complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in ("manifest.json", "comparison.csv", "report.html"))


def compare_work(request: CompareRequest, folder: Path):
    """The job: replications on the queue's pool, then the report written by a worker process."""

    def work(job: Job, queue: JobQueue) -> None:
        from ..experiment.compare import compare
        from ..report.compare_report import write_report
        from ..report.output import provenance

        comparison = compare(request.scenarios, request.replications, seed=request.seed, workers=queue.workers,
                             labels=request.labels, executor=queue.pool(), progress=job.advance,
                             draws=request.draws, per_draw=PER_DRAW)
        if comparison.posterior is not None:
            comparison.posterior["file"] = request.posterior
        job.phase = "writing the report"
        manifest = provenance(scenarios=request.files, overrides=request.overrides, seed=request.seed,
                              replications=request.replications, executor="process", made_by="bwsim serve",
                              cache_key=request.key, **posterior_provenance(comparison.posterior))
        queue.pool().submit(write_report, comparison, folder, None, manifest).result()

    return work


def recent(cache: Path, kind: str, count: int = 8) -> list[dict]:
    """The latest finished results of a kind in the cache, newest first: key, what, when."""
    import datetime as dt

    found = []
    for folder in cache.glob(f"{kind}-*"):
        key = folder.name.removeprefix(f"{kind}-")
        meta = folder / ("comparison.json" if kind == "compare" else "gaps.json")
        if not KEY.fullmatch(key) or not (folder / "manifest.json").is_file() or not meta.is_file():
            continue
        found.append((meta.stat().st_mtime, key, meta))
    out = []
    for mtime, key, meta in sorted(found, reverse=True)[:count]:
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        what = (" vs ".join(data.get("labels", [])) if kind == "compare"
                else f"{data.get('scenario')} · {data.get('regime')}")
        out.append({"key": key, "what": what, "replications": data.get("replications"), "seed": data.get("seed"),
                    "when": dt.datetime.fromtimestamp(mtime).strftime("%Y-%m-%d %H:%M")})
    return out


def read_comparison(folder: Path) -> dict:
    """What the result page shows, from the saved folder: labels, seed, replications, the years and
    the rows of comparison.csv (numbers as floats), what each scenario changes."""
    meta = json.loads((folder / "comparison.json").read_text(encoding="utf-8"))
    rows = []
    with open(folder / "comparison.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for name, value in row.items():
                if name not in ("scenario", "metric", "unit"):
                    row[name] = float(value) if value not in ("", None) else float("nan")
            row["year"] = int(row["year"])
            rows.append(row)
    years = sorted({r["year"] for r in rows})
    return {"labels": meta["labels"], "seed": meta["seed"], "replications": meta["replications"],
            "changes": meta.get("changes", []), "years": years, "rows": rows,
            "start": meta["scenarios"][0]["start"], "end": meta["scenarios"][0]["end"]}


# ---------------------------------------------------------------- verdeel


@dataclass
class VerdeelRequest:
    scenario_name: str
    settings_name: str
    scenario_path: Path
    settings_path: Path
    settings: object
    scenario: object
    table: object
    notes: list[str]
    replications: int
    seed: int
    overrides: list[str]
    setting_overrides: list[str]
    split: object
    pages: bool = False  # also the report and the Dutch page per municipality (gemeenten/)
    posterior: str | None = None  # the scenario's calibration, drawn from as `bwsim verdeel` does
    draws: list | None = None

    @cached_property
    def key(self) -> str:
        return digest({"kind": "verdeel", "scenario": self.scenario.model_dump(mode="json"),
                       "settings": self.settings.model_dump(mode="json"), "overrides": self.setting_overrides,
                       "seed": self.seed, "replications": self.replications, "pages": self.pages,
                       "draws": self.draws, "per_draw": PER_DRAW})

    @property
    def total(self) -> int:
        """Units of work: every replication (twice with the Wlz split), and the assessment."""
        return self.replications * (2 if self.split is not None else 1) + 1


def verdeel_request(catalog, scenario: str, settings: str, regime: str | None, responsibility_year: int | None,
                    start_year: int | None, macro_budget: str | None, end_year: int | None, replications: int,
                    seed: int, pages: bool = False) -> VerdeelRequest:
    """Check a verdeel request as ``bwsim verdeel`` does (the same settings and scenario errors)."""
    from ..config.scenario import ScenarioError
    from ..policy import verdeel as vd

    check_numbers(replications, seed)
    if settings not in catalog.settings_names():
        raise RequestError(f"settings: {settings!r} is not a verdeel settings file of the folder")
    if scenario not in catalog.scenario_names():
        raise RequestError(f"scenario: {scenario!r} is not a scenario of the folder")
    setting_overrides = []
    if regime:
        if regime not in vd.REGIMES:
            raise RequestError(f"regime: one of {', '.join(vd.REGIMES)} (got {regime!r})")
        setting_overrides.append(f"regime={regime}")
    if start_year:
        setting_overrides.append(f"start_year={start_year}")
    if responsibility_year:
        setting_overrides.append(f"responsibility_year={responsibility_year}")
    if macro_budget:
        text = macro_budget.strip().replace("_", "")
        if text != "scenario_cost" and not re.fullmatch(r"\d+(\.\d+)?", text):
            raise RequestError("macro budget: euros a year (e.g. 37700000) or scenario_cost")
        setting_overrides.append(f"macro_budget={macro_budget.strip()}")
    overrides = [f"end={end_year + 1}-01-01"] if end_year else []
    scenario_path, settings_path = catalog.path(scenario), catalog.path(settings)
    try:
        cfg = vd.load_settings(settings_path, setting_overrides)
        sc, table, notes = vd.prepare(scenario_path, cfg, overrides)
    except (vd.VerdeelError, ScenarioError) as exc:
        raise RequestError(str(exc).replace(str(catalog.folder) + "/", "")) from None
    posterior, draws = calibrated_draws([sc], [sc.name], replications, seed)
    if draws:
        from ..analysis.calibrate import parameters_text

        notes = [f"Parameters: {parameters_text(posterior, len(draws), PER_DRAW)}."] + list(notes)
    return VerdeelRequest(scenario, settings, scenario_path, settings_path, cfg, sc, table, notes, replications,
                          seed, overrides, setting_overrides, vd.wlz_scenario(sc, cfg), bool(pages), posterior, draws)


def gap_rows(assessment) -> dict:
    """Per year, per municipality and the region: budget, cost paid, gap with its 95% interval and
    P(short), in € million (what ``bwsim verdeel`` prints)."""
    import numpy as np

    from ..experiment.replications import mean_ci
    from ..policy import verdeel as vd

    gap, cost = vd.with_region(assessment.gap), vd.with_region(assessment.cost)
    budget = np.concatenate([assessment.budget, assessment.budget.sum(0, keepdims=True)])
    g_mean, g_lo, g_hi = mean_ci(gap)
    c_mean = np.nanmean(cost, axis=0)
    names = assessment.municipalities + [vd.REGION]
    years = {}
    for k, year in enumerate(assessment.years):
        p = vd.probability_short(gap[:, :, k])
        years[str(year)] = [{"municipality": name, "budget": float(budget[m, k] / 1e6),
                             "cost": float(c_mean[m, k] / 1e6), "gap": float(g_mean[m, k] / 1e6),
                             "gap_low": float(g_lo[m, k] / 1e6), "gap_high": float(g_hi[m, k] / 1e6),
                             "p_short": float(p[m])} for m, name in enumerate(names)]
    return {"scenario": assessment.scenario_name, "regime": assessment.settings.regime,
            "responsibility_year": assessment.settings.responsibility, "start_year": assessment.settings.start_year,
            "prices": assessment.prices, "replications": assessment.replications, "seed": assessment.seed,
            "notes": list(assessment.notes), "years": [int(y) for y in assessment.years], "rows": years}


def verdeel_work(request: VerdeelRequest, folder: Path):
    def work(job: Job, queue: JobQueue) -> None:
        from ..experiment.replications import posterior_variants, run_replications
        from ..policy import verdeel as vd
        from ..report.output import atomic_folder, provenance, write_manifest

        runs = []
        for scenario in (request.scenario, request.split):
            if scenario is not None:  # the run and its split take the same draws: the same clients
                variants = (posterior_variants(scenario, request.draws, PER_DRAW)[:request.replications]
                            if request.draws else None)
                runs.append(run_replications(scenario, request.replications, seed=request.seed,
                                             workers=queue.workers, executor=queue.pool(), progress=job.advance,
                                             variants=variants))
        job.phase = "setting budgets against costs"
        assessment = vd.assess(runs[0], request.settings, request.table, list(request.notes),
                               runs[1] if len(runs) > 1 else None)
        data = gap_rows(assessment)
        data.update(scenario_file=request.scenario_name, settings_file=request.settings_name, pages=request.pages)
        with atomic_folder(folder) as tmp:
            if request.pages:
                from ..report.verdeel_report import write_outputs

                job.phase = "writing the report and the page per municipality"
                extra = {"scenario_file": request.scenario_path.name, "settings_file": request.settings_path.name,
                         "scenario_overrides": request.overrides, "made_by": "bwsim serve",
                         "draws": len(request.draws) if request.draws else None,
                         "per_draw": PER_DRAW if request.draws else None}
                queue.pool().submit(write_outputs, assessment, tmp / REPORT, None, extra, "nl").result()
                shutil.make_archive(str(tmp / REPORT), "zip", tmp / REPORT)
            (tmp / "gaps.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
            write_manifest(tmp, provenance(scenarios=[str(request.scenario_path)], overrides=request.overrides,
                                           seed=request.seed, replications=request.replications,
                                           settings_file=str(request.settings_path),
                                           setting_overrides=request.setting_overrides, made_by="bwsim serve",
                                           cache_key=request.key, posterior=request.posterior,
                                           draws=len(request.draws) if request.draws else None,
                                           per_draw=PER_DRAW if request.draws else None))

    return work


def report_file(folder: Path, path: str) -> Path | None:
    """A file of a verdeel result's report (``report/…`` or the zip), if ``path`` names one inside it."""
    base = (folder / REPORT).resolve()
    if path == f"{REPORT}.zip":
        target = folder / f"{REPORT}.zip"
        return target if target.is_file() else None
    if not path.startswith(f"{REPORT}/"):
        return None
    target = (folder / path).resolve()
    if base not in target.parents or not target.is_file():
        return None
    return target


def read_gaps(folder: Path) -> dict:
    return json.loads((folder / "gaps.json").read_text(encoding="utf-8"))
