"""Shared pytest hooks."""

from tests.browser import SKIPPED


def pytest_terminal_summary(terminalreporter):
    """Say loudly when the browser tests did not run (with pytest-xdist, each worker reports its own skips)."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "Chromium" in str(r.longrepr)
               or "Playwright" in str(r.longrepr)]
    if skipped or SKIPPED:
        terminalreporter.write_sep("!", f"BROWSER TESTS SKIPPED ({len(skipped) or len(SKIPPED)}): "
                                        "the HTML reports and the web app were not checked in a real browser",
                                   red=True, bold=True)
