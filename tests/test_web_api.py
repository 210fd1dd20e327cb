"""The web app's API and pages through FastAPI's test client (``bwsim serve``), on a copy of the
Haarlem scenarios: listing, names that would leave the folder, lever validation with pydantic's
messages next to the field, saving a scenario that ``extends:`` its original, uploads, a
comparison run in the background and served again from the cache, a full queue, a failed run."""

from __future__ import annotations

import csv
import json
import re
import threading
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from sim.config.scenario import load  # noqa: E402
from sim.web import runs  # noqa: E402
from sim.web.app import create_app  # noqa: E402
from sim.web.catalog import Catalog, CatalogError  # noqa: E402
from tests.scenario_copy import copy_haarlem

ROOT = Path(__file__).resolve().parents[1]
HAARLEM = ROOT / "scenarios" / "haarlem"
BW_SHARE = "uitstroom.housing.contingent.bw_share"
EXTRA = "uitstroom.housing.contingent.extra_per_year"
#: A small comparison: two scenarios, three replications, 2015–2017.
SMALL = {"scenarios": ["baseline", "more-contingent"], "replications": 3, "seed": 4, "end_year": 2018}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("web") / "haarlem"
    copy_haarlem(target)
    return target


@pytest.fixture(scope="module")
def client(folder):
    app = create_app(folder, folder.parent / "cache", workers=1, queue_limit=2)
    with TestClient(app) as test_client:
        yield test_client


def wait(client, status: dict, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while status["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
        status = client.get(f"/api/jobs/{status['id']}").json()
    return status


class FieldErrors(HTMLParser):
    """key -> the error message shown inside the form field of that key."""

    def __init__(self):
        super().__init__()
        self.errors: dict[str, str] = {}
        self.key = None
        self.inside = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div" and "data-key" in attrs:
            self.key = attrs["data-key"]
        if tag == "p" and "field-error" in (attrs.get("class") or ""):
            self.inside = True

    def handle_data(self, data):
        if self.inside and self.key:
            self.errors[self.key] = self.errors.get(self.key, "") + data

    def handle_endtag(self, tag):
        if tag == "p":
            self.inside = False


def field_errors(html: str) -> dict[str, str]:
    parser = FieldErrors()
    parser.feed(html)
    return {k: " ".join(v.split()) for k, v in parser.errors.items()}


def form_of(folder: Path, name: str) -> dict[str, str]:
    """The form as the page fills it, for a scenario (checkboxes only when ticked)."""
    from sim.web.forms import field_texts

    texts = field_texts(Catalog(folder).scenario(name))
    return {k: ("on" if v is True else v) for k, v in texts.items() if v is not False}


# ---------------------------------------------------------------- scenarios


def test_the_scenarios_are_listed_with_what_they_change(client):
    listed = {e["name"]: e for e in client.get("/api/scenarios").json()}
    assert listed["baseline"]["kind"] == "scenario" and listed["baseline"]["changes"] == []
    assert "uitstroom.housing.contingent.extra_per_year: 0 → 20" in listed["more-contingent"]["changes"]
    assert listed["central-waitlist"]["changes"] == ["waitlist.policy: per_provider → central"]
    assert listed["verdeel-2025"]["kind"] == "verdeel"
    page = client.get("/")
    assert page.status_code == 200
    assert "20 more contingentwoningen a year" in page.text and "waitlist.policy: per_provider → central" in page.text


@pytest.mark.parametrize("name", ["../haarlem/baseline", "..", "../secret", "sub/baseline", "baseline.yaml",
                                  "/etc/passwd", "baseline\\..\\x", ".hidden", "~root"])
def test_names_that_leave_the_folder_are_refused(client, folder, name):
    (folder.parent / "secret.yaml").write_text((HAARLEM / "baseline.yaml").read_text())
    with pytest.raises(CatalogError):
        Catalog(folder).path(name)
    encoded = "".join(f"%{b:02X}" for b in name.encode())  # every byte, so the client cannot normalise ".."
    page = client.get(f"/scenarios/{encoded}")
    assert 400 <= page.status_code < 500
    answer = client.post("/api/compare", json={**SMALL, "scenarios": [name, "baseline"]})
    assert 400 <= answer.status_code < 500 and answer.json()["detail"]
    answer = client.post("/api/verdeel", json={"scenario": "baseline", "settings": name, "replications": 2})
    assert answer.status_code == 422


def test_a_bad_lever_value_gets_pydantic_message_next_to_its_field(client, folder):
    form = {**form_of(folder, "more-contingent"), BW_SHARE: "1.5", "waitlist.intake_stop": "many",
            "action": "check"}
    page = client.post("/scenarios/more-contingent", data=form)
    assert page.status_code == 422
    errors = field_errors(page.text)
    assert errors[BW_SHARE] == "Input should be less than or equal to 1 (got 1.5)"
    assert errors["waitlist.intake_stop"].startswith("Input should be a valid integer")
    assert set(errors) == {BW_SHARE, "waitlist.intake_stop"}
    assert "more-contingent.yaml: waitlist.intake_stop: Input should be a valid integer" in page.text
    # a rule of the whole scenario lands on the lever it names
    form = {**form_of(folder, "baseline"), "capacity_path.changes": "2016-01-01 600\n2031-01-01 500"}
    errors = field_errors(client.post("/scenarios/baseline", data=form).text)
    assert "capacity_path" in errors["capacity_path.changes"]
    form = {**form_of(folder, "more-contingent"), EXTRA: "30", "action": "check"}
    page = client.post("/scenarios/more-contingent", data=form)
    assert page.status_code == 200 and field_errors(page.text) == {}
    assert f"Changes against this scenario: {EXTRA}" in page.text
    # the soft cap (overschrijding) is a lever too, checked by the same schema
    form = {**form_of(folder, "baseline"), "above_contract.share": "2", "action": "check"}
    page = client.post("/scenarios/baseline", data=form)
    assert page.status_code == 422
    assert field_errors(page.text) == {"above_contract.share": "Input should be less than or equal to 1 (got 2)"}


def test_the_housing_stock_is_a_lever_that_is_absent_until_it_has_units(client, folder):
    """Empty units: no stock (the baseline's form passes as it is); units without a share or a tenancy:
    the schema's "missing" next to those fields; all three: a stock, saved as a block of its own."""
    units, share, tenancy = "uitstroom.housing.stock.units", "uitstroom.housing.stock.share", \
        "uitstroom.housing.stock.tenancy"
    base = form_of(folder, "baseline")
    assert base[units] == base[share] == base[tenancy] == ""
    page = client.post("/scenarios/baseline", data={**base, "action": "check"})
    assert page.status_code == 200 and field_errors(page.text) == {}
    page = client.post("/scenarios/baseline", data={**base, units: "20", "action": "check"})
    assert page.status_code == 422
    errors = field_errors(page.text)
    assert set(errors) == {share, tenancy} and all("missing" in e or "valid" in e for e in errors.values())
    stock = {units: "20", share: "0.3", tenancy: "{dist: lognormal, mean: 2, sd: 1.5, unit: years}"}
    form = {**base, **stock, "action": "save", "new_name": "with-stock", "new_title": "Baseline with a stock"}
    answer = client.post("/scenarios/baseline", data=form, follow_redirects=False)
    assert answer.status_code == 303
    sc = load(folder / "with-stock.yaml")
    assert sc.uitstroom.housing.stock.units == 20 and sc.uitstroom.housing.stock.share == 0.3
    assert sc.uitstroom.housing.stock.tenancy.mean == 2
    # a scenario that has a stock shows it, and emptying its units takes the stock away
    own = form_of(folder, "with-stock")
    assert own[units] == "20" and own[share] == "0.3"
    form = {**own, units: "", "action": "save", "new_name": "stock-gone", "new_title": "No stock again"}
    assert client.post("/scenarios/with-stock", data=form, follow_redirects=False).status_code == 303
    assert load(folder / "stock-gone.yaml").uitstroom.housing.stock is None


def test_save_writes_a_new_scenario_that_extends_the_original(client, folder):
    form = {**form_of(folder, "more-contingent"), EXTRA: "35", "bridging.for_everyone": "on", "action": "save",
            "new_name": "more-contingent-35", "new_title": "35 more homes, bridging for all"}
    answer = client.post("/scenarios/more-contingent", data=form, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/scenarios/more-contingent-35")
    saved = folder / "more-contingent-35.yaml"
    data = yaml.safe_load(saved.read_text())
    assert data == {"extends": "more-contingent.yaml", "name": "35 more homes, bridging for all",
                    "uitstroom": {"housing": {"contingent": {"extra_per_year": 35}}},
                    "bridging": {"for_everyone": True}}
    sc = load(saved)
    assert sc.uitstroom.housing.contingent.extra_per_year == 35
    assert str(sc.uitstroom.housing.contingent.extra_from) == "2018-01-01"  # inherited
    assert client.get(answer.headers["location"]).status_code == 200
    # never overwritten; a name that is a path is refused; nothing is written for either
    before = saved.read_text()
    again = client.post("/scenarios/more-contingent", data={**form, EXTRA: "50"})
    assert again.status_code == 422 and "exists already" in field_errors(again.text)["new_name"]
    assert saved.read_text() == before
    bad = client.post("/scenarios/more-contingent", data={**form, "new_name": "../evil"})
    assert bad.status_code == 422 and "no path" in field_errors(bad.text)["new_name"]
    assert not (folder.parent / "evil.yaml").exists()


def test_uploads_are_parsed_safely_size_limited_and_validated(client, folder):
    good = b"extends: baseline.yaml\nname: Uploaded\nwaitlist: {intake_stop: 120}\n"
    answer = client.post("/upload", data={"name": "uploaded"}, files={"file": ("x.yaml", good)},
                         follow_redirects=False)
    assert answer.status_code == 303 and load(folder / "uploaded.yaml").waitlist.intake_stop == 120
    cases = {
        "python-tag": (b"!!python/object/apply:os.system ['echo hi']\n", "could not determine a constructor"),
        "not-valid": (b"extends: baseline.yaml\nname: X\nwaitlist: {intake_stop: -3}\n", "waitlist.intake_stop"),
        "outside": (b"extends: ../secret.yaml\nname: X\n", "extends"),
    }
    for name, (content, said) in cases.items():
        answer = client.post("/upload", data={"name": name}, files={"file": ("x.yaml", content)})
        assert answer.status_code == 422, name
        assert said in answer.text, name
        assert not (folder / f"{name}.yaml").exists()
    huge = client.post("/upload", data={"name": "huge"}, files={"file": ("x.yaml", b"#" * 200_000)})
    assert huge.status_code == 413 and not (folder / "huge.yaml").exists()
    chunked = client.post("/upload", content=iter([b"#" * 1000] * 200),  # no Content-Length: refused unread
                          headers={"content-type": "multipart/form-data; boundary=x"})
    assert chunked.status_code == 411


# ---------------------------------------------------------------- comparisons


@pytest.mark.parametrize("change, said", [({"replications": 51}, "replications"), ({"replications": 1}, "replications"),
                                          ({"scenarios": ["baseline"]}, "choose 2 to 4"),
                                          ({"scenarios": ["baseline", "intake-stop", "central-waitlist",
                                                          "waitlist-review", "mo-conversion"]}, "choose 2 to 4"),
                                          ({"scenarios": ["baseline", "nope"]}, "no scenario"),
                                          ({"end_year": 2015}, "baseline.yaml: providers.PGB providers.schedule: date 2017-05-01 is outside the run")])
def test_a_comparison_out_of_bounds_is_refused_with_a_reason(client, change, said):
    answer = client.post("/api/compare", json={**SMALL, **change})
    assert answer.status_code in (404, 422)
    assert said in answer.json()["detail"]


def test_a_comparison_runs_in_the_background_and_a_repeat_comes_from_the_cache(client, folder):
    answer = client.post("/api/compare", json=SMALL)
    assert answer.status_code == 202 and answer.json()["total"] == 7
    status = wait(client, answer.json())
    assert status["state"] == "done" and status["done"] == 7 and not status["cached"]
    page = client.get(status["result_url"])
    assert page.status_code == 200
    key = status["result_url"].rsplit("/", 1)[1]
    table = client.get(f"/compare/{key}/comparison.csv")
    assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(table.text.splitlines()))
    diff = next(r for r in rows if r["metric"] == "waitlist" and r["year"] == "2018"
                and r["scenario"] == "20 more contingentwoningen a year")
    shown = re.search(r'data-metric="waitlist".*?class="diff[^"]*">([^<]+)<', page.text, re.S).group(1)
    assert shown.split()[0].replace("\u2212", "-") == f"{float(diff['diff_mean']):+.1f}".replace("+0.0", "0.0")
    report = client.get(f"/compare/{key}/report.html")
    assert report.status_code == 200 and "Scenario comparison" in report.text
    manifest = client.get(f"/compare/{key}/manifest.json").json()
    assert manifest["seed"] == 4 and manifest["replications"] == 3 and manifest["made_by"] == "bwsim serve"
    # calibrated, as `bwsim compare` is: the scenarios' posterior, one draw for three replications
    assert manifest["posterior"]["file"].endswith("calibration/haarlem/results/posterior.csv")
    assert manifest["posterior"]["draws"] == 1 and manifest["posterior"]["replications_per_draw"] == 3
    assert client.get(f"/compare/{key}/arrays.npz").status_code == 404  # only the listed downloads

    started = time.perf_counter()
    again = client.post("/api/compare", json=SMALL)
    elapsed = time.perf_counter() - started
    assert again.status_code == 200 and again.json()["cached"] and again.json()["state"] == "done"
    assert again.json()["result_url"] == status["result_url"]
    assert elapsed < 1.0, elapsed
    assert client.get(f"/compare/{key}/comparison.csv").text == table.text
    assert client.get(status["result_url"]).text == page.text
    listed = client.get("/compare").text  # the compare page links the earlier results
    assert f'href="/compare/{key}">Haarlem baseline vs 20 more contingentwoningen a year</a>' in listed


def test_a_full_queue_answers_429_and_a_failed_run_keeps_earlier_results(client, monkeypatch):
    assert wait(client, client.post("/api/compare", json=SMALL).json())["state"] == "done"  # an earlier result
    queue = client.app.state.queue
    release = threading.Event()
    blockers = [queue.submit("test", f"block-{k}", 1, "/", lambda job, q: release.wait(30)) for k in range(2)]
    try:
        answer = client.post("/api/compare", json={**SMALL, "seed": 99})
        assert answer.status_code == 429
        assert "queue is full" in answer.json()["detail"]
        cached = client.post("/api/compare", json=SMALL)  # a result in the cache needs no place in the queue
        assert cached.status_code == 200 and cached.json()["cached"]
    finally:
        release.set()
    for job in blockers:
        wait(client, job.status())

    def broken(request, folder):
        def work(job, q):
            job.advance(1)
            raise RuntimeError("the disk is full")
        return work

    monkeypatch.setattr(runs, "compare_work", broken)
    answer = client.post("/api/compare", json={**SMALL, "seed": 98})
    assert answer.status_code == 202
    status = wait(client, answer.json())
    assert status["state"] == "failed" and status["error"] == "the disk is full" and status["result_url"] is None
    key = runs.CompareRequest(SMALL["scenarios"], [], [], 3, 98, []).key  # no folder for the failed run
    assert not any(key in p.name for p in (client.app.state.cache).iterdir())
    earlier = client.post("/api/compare", json=SMALL).json()
    assert earlier["cached"] and client.get(earlier["result_url"]).status_code == 200
    assert f'href="{earlier["result_url"]}"' in client.get("/compare").text


# ---------------------------------------------------------------- verdeel


def test_verdeel_gives_the_gap_per_municipality_with_its_interval(client):
    answer = client.post("/api/verdeel", json={"scenario": "baseline", "settings": "verdeel", "regime": "two_track",
                                               "responsibility_year": 2025, "macro_budget": "37700000",
                                               "end_year": 2026, "replications": 3, "seed": 2})
    assert answer.status_code == 202, answer.text
    status = wait(client, answer.json())
    assert status["state"] == "done", status
    page = client.get(status["result_url"] + "?year=2026")
    assert page.status_code == 200
    row = re.search(r'data-municipality="Haarlem".*?class="gap[^"]*">([^<]+)</td>\s*<td>(\d+)%', page.text, re.S)
    assert row, page.text[:2000]
    assert re.fullmatch(r"[+\u2212]?\d+\.\d\d \[[+\u2212]?\d+\.\d\d, [+\u2212]?\d+\.\d\d\]", row.group(1).strip())
    assert 0 <= int(row.group(2)) <= 100
    assert 'data-municipality="Region"' in page.text and "<svg" in page.text
    folder = client.app.state.cache / f"verdeel-{status['result_url'].rsplit('/', 1)[1]}"
    made = json.loads((folder / "manifest.json").read_text())  # calibrated, as `bwsim verdeel` is
    assert made["posterior"]["file"].endswith("posterior.csv") and made["posterior"]["draws"] == 1
    bad = client.post("/api/verdeel", json={"scenario": "baseline", "settings": "verdeel", "regime": "fair",
                                            "replications": 3})
    assert bad.status_code == 422 and "regime" in bad.json()["detail"]
    folder = client.app.state.cache / f"verdeel-{status['result_url'].rsplit('/', 1)[1]}"
    (folder / "report").mkdir()  # as if the report had been asked for
    (folder / "report" / "report.html").write_text("<p>rapport</p>")
    key = folder.name.removeprefix("verdeel-")
    assert client.get(f"/verdeel/{key}/report/report.html").text == "<p>rapport</p>"
    for path in ("gaps.json", "report/../gaps.json", "report/%2E%2E/gaps.json", "report/../../haarlem/baseline.yaml"):
        assert runs.report_file(folder, path) is None
        assert client.get(f"/verdeel/{key}/{path}").status_code == 404
    early = client.post("/api/verdeel", json={"scenario": "baseline", "settings": "verdeel", "start_year": 2015,
                                              "replications": 3})
    assert early.status_code == 422 and "start_year" in early.json()["detail"]


def test_a_worker_that_dies_fails_its_job_and_the_next_job_gets_a_new_pool():
    """The pool of the queue is replaced when one of its processes dies, so later runs still work."""
    import os

    from sim.web.jobs import JobQueue

    queue = JobQueue(workers=1, limit=2)
    try:
        def die(job, q):
            assert q.pool().submit(abs, -1).result() == 1  # the pool works
            q.pool().submit(os._exit, 1).result()  # and now a worker dies

        first = queue.submit("test", "dies", 1, "/", die)
        deadline = time.monotonic() + 60
        while first.state in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert first.state == "failed" and "worker process stopped" in first.error
        second = queue.submit("test", "works", 1, "/", lambda job, q: q.pool().submit(abs, -2).result())
        while second.state in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert second.state == "done", second.error
    finally:
        queue.close()


def test_the_calibration_page_shows_observations_against_the_bands_and_the_forecast_skill(folder, tmp_path):
    results = ROOT / "calibration" / "haarlem" / "results"
    if not (results / "predictive.csv").is_file():
        pytest.skip("no calibration results in the repository")
    rolling = tmp_path / "rolling"
    rolling.mkdir()
    (rolling / "rolling_summary.csv").write_text("horizon,forecasts,in_50,in_90,crps\n6,8,0.5,0.875,7.25\n")
    first = next(csv.DictReader((results / "predictive.csv").read_text().splitlines()))
    with TestClient(create_app(folder, tmp_path / "cache", calibration=results, rolling=rolling)) as c:
        page = c.get("/calibration")
    assert page.status_code == 200
    row = re.search(rf"<th scope=\"row\">{re.escape(first['observation'])}</th><td>{first['use']}</td>"
                    rf"<td>([^<]+)</td>", page.text)
    assert row and row.group(1).startswith(f"{float(first['observed']):.4g}")
    assert page.text.count("<svg") >= 1 and "90% band" in page.text
    assert re.search(r'id="rolling".*<td>6</td><td>8</td><td>0.5</td><td>0.875</td><td>7.25</td>', page.text, re.S)
    with TestClient(create_app(folder, tmp_path / "cache", calibration=tmp_path / "none")) as c:
        assert "No calibration results" in c.get("/calibration").text
