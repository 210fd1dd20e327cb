"""Checkpoints: each finished generation is saved, so an interrupted calibration can be resumed.

:func:`.fitting.fit` writes one file per generation, ``gen_NNN.npz``, into the folder it is
given, each atomically (:func:`write_atomic`), as soon as the generation is finished; a
resumed fit reads them back. The digest stored in every checkpoint keeps a resume from
continuing a different configuration, and generation ``t`` draws its random numbers from
``(seed, t)`` only, so a resumed fit equals an uninterrupted one.

Where they live: ``bwsim calibrate`` and ``bwsim validate`` (:mod:`sim.report.calibration_report`)
keep them in the results folder, ``<out>/checkpoints/``, and carry them into the new folder
when the finished results are swapped in (the reasons are given there).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from ..abc_smc import Generation
from .config import Config
from .errors import CalibrationError
from .horizon import fit_data

FOLDER = "checkpoints"


def write_atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Write through ``write(tmp)`` to a temporary file beside ``path``, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def digest(config: Config) -> str:
    """What a checkpoint depends on (stopping rules excluded, so a run can be extended)."""
    payload = {
        "scenario": fit_data(config),
        "parameters": [vars(p) for p in config.parameters],
        "observations": [(o.label, o.period, o.match, o.value, o.sd) for o in config.fitted],
        "discrepancy": config.discrepancy_relative,
        "method": config.method.model_dump(exclude={"generations", "min_acceptance"}),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def save_checkpoint(folder: Path, gen: Generation, key: str) -> Path:
    path = folder / f"gen_{gen.index:03d}.npz"

    def write(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            np.savez(fh, u=gen.u, weights=gen.weights, distances=gen.distances, sims=gen.sims,
                     scalars=np.array([gen.epsilon, gen.acceptance, gen.simulated, gen.index]),
                     digest=np.array(key))

    return write_atomic(path, write)


def load_checkpoints(folder: Path, key: str) -> list[Generation]:
    """Every checkpointed generation, in order; an error if they belong to another configuration."""
    history = []
    for path in sorted(folder.glob("gen_*.npz")):
        with np.load(path) as z:
            if str(z["digest"]) != key:
                raise CalibrationError(f"{path}: checkpoint of a different configuration; run without --resume")
            eps, acc, simulated, index = z["scalars"]
            if int(index) != len(history):
                raise CalibrationError(f"{path}: generation {int(index)} follows {len(history) - 1}; checkpoints incomplete")
            history.append(Generation(int(index), z["u"], z["weights"], z["distances"], z["sims"], float(eps),
                                      float(acc), int(simulated)))
    return history


def start_checkpoints(folder: Path, key: str, resume: bool) -> list[Generation]:
    """The generations to continue from: those checkpointed in ``folder`` with ``resume``, else none
    (and earlier checkpoints in ``folder`` are removed, so that it holds this run's only)."""
    if resume:
        return load_checkpoints(folder, key) if folder.is_dir() else []
    for old in folder.glob("gen_*.npz"):
        old.unlink()
    return []
