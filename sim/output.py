"""Writing a results folder atomically: everything is written to a temporary
folder beside the target and moved into place only when complete."""

from __future__ import annotations

import contextlib
import json
import platform
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Iterator

from . import __version__
from .experiment import Results, series_frame, summarise

PACKAGES = ("simpy", "numpy", "scipy", "pandas", "pydantic", "matplotlib")


def package_versions() -> dict[str, str]:
    versions = {"bwsim": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


@contextlib.contextmanager
def atomic_folder(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``target``, on error it is removed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    tmp.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def manifest(results: Results, wall_seconds: float, extra: dict | None = None) -> dict:
    sc = results.scenario
    return {
        "scenario": sc.model_dump(mode="json"),
        "scenario_hash": sc.digest(),
        "seed": results.seed,
        "replications": results.replications,
        "packages": package_versions(),
        "wall_seconds": round(wall_seconds, 3),
        **(extra or {}),
    }


def write_results(results: Results, out: str | Path, wall_seconds: float, plots: bool = True,
                  extra_manifest: dict | None = None, tables: dict | None = None) -> Path:
    """series.csv, summary.csv, manifest.json, PNG plots, events.csv when the event log was
    kept, clients.csv when the client records were, and any further ``tables`` (file name -> DataFrame), all or nothing."""
    from .plots import plot_results

    with atomic_folder(out) as tmp:
        series_frame(results).to_csv(tmp / "series.csv", index=False)
        summarise(results).to_csv(tmp / "summary.csv", index=False)
        (tmp / "manifest.json").write_text(json.dumps(manifest(results, wall_seconds, extra_manifest), indent=2))
        if results.events is not None:
            results.events.to_csv(tmp / "events.csv", index=False)
        if results.clients is not None:
            results.clients.to_csv(tmp / "clients.csv", index=False)
        for name, frame in (tables or {}).items():
            frame.to_csv(tmp / name, index=False)
        if plots:
            plot_results(results, tmp)
    return Path(out)
