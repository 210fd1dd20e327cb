"""The one error a calibration raises for bad input."""

from __future__ import annotations


class CalibrationError(ValueError):
    """A calibration that cannot be run; the message names the file and key."""
