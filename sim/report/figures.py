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


#: Okabe & Ito's colour-blind-safe palette (black left out: it is kept for observations and
#: reference lines), and a line style and marker for each colour, so that lines stay apart in grey.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 1)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def style(k: int) -> dict:
    """Colour, line style and marker of the k-th series (Okabe–Ito)."""
    return {"color": PALETTE[k % len(PALETTE)], "linestyle": LINESTYLES[k % len(LINESTYLES)],
            "marker": MARKERS[k % len(MARKERS)]}


def footnote(fig, text: str) -> None:
    """A small grey note under the axes, left-aligned (call after ``tight_layout`` made room)."""
    fig.text(0.01, 0.01, text, fontsize=7.5, color="0.35", ha="left", va="bottom", wrap=True)
