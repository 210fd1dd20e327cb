"""Writing a results folder atomically: everything is written to a temporary
folder beside the target and moved into place only when complete.

A results folder may replace only a folder that is itself an earlier bwsim
result (it holds the ``.bwsim-result`` mark, or a manifest written by bwsim) or an
empty one: a file, or a folder holding anything else (the user's own files, the
scenario being run), is refused, so nothing the user owns is ever moved or deleted.

Every folder says how it was made: :func:`write_manifest` writes ``manifest.json`` with the
command line (set by the command line interface through :func:`invocation`; the library never
reads ``sys.argv``), the package versions and the git commit of the checkout, and
:func:`provenance` gives every command the same keys (scenario files, ``--set`` overrides,
posterior, seed, replications). Tables are written by :func:`write_table`, as CSV (floats in
full) or parquet, with :func:`with_units` adding each metric's kind and unit.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import platform
import shutil
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Iterator, Sequence

# Light to import (the command line checks output folders before anything heavy is loaded):
# the results writer imports the experiment's tables when it runs.

from .. import __version__

PACKAGES = ("simpy", "numpy", "scipy", "pandas", "pyarrow", "pydantic", "matplotlib")
#: Table formats a results folder can be written in (``--format``).
FORMATS = ("csv", "parquet")
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


# ---------------------------------------------------------------- provenance

#: The command line that asked for the results being written, set by the command line interface
#: (:func:`invocation`); the library never reads ``sys.argv`` itself.
_COMMAND: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("bwsim_command", default=None)


@contextlib.contextmanager
def invocation(argv: Sequence[str]) -> Iterator[None]:
    """Within this block, every manifest records ``argv`` as the command line that made it."""
    token = _COMMAND.set([str(a) for a in argv])
    try:
        yield
    finally:
        _COMMAND.reset(token)


def command_line() -> list[str] | None:
    """The command line set by :func:`invocation`, or None (a result made from Python)."""
    return _COMMAND.get()


def git_commit() -> dict | None:
    """``{"commit", "dirty"}`` of the git checkout this package is installed from: None when it is
    not a git checkout (an installed wheel, or a virtualenv inside someone else's repository), or
    when git is missing or fails. ``dirty``: tracked files differ from the commit."""
    here = Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(here), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    # the package's own file must be tracked there, or the repository is not the package's
    if git("ls-files", "--error-unmatch", "output.py") is None:
        return None
    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit.strip(), "dirty": None if status is None else bool(status.strip())}


def provenance(scenarios: Sequence[str | Path] = (), overrides: Sequence[str] = (),
               posterior: str | Path | None = None, draws: int | None = None, per_draw: int | None = None,
               seed: int | None = None, replications: int | None = None, **more) -> dict:
    """What a result was made from, the same keys for every command: ``command`` (the command line,
    see :func:`invocation`), ``scenario_files``, ``overrides`` (the ``--set`` list), ``posterior``
    (``{"file", "draws", "replications_per_draw"}`` or None), ``seed``, ``replications``,
    ``packages`` and ``git`` (see :func:`git_commit`); ``more`` is added as it is."""
    return {
        "command": command_line(),
        "scenario_files": [str(p) for p in scenarios],
        "overrides": list(overrides),
        "posterior": None if posterior is None else {"file": str(posterior), "draws": draws,
                                                     "replications_per_draw": per_draw},
        "seed": seed,
        "replications": replications,
        **more,
        "packages": package_versions(),
        "git": git_commit(),
    }


def write_manifest(folder: str | Path, manifest: dict) -> Path:
    """``folder/manifest.json``: what a result was made from (JSON, indented). Every manifest gets
    the command line, the package versions and the git commit, if the caller has not set them."""
    manifest = {"command": command_line(), **manifest}
    manifest.setdefault("packages", package_versions())
    manifest.setdefault("git", git_commit())
    path = Path(folder) / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    return path


# ---------------------------------------------------------------- tables

def metric_unit(metric: str, kind: str, period: str) -> str:
    """``people``, ``months``, ``days``, ``euros`` and, for what is counted over a time,
    ``people per month`` (``period="month"``) or ``people per year``."""
    if metric.startswith(("waited_", "wait_placed_")):
        return "months"
    if metric.endswith("_share"):
        return "share"
    if metric == "cost":
        base = "euros"
    elif metric.endswith("_days"):
        base = "days"
    else:
        base = "people"
    return base if kind == "stock" else f"{base} per {period}"


def with_units(frame, period: str):
    """``frame`` (with a ``metric`` column) with ``kind`` (stock, flow, wait) and ``unit`` columns
    after it. ``period``: what flows are counted over, ``month`` or ``year``."""
    from ..record.metrics import KIND

    frame = frame.copy()
    kinds = frame["metric"].map(KIND)
    if "kind" not in frame:
        frame.insert(frame.columns.get_loc("metric") + 1, "kind", kinds)
    units = {m: metric_unit(m, KIND[m], period) for m in frame["metric"].unique()}
    frame.insert(frame.columns.get_loc("kind") + 1, "unit", frame["metric"].map(units))
    return frame


def write_table(frame, folder: str | Path, stem: str, fmt: str = "csv") -> Path:
    """``folder/stem.csv`` (every float written in full: no ``3.77e+07``) or ``folder/stem.parquet``
    (pandas with pyarrow); the two read back into equal frames."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    path = Path(folder) / f"{stem}.{fmt}"
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)  # floats as repr: the shortest text that reads back exactly
    return path


def read_table(path: str | Path):
    """A table written by :func:`write_table` (CSV or parquet, by its suffix)."""
    import pandas as pd

    path = Path(path)
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


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
    """A run's manifest: the resolved scenario and its hash, seed, replications, wall time, and
    ``extra`` (from :func:`provenance`: the command line, files, overrides, posterior, versions)."""
    sc = results.scenario
    return {
        **(extra or {}),
        "scenario": sc.model_dump(mode="json"),
        "scenario_hash": sc.digest(),
        "seed": results.seed,
        "replications": results.replications,
        "wall_seconds": round(wall_seconds, 3),
    }


def write_results(results, out: str | Path, wall_seconds: float, plots: bool = True,
                  extra_manifest: dict | None = None, tables: dict | None = None, fmt: str = "csv",
                  observed=None) -> Path:
    """series, summary (``fmt``: csv or parquet), manifest.json, PNG figures (``observed``: points
    to overlay, see :func:`sim.report.plots.plot_results`), events when the event log was kept,
    clients when the client records were, and any further ``tables`` (name -> DataFrame; the
    name's suffix is replaced by the format's), all or nothing."""
    from ..experiment.replications import series_frame, summarise
    from .plots import plot_results

    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    with atomic_folder(out) as tmp:
        write_table(with_units(series_frame(results), "month"), tmp, "series", fmt)
        write_table(with_units(summarise(results), "year"), tmp, "summary", fmt)
        write_manifest(tmp, manifest(results, wall_seconds, {**(extra_manifest or {}), "format": fmt}))
        if results.events is not None:
            write_table(results.events, tmp, "events", fmt)
        if results.clients is not None:
            write_table(results.clients, tmp, "clients", fmt)
        for name, frame in (tables or {}).items():
            write_table(frame, tmp, Path(name).stem, fmt)
        if plots:
            plot_results(results, tmp, observed=observed)
    return Path(out)
