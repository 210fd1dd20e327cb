"""matplotlib, imported when a figure is first drawn and not before: importing a report module
stays cheap, and the backend is chosen once (Agg, files only) unless pyplot is already in use."""

from __future__ import annotations

import sys
from pathlib import Path


def pyplot():
    """``matplotlib.pyplot``; the first call selects the Agg backend, unless pyplot was already
    imported (then its backend, e.g. a notebook's, is left alone)."""
    if "matplotlib.pyplot" not in sys.modules:
        import matplotlib

        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG at ``path`` and close it (figures are not kept open)."""
    plt = pyplot()
    try:
        fig.savefig(path, dpi=dpi)
    finally:
        plt.close(fig)
    return Path(path)
