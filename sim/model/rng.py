"""Named random streams: one per source of randomness, per replication.

Stream ``name`` of replication ``rep`` under ``seed`` is always the same
sequence, whatever else the run does, in which process it runs or how many
workers there are. Two scenarios run with the same seed therefore share their
random numbers wherever they share a process (common random numbers).
"""

from __future__ import annotations

import zlib

import numpy as np


def stream_key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


class Streams:
    """Lazily created ``numpy.random.Generator`` objects keyed by name."""

    def __init__(self, seed: int, replication: int):
        self.seed = int(seed)
        self.replication = int(replication)
        self._generators: dict[str, np.random.Generator] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        gen = self._generators.get(name)
        if gen is None:
            seq = np.random.SeedSequence(entropy=self.seed, spawn_key=(self.replication, stream_key(name)))
            gen = self._generators[name] = np.random.Generator(np.random.PCG64(seq))
        return gen

    def block(self, name: str, index: int) -> np.random.Generator:
        """A fresh generator for block ``index`` of stream ``name`` (see ``model.fates``)."""
        seq = np.random.SeedSequence(entropy=self.seed,
                                     spawn_key=(self.replication, stream_key(name), int(index)))
        return np.random.Generator(np.random.PCG64(seq))
