"""The HTML reports in a real headless Chromium (tests/browser.py): the compare report, the
verdeel report in English and in Dutch, and every municipal page (gemeenten/*.html) and their
index. Each page must load without a console error or a failed request, show every figure (loaded,
with a size on screen), refer to nothing outside its output folder, print on A4 with no table wider
than the printable width, and a municipal page must print on one A4 page.

The reports are made once per module with few replications. The checks themselves are tried on
pages broken on purpose (an image outside the folder, a broken image, a table too wide, a page
too long, a script error), so that a check that can no longer fail is seen."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.report.verdeel_pages import PAGE_YEARS
from tests.browser import browser, skip_without_browser

ROOT = Path(__file__).resolve().parents[1]
HAARLEM = ROOT / "scenarios" / "haarlem"
#: A4 minus the margins of the reports' print style (sim/report/templates/print.css: 14 mm a side).
PRINT_WIDTH_PX = round((210 - 2 * 14) / 25.4 * 96)
PRINT_HEIGHT_PX = round((297 - 2 * 14) / 25.4 * 96)
A4 = {"format": "A4", "prefer_css_page_size": True, "print_background": True}


def bwsim(*args) -> subprocess.Popen:
    """``bwsim ARGS`` started in the background (its output kept for the message if it fails)."""
    command = [sys.executable, "-c", "from sim.cli import main; main()", *map(str, args)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    """compare, and verdeel in Dutch and in English (without variants: the template's other path),
    run to 2026 so that the two tracks show; made once, side by side, a worker each."""
    skip_without_browser()
    tmp = tmp_path_factory.mktemp("reports")
    started = time.perf_counter()
    verdeel = ("verdeel", HAARLEM / "baseline.yaml", "--set", "end=2027-01-01", "-n", 3, "-w", 1)
    runs = [bwsim("compare", HAARLEM / "baseline.yaml", HAARLEM / "halve-intramural.yaml", "-n", 3, "-w", 1,
                  "--out", tmp / "compare"),
            bwsim(*verdeel, "--lang", "nl", "--out", tmp / "verdeel-nl"),
            bwsim(*verdeel, "--lang", "en", "--setting", "variants={}", "--out", tmp / "verdeel-en")]
    for run in runs:
        output, _ = run.communicate(timeout=300)
        assert run.returncode == 0, f"{' '.join(run.args[3:])}\n{output}"
    print(f"reports made in {time.perf_counter() - started:.1f} s")
    return {"compare": tmp / "compare", "en": tmp / "verdeel-en", "nl": tmp / "verdeel-nl"}


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


def inside(url: str, folder: Path) -> bool:
    """A URL the page may use: data:, an anchor, or a file inside ``folder``."""
    if url.startswith(("data:", "#", "about:blank")) or url == "":
        return True
    if url.startswith("file://"):
        from urllib.parse import unquote, urlparse

        path = Path(unquote(urlparse(url).path)).resolve()
        return path == folder.resolve() or folder.resolve() in path.parents
    return False


class Checker:
    """One browser tab that checks pages of one output folder, one after another."""

    def __init__(self, b, folder: Path):
        self.folder = folder
        self.problems: list[str] = []
        self.page = b.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console error: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"script error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed request: {r.url}"))
        self.page.on("request", lambda r: inside(r.url, folder)
                     or self.problems.append(f"request outside the folder: {r.url}"))

    def check(self, path: Path, one_page: bool = False, figures: bool = True) -> list[str]:
        """Every problem with ``path`` (empty: none): console errors, failed requests, URLs outside
        the folder, figures not shown, tables wider than the printable width, more than one A4
        page when ``one_page``."""
        self.problems = problems = []
        page = self.page
        page.emulate_media(media="screen")
        page.set_viewport_size({"width": 1100, "height": 900})
        page.goto(path.resolve().as_uri(), wait_until="load")
        urls = page.eval_on_selector_all("[src], [href]", "els => els.map(e => e.src || e.href)")
        problems += [f"refers outside the folder: {u[:80]}" for u in urls if not inside(u, self.folder)]
        raw = path.read_text(encoding="utf-8")
        problems += [f"names an address on the internet: {m}" for m in re.findall(r"https?://[^\s\"'<>)]+", raw)]
        images = page.eval_on_selector_all("img", """els => els.map(e => {
            const r = e.getBoundingClientRect(), style = getComputedStyle(e);
            return {src: (e.getAttribute('src') || '').slice(0, 60), complete: e.complete, natural: e.naturalWidth,
                    area: r.width * r.height, visible: style.visibility !== 'hidden' && style.display !== 'none'};
        })""")
        if figures and not images:
            problems.append("no figure")
        problems += [f"figure not shown: {i['src']}" for i in images
                     if not (i["complete"] and i["natural"] > 0 and i["area"] > 0 and i["visible"])]
        # print: lay the page out at the printable width of A4, as the PDF will
        page.emulate_media(media="print")
        page.set_viewport_size({"width": PRINT_WIDTH_PX, "height": 1000})
        widths = page.evaluate("""() => {
            const page = document.documentElement.clientWidth;
            return [...document.querySelectorAll('table')].map((t, k) => ({k: k, page: page,
                scroll: t.scrollWidth, right: t.getBoundingClientRect().right,
                head: (t.querySelector('th') || {}).textContent || ''}));
        }""")
        problems += [f"table {w['k'] + 1} ({w['head'][:30]!r}) is {max(w['scroll'], w['right']):.0f} px wide; "
                     f"the printed page {w['page']} px" for w in widths
                     if w["scroll"] > w["page"] + 1 or w["right"] > w["page"] + 1]
        pdf = page.pdf(**A4)
        pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
        if pages < 1:
            problems.append("the PDF has no page")
        if one_page and pages != 1:
            problems.append(f"prints on {pages} A4 pages, not one")
        if one_page:  # a short run has fewer years in its table: would the longest table still fit?
            bottom, rows, row = page.evaluate("""() => {
                const rows = document.querySelectorAll('tbody tr');
                return [document.body.getBoundingClientRect().bottom, rows.length,
                        rows.length ? rows[0].getBoundingClientRect().height : 0];
            }""")
            needed = bottom + max(PAGE_YEARS - rows, 0) * row
            if needed > PRINT_HEIGHT_PX:
                problems.append(f"with {PAGE_YEARS} years in its table the page would be {needed:.0f} px high; "
                                f"one A4 page holds {PRINT_HEIGHT_PX} px")
        return problems


def check_page(b, path: Path, folder: Path, one_page: bool = False, figures: bool = True) -> list[str]:
    checker = Checker(b, folder)
    try:
        return checker.check(path, one_page, figures)
    finally:
        checker.page.close()


def html_pages(folder: Path) -> list[Path]:
    return [folder / "report.html"] + sorted((folder / "gemeenten").glob("*.html"))


def test_the_compare_report_in_a_browser(reports, chromium):
    folder = reports["compare"]
    assert check_page(chromium, folder / "report.html", folder) == []


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_every_verdeel_page_in_a_browser(reports, chromium, lang):
    folder = reports[lang]
    pages = html_pages(folder)
    assert len(pages) == 1 + 9 + 1  # the report, nine municipalities, the index
    checker, problems = Checker(chromium, folder), {}
    for path in pages:
        municipal = path.parent.name == "gemeenten" and path.name != "index.html"
        found = checker.check(path, one_page=municipal, figures=path.name != "index.html")
        if found:
            problems[str(path.relative_to(folder))] = found
    checker.page.close()
    assert problems == {}


def test_the_dutch_pages_are_dutch_and_say_what_was_run(reports):
    folder = reports["nl"]
    page = (folder / "gemeenten" / "heemstede.html").read_text(encoding="utf-8")
    assert '<html lang="nl">' in page and "Wat bepaalt het saldo?" in page and "Begrippen" in page
    for term in ("beschermd wonen", "centrumgemeente", "woonplaatsbeginsel", "verdeelmodel", "ingroeipad",
                 "herverdeeleffect"):
        assert term in page.lower(), term
    assert "3 simulaties, seed 1" in page and "bwsim 0." in page and "lopende prijzen (basisjaar 2017)" in page
    assert "Macrobudget: € 37,7 mln per jaar in prijzen van 2017" in page
    assert re.search(r"€ −?\d{1,3}(\.\d{3})*(,\d)? mln|€ −?\d{1,3}(\.\d{3})+\b", page)  # Dutch euros
    assert "€3" not in page and "million" not in page
    report = (folder / "report.html").read_text(encoding="utf-8")
    assert "Saldo per gemeente in 2026" in report and 'href="gemeenten/haarlem.html"' in report
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Verdeelmodel beschermd wonen") and "## Saldo per gemeente in 2026" in markdown
    assert "| Haarlem | " in markdown and "![Saldo per gemeente in 2026](overview.png)" in markdown
    english = (reports["en"] / "gemeenten" / "heemstede.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in english and "What drives it" in english and "Wat bepaalt" not in english
    import json

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["lang"] == "nl" and {"settings", "seed", "replications", "packages", "git", "command"} <= set(manifest)


# ---------------------------------------------------------------- the checks can fail

BROKEN = {
    "an image outside the folder": '<img src="{outside}/x.png" alt="x">',
    "an image on the internet": '<img src="https://example.org/x.png" alt="x">',
    "a broken image": '<img src="data:image/png;base64,AAAA" alt="x">',
    "a hidden figure": '<img src="{png}" style="display:none" alt="x">',
    "a table too wide": '<img src="{png}" alt="x"><table><tr>' + "<td>1234567890 1234567890</td>" * 12 + "</tr></table>",
    "a script error": '<img src="{png}" alt="x"><script>undefinedFunction()</script>',
    "a page too long": '<img src="{png}" alt="x">' + "<p>Lorem ipsum dolor sit amet.</p>" * 150,
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_the_checks_find_a_broken_page(case, reports, chromium, tmp_path):
    """Each check sees what it is for: a page broken on purpose gives a problem."""
    folder = tmp_path / "out"
    folder.mkdir()
    png = (reports["nl"] / "gemeenten" / "haarlem.png").resolve()
    (folder / "fig.png").write_bytes(png.read_bytes())
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.png").write_bytes(png.read_bytes())
    body = BROKEN[case].format(outside=outside.as_uri(), png="fig.png")
    path = folder / "page.html"
    path.write_text(f"<!DOCTYPE html><html><head><style>@page {{ size: A4; margin: 14mm }} "
                    f"body {{ margin: 0 }} td {{ white-space: nowrap }}</style></head><body>{body}</body></html>")
    assert check_page(chromium, path, folder, one_page=True) != []


def test_the_checks_pass_a_good_page(reports, chromium, tmp_path):
    (tmp_path / "fig.png").write_bytes((reports["nl"] / "gemeenten" / "haarlem.png").read_bytes())
    good = tmp_path / "good.html"
    good.write_text('<!DOCTYPE html><html><body><img src="fig.png" alt="x"><table><tr><td>1</td></tr></table>'
                    "</body></html>")
    assert check_page(chromium, good, tmp_path, one_page=True) == []
