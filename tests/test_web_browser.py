"""``bwsim serve`` end to end: the real server (uvicorn in a subprocess, on a free port, on a copy
of the Haarlem scenarios) driven in headless Chromium by Playwright. The journeys of a policy
maker: open the app; change a lever (a bad value first, then a good one saved as a new scenario);
run a comparison and wait for the progress bar; read the difference in the table; download the
report; open the verdeel page, read a municipality's gap and open the Dutch municipal pages; and
a bounded load test of 20 clients at once."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.browser import browser
from tests.scenario_copy import copy_haarlem

ROOT = Path(__file__).resolve().parents[1]
MINUS = "\u2212"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(base URL, scenario folder, cache folder) of a server running the CLI's command."""
    httpx = pytest.importorskip("httpx")
    root = tmp_path_factory.mktemp("serve")
    folder, cache = root / "haarlem", root / "cache"
    copy_haarlem(folder)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", "import sys; from sim.cli import main; sys.argv[0] = 'bwsim'; main()", "serve", "--port", str(port), "--workers", "2",
                                "--scenarios", str(folder), "--cache", str(cache), "--queue", "2"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            if process.poll() is not None:
                pytest.fail(f"bwsim serve stopped: {process.stdout.read()}")
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base, folder, cache
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def page(server):
    with browser() as b:
        context = b.new_context(accept_downloads=True, viewport={"width": 1200, "height": 900})
        yield context.new_page()
        context.close()


def number(text: str) -> float:
    return float(text.replace(MINUS, "-").replace("+", ""))


def test_open_the_app_and_change_a_lever(server, page):
    base, folder, _ = server
    page.goto(base + "/")
    assert page.title() == "Scenarios · bwsim"
    assert page.locator('#scenarios tr[data-name="more-contingent"]').inner_text().count("extra_per_year: 0 → 20") == 1
    page.click('#scenarios tr[data-name="more-contingent"] a >> nth=0')
    page.wait_for_selector("form.levers")
    field = '[data-key="uitstroom.housing.contingent.bw_share"]'
    page.fill(f"{field} input", "1.4")
    page.click('button[value="check"]')
    assert page.locator(f"{field} .field-error").inner_text() == "Input should be less than or equal to 1 (got 1.4)"
    page.fill(f"{field} input", "0.333")
    page.fill('[data-key="uitstroom.housing.contingent.extra_per_year"] input', "40")
    page.fill("#f-new_name", "more-contingent-40")
    page.fill("#f-new_title", "40 more contingentwoningen a year")
    page.click('button[value="save"]')
    page.wait_for_selector("#saved")
    assert (folder / "more-contingent-40.yaml").is_file()
    page.goto(base + "/")
    assert "40 more contingentwoningen a year" in page.locator("#scenarios").inner_text()


def test_run_a_comparison_read_the_difference_and_download_the_report(server, page, tmp_path):
    base, _, cache = server
    page.goto(base + "/compare")
    for box in page.locator('input[name="scenarios"]').all():
        box.uncheck()
    page.check('input[name="scenarios"][value="baseline"]')
    page.check('input[name="scenarios"][value="more-contingent"]')
    assert page.inner_text("#reference") == "Haarlem baseline"
    page.fill('input[name="replications"]', "3")
    page.fill('input[name="end_year"]', "2018")
    page.click("#compare-form button[type=submit]")
    # the bar fills to its end and says done, then the result opens
    page.wait_for_function("() => { const p = document.querySelector('#progress');"
                           " return p && p.max === 7 && p.value === p.max"
                           " && document.querySelector('#progress-text').textContent.startsWith('done'); }",
                           timeout=90_000)
    page.wait_for_selector("#table", timeout=30_000)
    cell = page.locator('#table tr[data-metric="waitlist"] td.diff').inner_text()
    match = re.fullmatch(rf"([+{MINUS}]?\d+\.\d) \[([+{MINUS}]?\d+\.\d), ([+{MINUS}]?\d+\.\d)\]", cell.strip())
    assert match, cell
    mean, low, high = (number(g) for g in match.groups())
    assert low <= mean <= high
    folder = next(cache.glob("compare-*"))
    rows = [r.split(",") for r in (folder / "comparison.csv").read_text().splitlines()]
    header = rows[0]
    saved = next(dict(zip(header, r)) for r in rows[1:] if r[header.index("metric")] == "waitlist"
                 and r[header.index("year")] == "2018" and r[0] == "20 more contingentwoningen a year")
    assert mean == pytest.approx(float(saved["diff_mean"]), abs=0.051)
    assert mean < 0  # 20 more homes a year from 2018: residents leave sooner, fewer wait
    assert page.locator("#fig-waitlist svg title").count() > 0  # hover values on the chart
    with page.expect_download() as download:
        page.click("#download-report")
    path = tmp_path / "report.html"
    download.value.save_as(path)
    assert "Scenario comparison: Haarlem baseline vs 20 more contingentwoningen a year" in path.read_text()


def test_open_the_verdeel_page_and_read_a_municipality_gap(server, page):
    base, _, cache = server
    page.goto(base + "/verdeel")
    page.select_option('select[name="scenario"]', "baseline")
    page.fill('input[name="end_year"]', "2026")
    page.fill('input[name="replications"]', "3")
    page.check('input[name="pages"]')
    page.click("#verdeel-form button[type=submit]")
    page.wait_for_selector("#gaps", timeout=120_000)
    gap = page.locator('#gaps tr[data-municipality="Velsen"] td.gap').inner_text().strip()
    match = re.fullmatch(rf"([+{MINUS}]?\d+\.\d\d) \[([+{MINUS}]?\d+\.\d\d), ([+{MINUS}]?\d+\.\d\d)\]", gap)
    assert match, gap
    saved = json.loads(next(cache.glob("verdeel-*/gaps.json")).read_text())
    velsen = next(r for r in saved["rows"]["2026"] if r["municipality"] == "Velsen")
    assert number(match.group(1)) == pytest.approx(velsen["gap"], abs=0.006)
    assert number(match.group(2)) == pytest.approx(velsen["gap_low"], abs=0.006)
    assert page.locator('#gaps tr[data-municipality="Region"]').count() == 1
    # the wethouder's pages, in Dutch, one per municipality
    page.click("#pages")
    page.wait_for_load_state()
    assert page.url.endswith("/report/gemeenten/index.html")
    assert page.locator("a", has_text="Velsen").count() >= 1


def test_twenty_clients_at_once_are_served_or_refused_clearly_and_the_home_page_stays_fast(server):
    """A bounded load test: 20 clients each start a small comparison at the same moment (five
    different ones; the server's queue holds two). Every request is answered (accepted, or
    refused with 429 and a reason), every accepted run finishes with a result, and the home page
    answers in under a second all the while."""
    import threading

    import httpx

    base, _, _ = server
    answers: list[httpx.Response] = []
    lock = threading.Lock()
    go = threading.Barrier(20)

    clients = [httpx.Client(base_url=base, timeout=30) for _ in range(20)]  # made before, not while measuring
    watcher = httpx.Client(base_url=base, timeout=10)

    def client(k: int) -> None:
        go.wait()
        answer = clients[k].post("/api/compare", json={"scenarios": ["baseline", "central-waitlist"],
                                                       "replications": 2, "seed": 100 + k % 5, "end_year": 2017})
        with lock:
            answers.append(answer)

    assert watcher.get("/", timeout=30).status_code == 200  # the list, computed once for this folder
    threads = [threading.Thread(target=client, args=(k,)) for k in range(20)]
    for t in threads:
        t.start()
    slowest = 0.0
    jobs: list[dict] = []
    deadline = time.monotonic() + 120
    while True:
        started = time.perf_counter()
        home = watcher.get("/")
        slowest = max(slowest, time.perf_counter() - started)
        assert home.status_code == 200
        if not jobs and all(not t.is_alive() for t in threads):
            assert len(answers) == 20
            refused = [a for a in answers if a.status_code == 429]
            accepted = [a for a in answers if a.status_code in (200, 202)]
            assert len(refused) + len(accepted) == 20, [a.status_code for a in answers]
            assert accepted and refused
            assert all("queue is full" in a.json()["detail"] for a in refused)
            jobs = list({a.json()["id"]: a.json() for a in accepted}.values())  # the same run joins its job
            assert len(jobs) <= 4, jobs
        if jobs:
            jobs = [watcher.get(f"/api/jobs/{j['id']}").json() for j in jobs]
            if all(j["state"] not in ("queued", "running") for j in jobs):
                break
        assert time.monotonic() < deadline, jobs
        time.sleep(0.2)
    assert all(j["state"] == "done" for j in jobs), jobs
    assert all(watcher.get(j["result_url"]).status_code == 200 for j in jobs)
    assert slowest < 1.0, slowest
    for c in clients + [watcher]:
        c.close()
