"""Dividing a number of places over providers."""

from __future__ import annotations

import numpy as np


def divide_places(total: int, current: list[int], rule: str = "proportional") -> list[int]:
    """Split ``total`` places over providers that now have ``current`` places.

    ``proportional``: each provider in proportion to its current number (largest
    remainder, so the parts add up exactly). ``largest_first``: places are taken
    from (or added to) whichever provider is then largest (smallest), one at a
    time, so cuts fall on the big providers first.
    """
    n = len(current)
    if n == 0:
        return []
    if rule == "largest_first":
        out = list(current)
        while sum(out) > total:
            out[int(np.argmax(out))] -= 1
        while sum(out) < total:
            out[int(np.argmin(out))] += 1
        return out
    w = np.asarray(current, float)
    if w.sum() == 0:
        w = np.ones(n)
    exact = total * w / w.sum()
    out = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - out), kind="stable")[: total - int(out.sum())]:
        out[i] += 1
    return out.tolist()
