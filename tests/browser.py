"""A real headless Chromium for the tests, driven by Playwright.

Chromium comes from the distribution's packages (`.ci/run` installs Debian's ``chromium``);
Playwright's own browser download is never used. Without a browser, the tests that need one
are skipped, and ``make test`` ends with a loud line saying so (see conftest.py).
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager

import pytest

CANDIDATES = ("chromium", "chromium-headless-shell", "chromium-browser", "google-chrome")
# Without the background-networking flags Chromium keeps dialling out on a closed network.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SKIPPED: list[str] = []  # why browser tests were skipped, for the summary at the end


def chromium_path() -> str | None:
    """The browser to use: $BWSIM_CHROMIUM, else the first of CANDIDATES on the PATH."""
    given = os.environ.get("BWSIM_CHROMIUM")
    if given:
        return given
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def skip_without_browser() -> str:
    """The Chromium path, or skip the calling test (and remember why)."""
    path = chromium_path()
    if path is None:
        reason = "no Chromium on this machine (apt-get install chromium, or set BWSIM_CHROMIUM)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            path, reason = None, "Playwright is not installed (pip install -e '.[test]')"
    if path is None:
        SKIPPED.append(reason)
        pytest.skip(reason)
    return path


@contextmanager
def browser():
    """A headless Chromium browser; closed on exit."""
    from playwright.sync_api import sync_playwright

    path = skip_without_browser()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=ARGS)
        try:
            yield b
        finally:
            b.close()
