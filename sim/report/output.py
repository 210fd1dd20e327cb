"""Writing a results folder atomically: everything is written to a temporary
folder beside the target and moved into place only when complete.

A results folder may replace only a folder that is itself an earlier bwsim
result (it holds the ``.bwsim-result`` mark, or a manifest written by bwsim) or an
empty one: a file, or a folder holding anything else (the user's own files, the
scenario being run), is refused, so nothing the user owns is ever moved or deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Iterator

from .. import __version__
from ..experiment.replications import Results, series_frame, summarise

PACKAGES = ("simpy", "numpy", "scipy", "pandas", "pydantic", "matplotlib")
#: The file that marks a folder as a bwsim result, which a later result may replace.
MARK = ".bwsim-result"


class OutputError(ValueError):
    """A results folder that may not be written; the message names the path and why."""


def _is_result(folder: Path) -> bool:
    if (folder / MARK).is_file():
        return True
    try:  # results written before the mark existed: a bwsim manifest
        data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "bwsim" in (data.get("packages") or {})


def check_target(target: str | Path) -> Path:
    """The results folder ``target`` if bwsim may write it, else :class:`OutputError`.
    Check before any work, so that a refused folder costs nothing."""
    target = Path(target)
    if str(target).strip() in ("", "."):
        raise OutputError(f"--out {str(target)!r}: expected the path of a results folder")
    for parent in target.parents:
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"--out {target}: {parent} is a file, not a folder")
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise OutputError(f"--out {target}: is a file; expected a new folder or an earlier bwsim result "
                          "(nothing was written)")
    if target.is_dir() and any(target.iterdir()) and not _is_result(target):
        raise OutputError(f"--out {target}: holds files that are not a bwsim result; bwsim replaces only "
                          "its own results: choose a new folder (nothing was written)")
    return target


def package_versions() -> dict[str, str]:
    versions = {"bwsim": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def mark_result(folder: str | Path) -> Path:
    """Create ``folder`` if need be and mark it as a bwsim result (which a later result may replace)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARK).write_text("written by bwsim; a later bwsim result may replace this folder\n")
    return folder


def write_manifest(folder: str | Path, manifest: dict) -> Path:
    """``folder/manifest.json``: what a result was made from (JSON, indented)."""
    path = Path(folder) / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return path


@contextlib.contextmanager
def atomic_folder(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``target`` (which must pass
    :func:`check_target`), on error it is removed."""
    target = check_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; a results folder is an ordinary folder
    try:
        mark_result(tmp)
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
        write_manifest(tmp, manifest(results, wall_seconds, extra_manifest))
        if results.events is not None:
            results.events.to_csv(tmp / "events.csv", index=False)
        if results.clients is not None:
            results.clients.to_csv(tmp / "clients.csv", index=False)
        for name, frame in (tables or {}).items():
            frame.to_csv(tmp / name, index=False)
        if plots:
            plot_results(results, tmp)
    return Path(out)
