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

# Light to import (the command line checks output folders before anything heavy is loaded):
# the results writer imports the experiment's tables when it runs.

from .. import __version__

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
    _check_writable(target.parent if not target.exists() else target)
    return target


def package_versions() -> dict[str, str]:
    versions = {"bwsim": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def mark_result(folder: str | Path) -> Path:
    """Create ``folder`` if need be and mark it as a bwsim result (which a later result may replace).
    The mark names the process writing it, so that a folder left by a killed run can be told
    from one another run is still writing."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARK).write_text(f"written by bwsim; a later bwsim result may replace this folder\npid {os.getpid()}\n")
    return folder


def _writer_alive(folder: Path) -> bool:
    try:
        words = (folder / MARK).read_text(encoding="utf-8").split()
        pid = int(words[words.index("pid") + 1])
    except (OSError, ValueError, IndexError):
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(target: str | Path) -> list[str]:
    """Clean up after a run killed while writing ``target``; returns what was done, one line each.

    * killed between the two renames (``target`` gone, the earlier result kept as
      ``.NAME.old``): the earlier result is put back;
    * killed while writing: the temporary ``.NAME.*`` folders it left (bwsim's own: they carry
      the mark, and the process that wrote them is gone) are removed.
    Nothing without bwsim's mark is touched."""
    target = Path(target)
    parent = target.parent
    done: list[str] = []
    if not parent.is_dir():
        return done
    old = parent / f".{target.name}.old"
    if not target.exists() and old.is_dir() and _is_result(old):
        old.rename(target)
        done.append(f"{target}: put back the earlier result that an interrupted run had set aside")
    for stray in parent.glob(f".{target.name}.*"):
        if stray.is_dir() and not stray.is_symlink() and (stray / MARK).is_file() and not _writer_alive(stray):
            shutil.rmtree(stray, ignore_errors=True)
            done.append(f"{target}: removed {stray.name}, left by an interrupted run")
    return done


def _check_writable(target: Path) -> None:
    """The nearest existing folder of ``target`` must let us create files (read-only, no permission)."""
    folder = next((p for p in [target, *target.parents] if p.exists()), Path("."))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"--out {target}: cannot write in {folder} (read-only or no permission)")


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
    recover(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        raise OutputError(f"--out {target}: cannot write: {exc.strerror or exc}") from None
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; a results folder is an ordinary folder
    try:
        mark_result(tmp)
        yield tmp
    except OSError as exc:  # a full disk, a folder made read-only meanwhile, ...
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(f"--out {target}: cannot write ({exc.strerror or exc}); the earlier result, if any, "
                          "is as it was") from None
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


def manifest(results, wall_seconds: float, extra: dict | None = None) -> dict:
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


def write_results(results, out: str | Path, wall_seconds: float, plots: bool = True,
                  extra_manifest: dict | None = None, tables: dict | None = None) -> Path:
    """series.csv, summary.csv, manifest.json, PNG plots, events.csv when the event log was
    kept, clients.csv when the client records were, and any further ``tables`` (file name -> DataFrame), all or nothing."""
    from ..experiment.replications import series_frame, summarise
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
