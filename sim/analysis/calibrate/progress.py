"""Progress of a calibration, reported to a callback (the library never prints)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class ProgressEvent:
    """``done`` of ``total`` tasks of ``stage`` are finished; ``info`` summarises a finished generation."""

    stage: str
    done: int
    total: int
    info: str = ""


Progress = Callable[[ProgressEvent], None]


def no_progress(_event: ProgressEvent) -> None:
    """The callback used when none is given: ignore every event."""
    return None
