"""The FastAPI app of ``bwsim serve``: the scenarios, compare and verdeel pages and their JSON API.

:func:`create_app` takes the scenario folder (scenarios are named by their file's stem, nothing
else reaches the file system), the cache folder of results, the number of worker processes and
the length of the job queue."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from . import charts, forms, runs
from .catalog import MAX_YAML, Catalog, CatalogError, NotFound
from .jobs import JobQueue, QueueFull

HERE = Path(__file__).resolve().parent
#: The largest request body accepted (a form, an upload), bytes.
MAX_BODY = MAX_YAML + 16 * 1024


def create_app(scenarios: str | Path, cache: str | Path = "results/web", workers: int = 1,
               queue_limit: int = 4, calibration: str | Path | None = None,
               rolling: str | Path | None = None) -> FastAPI:
    """The app; ``calibration``: a folder of ``bwsim calibrate`` results, ``rolling``: one of
    ``bwsim validate --rolling`` (both only read)."""
    catalog = Catalog(scenarios)
    cache = Path(cache).resolve()
    queue = JobQueue(workers=workers, limit=queue_limit)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(number=charts.number, lever_groups=forms.GROUPS, max_reps=runs.MAX_REPLICATIONS,
                                 max_scenarios=runs.MAX_SCENARIOS)

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(_app):
        yield
        queue.close()

    app = FastAPI(title="bwsim", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.catalog, app.state.queue, app.state.cache = catalog, queue, cache
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        length = request.headers.get("content-length")
        if length is None and request.method in ("POST", "PUT", "PATCH"):
            # a body of unknown length could be of any size: say how long it is
            return JSONResponse({"detail": "give the request's Content-Length"}, status_code=411)
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return JSONResponse({"detail": f"the request is too large (at most {MAX_BODY} bytes)"}, status_code=413)
        return await call_next(request)

    def page(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
        return templates.TemplateResponse(request, template, context, status_code=status)

    def problem(status: int, detail: str) -> JSONResponse:
        return JSONResponse({"detail": detail}, status_code=status)

    # ------------------------------------------------------------ scenarios

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request):
        entries = await run_in_threadpool(catalog.entries)
        return page(request, "scenarios.html", entries=entries, folder=catalog.folder.name, active="scenarios")

    @app.get("/scenarios")
    async def scenarios_page():
        return RedirectResponse("/", status_code=307)

    @app.get("/api/scenarios")
    async def scenarios_json():
        entries = await run_in_threadpool(catalog.entries)
        return [{"name": e.name, "kind": e.kind, "title": e.title, "description": e.description,
                 "extends": e.extends, "changes": e.changes, "error": e.error} for e in entries]

    def scenario_form(request: Request, name: str, status: int = 200, **extra) -> HTMLResponse:
        try:
            sc = catalog.scenario(name)
        except NotFound as exc:
            return page(request, "error.html", 404, message=str(exc))
        except (CatalogError, ValueError) as exc:
            return page(request, "error.html", 400 if isinstance(exc, CatalogError) else 422, message=str(exc))
        context: dict[str, Any] = {"name": name, "scenario": sc, "entry": catalog.entry(name, catalog.baseline()), "texts": forms.field_texts(sc), "errors": {},
                                   "other_errors": [], "summary": "", "message": "", "new_name": "",
                                   "new_title": "", "new_description": "", "active": "scenarios",
                                   "helps": {lv.key: forms.help_text(lv) for lv in forms.LEVERS},
                                   "choices": {lv.key: forms.choices(lv.key) for lv in forms.LEVERS
                                               if lv.kind == "choice"}}
        context.update(extra)
        return page(request, "scenario.html", status, **context)

    @app.get("/scenarios/{name}", response_class=HTMLResponse)
    async def scenario_page(request: Request, name: str):
        return scenario_form(request, name)

    @app.post("/scenarios/{name}", response_class=HTMLResponse)
    async def scenario_submit(request: Request, name: str):
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        try:
            base_scenario = catalog.scenario(name)
            base = catalog.data(name)
        except NotFound as exc:
            return page(request, "error.html", 404, message=str(exc))
        except (CatalogError, ValueError) as exc:
            return page(request, "error.html", 400, message=str(exc))
        checked, values, given = forms.check_form(base, form, f"{name}.yaml")
        keep = {"texts": given, "new_name": form.get("new_name", "").strip(),
                "new_title": form.get("new_title", "").strip(), "new_description": form.get("new_description", "")}
        if not checked.ok:
            return scenario_form(request, name, 422, errors=checked.field_errors, other_errors=checked.other_errors,
                                 summary=checked.summary, **keep)
        differ = forms.changed(values, base_scenario)
        if form.get("action") != "save":
            message = ("Valid. Changes against this scenario: " + ", ".join(differ)) if differ else \
                "Valid; nothing differs from this scenario yet."
            return scenario_form(request, name, message=message, **keep)
        if not differ:
            return scenario_form(request, name, 422, other_errors=["change at least one lever before saving a new "
                                                                   "scenario"], **keep)
        new_name = keep["new_name"]
        try:
            await run_in_threadpool(catalog.save, new_name, name, differ, keep["new_title"] or new_name,
                                    keep["new_description"])
        except CatalogError as exc:
            return scenario_form(request, name, 422, errors={"new_name": str(exc)}, **keep)
        except ValueError as exc:  # ScenarioError
            return scenario_form(request, name, 422, other_errors=[str(exc)], **keep)
        return RedirectResponse(f"/scenarios/{new_name}?saved=1", status_code=303)

    @app.post("/upload", response_class=HTMLResponse)
    async def upload(request: Request):
        form = await request.form()
        name, upload_file = str(form.get("name", "")).strip(), form.get("file")
        entries = await run_in_threadpool(catalog.entries)
        if upload_file is None or isinstance(upload_file, str):
            return page(request, "scenarios.html", 422, entries=entries, folder=catalog.folder.name,
                        upload_error="choose a YAML file", active="scenarios")
        content = await upload_file.read(MAX_YAML + 1)
        try:
            await run_in_threadpool(catalog.upload, name, content)
        except ValueError as exc:  # CatalogError, ScenarioError
            return page(request, "scenarios.html", 422, entries=entries, folder=catalog.folder.name,
                        upload_error=str(exc), active="scenarios")
        return RedirectResponse(f"/scenarios/{name}?saved=1", status_code=303)

    # ------------------------------------------------------------ jobs

    @app.get("/api/jobs/{job_id}")
    async def job_status(job_id: str):
        job = queue.get(job_id)
        if job is None:
            return problem(404, "no such job (the server may have restarted)")
        return job.status()

    def start(kind: str, request_obj, work_factory, url: str) -> JSONResponse:
        folder = cache / f"{kind}-{request_obj.key}"
        done = runs.is_complete(folder) if kind == "compare" else (folder / "gaps.json").is_file()
        if done:
            return JSONResponse(queue.finished(kind, request_obj.key, request_obj.total, url).status())
        try:
            job = queue.submit(kind, request_obj.key, request_obj.total, url, work_factory(request_obj, folder))
        except QueueFull as exc:
            return problem(429, str(exc))
        return JSONResponse(job.status(), status_code=202)

    # ------------------------------------------------------------ compare

    @app.get("/compare", response_class=HTMLResponse)
    async def compare_page(request: Request):
        names = [e for e in await run_in_threadpool(catalog.entries) if e.kind == "scenario"]
        chosen = request.query_params.getlist("scenario") or [n.name for n in names[:2]]
        earlier = await run_in_threadpool(runs.recent, cache, "compare")
        return page(request, "compare.html", entries=names, chosen=chosen, earlier=earlier, active="compare")

    @app.post("/api/compare")
    async def compare_start(request: Request):
        try:
            body = await request.json()
            names = [str(n) for n in body.get("scenarios", [])]
            reps, seed = int(body.get("replications", 10)), int(body.get("seed", 1))
            end_year = int(body["end_year"]) if body.get("end_year") not in (None, "") else None
        except (ValueError, TypeError, AttributeError):
            return problem(422, "expected JSON: {scenarios: [names], replications, seed, end_year}")
        try:
            req = await run_in_threadpool(lambda: keyed(runs.compare_request(catalog, names, reps, seed, end_year)))
        except NotFound as exc:
            return problem(404, str(exc))
        except (runs.RequestError, CatalogError) as exc:
            return problem(422, str(exc))
        return await run_in_threadpool(start, "compare", req, runs.compare_work, f"/compare/{req.key}")

    def result_folder(kind: str, key: str) -> Path | None:
        """The cached result folder a key names, or None for a key that is not one of ours."""
        try:
            return cache / f"{kind}-{runs.check_key(key)}"
        except runs.RequestError:
            return None

    @app.get("/compare/{key}", response_class=HTMLResponse)
    async def compare_result(request: Request, key: str):
        folder = result_folder("compare", key)
        if folder is None:
            return page(request, "error.html", 404, message="no such result")
        if not runs.is_complete(folder):
            return page(request, "error.html", 404, message="no such result (it may still be running)")
        data = await run_in_threadpool(runs.read_comparison, folder)
        year = request.query_params.get("year")
        year = int(year) if year and year.isdigit() and int(year) in data["years"] else data["years"][-1]
        return page(request, "compare_result.html", key=key, year=year, active="compare",
                    **await run_in_threadpool(compare_view, data, year))

    @app.get("/compare/{key}/{filename}")
    async def compare_download(key: str, filename: str):
        folder = result_folder("compare", key)
        if folder is None:
            return problem(404, "no such result")
        if filename not in runs.DOWNLOADS or not (folder / filename).is_file():
            return problem(404, "no such file")
        return FileResponse(folder / filename, media_type=runs.DOWNLOADS[filename], filename=filename)

    # ------------------------------------------------------------ calibration

    @app.get("/calibration", response_class=HTMLResponse)
    async def calibration_page(request: Request):
        from .calibration import view

        cal = await run_in_threadpool(view, Path(calibration) if calibration else None,
                                      Path(rolling) if rolling else None)
        return page(request, "calibration.html", cal=cal, active="calibration")

    # ------------------------------------------------------------ verdeel

    @app.get("/verdeel", response_class=HTMLResponse)
    async def verdeel_page(request: Request):
        defaults = await run_in_threadpool(verdeel_defaults, catalog)
        scenarios = [e for e in await run_in_threadpool(catalog.entries) if e.kind == "scenario"]
        earlier = await run_in_threadpool(runs.recent, cache, "verdeel")
        return page(request, "verdeel.html", scenarios=scenarios, earlier=earlier, active="verdeel", **defaults)

    @app.post("/api/verdeel")
    async def verdeel_start(request: Request):
        try:
            body = await request.json()

            def number(key):
                value = body.get(key)
                return int(value) if value not in (None, "") else None

            args = dict(scenario=str(body.get("scenario", "")), settings=str(body.get("settings", "")),
                        regime=body.get("regime") or None, responsibility_year=number("responsibility_year"),
                        start_year=number("start_year"),
                        macro_budget=str(body["macro_budget"]) if body.get("macro_budget") not in (None, "") else None,
                        end_year=number("end_year"), replications=number("replications") or 10,
                        seed=number("seed") if number("seed") is not None else 1,
                        pages=str(body.get("pages", "")).lower() in ("on", "true", "1"))
        except (ValueError, TypeError, AttributeError):
            return problem(422, "expected JSON: {scenario, settings, regime, responsibility_year, start_year, "
                                "macro_budget, end_year, replications, seed}")
        try:
            req = await run_in_threadpool(lambda: keyed(runs.verdeel_request(catalog, **args)))
        except (runs.RequestError, CatalogError) as exc:
            return problem(422, str(exc))
        return await run_in_threadpool(start, "verdeel", req, runs.verdeel_work, f"/verdeel/{req.key}")

    @app.get("/verdeel/{key}", response_class=HTMLResponse)
    async def verdeel_result(request: Request, key: str):
        folder = result_folder("verdeel", key)
        if folder is None:
            return page(request, "error.html", 404, message="no such result")
        if not (folder / "gaps.json").is_file():
            return page(request, "error.html", 404, message="no such result (it may still be running)")
        data = await run_in_threadpool(runs.read_gaps, folder)
        year = request.query_params.get("year")
        year = year if year in data["rows"] else str(data["years"][-1])
        return page(request, "verdeel_result.html", key=key, data=data, year=year, rows=data["rows"][year],
                    has_report=(folder / runs.REPORT / "report.html").is_file(),
                    chart=gap_chart(data, year), active="verdeel")

    @app.get("/verdeel/{key}/manifest.json")
    async def verdeel_manifest(key: str):
        folder = result_folder("verdeel", key)
        if folder is None:
            return problem(404, "no such result")
        if not (folder / "manifest.json").is_file():
            return problem(404, "no such file")
        return FileResponse(folder / "manifest.json", media_type="application/json", filename="manifest.json")

    @app.get("/verdeel/{key}/{path:path}")
    async def verdeel_report(key: str, path: str):
        """The report and the municipal pages (viewed in the browser, their figures beside them), or their zip."""
        folder = result_folder("verdeel", key)
        if folder is None:
            return problem(404, "no such result")
        target = runs.report_file(folder, path)
        if target is None:
            return problem(404, "no such file")
        if target.suffix == ".zip":
            return FileResponse(target, media_type="application/zip", filename=f"verdeel-{key[:8]}.zip")
        return FileResponse(target)

    return app


# ---------------------------------------------------------------- views


def keyed(request_obj):
    """The request with its cache key computed (a hash of every scenario's content: off the event loop)."""
    _ = request_obj.key  # a cached property: computed here, read later
    return request_obj


def compare_view(data: dict, year: int) -> dict:
    """The table and charts of a comparison's result page."""
    from ..experiment.compare import key_metrics
    from ..report.compare_report import metric_title

    labels, years, rows = data["labels"], data["years"], data["rows"]
    by = {(r["metric"], r["scenario"], r["year"]): r for r in rows}
    table, figures = [], []
    for metric in key_metrics():
        ref = by.get((metric.name, labels[0], year))
        if ref is None:
            continue
        d = metric.digits
        cells = []
        for label in labels[1:]:
            row = by[(metric.name, label, year)]
            strong = row["diff_ci_low"] > 0 or row["diff_ci_high"] < 0
            cells.append({"level": charts.number(row["mean"], d),
                          "diff": f"{charts.number(row['diff_mean'], d, True)} "
                                  f"[{charts.number(row['diff_ci_low'], d, True)}, "
                                  f"{charts.number(row['diff_ci_high'], d, True)}]",
                          "strong": strong})
        table.append({"name": metric.name, "title": metric_title(metric),
                      "reference": f"{charts.number(ref['mean'], d)} [{charts.number(ref['ci_low'], d)}, "
                                   f"{charts.number(ref['ci_high'], d)}]", "cells": cells})
        unit = metric.unit or "people"
        levels = [charts.Series(label, *[[by[(metric.name, label, y)][c] for y in years]
                                        for c in ("mean", "ci_low", "ci_high")]) for label in labels]
        diffs = [charts.Series(label, *[[by[(metric.name, label, y)][c] for y in years]
                                                           for c in ("diff_mean", "diff_ci_low", "diff_ci_high")])
                 for label in labels[1:]]
        figures.append({"name": metric.name, "title": metric_title(metric),
                        "levels": charts.band_chart(metric_title(metric), years, levels, unit, d),
                        "diffs": charts.band_chart("Difference from the reference (paired, 95% CI)", years, diffs,
                                                   unit, d, zero=True, sign=True, first_style=1)})
    return {"labels": labels, "years": years, "table": table, "figures": figures, "data": data}


def gap_chart(data: dict, year: str) -> str:
    rows = []
    for r in data["rows"][year]:
        tip = (f"{r['municipality']} {year}: gap {charts.number(r['gap'], 2, True)} [95% CI "
               f"{charts.number(r['gap_low'], 2, True)} to {charts.number(r['gap_high'], 2, True)}] € million; "
               f"P(short) {r['p_short']:.0%}")
        rows.append({"name": r["municipality"], "mean": r["gap"], "low": r["gap_low"], "high": r["gap_high"],
                     "tip": tip, "strong": r["municipality"] == "Region"})
    return charts.interval_chart(f"Gap per municipality in {year}, with its 95% interval", rows)


def verdeel_defaults(catalog: Catalog) -> dict:
    """The settings files and the values of the first (``verdeel`` if there is one), for the form."""
    from ..policy import verdeel as vd

    names = catalog.settings_names()
    chosen = "verdeel" if "verdeel" in names else (names[0] if names else None)
    values: dict[str, Any] = {"settings_names": names, "settings": chosen, "regimes": vd.REGIMES,
                              "regime": "two_track", "responsibility_year": "", "start_year": "", "macro_budget": ""}
    if chosen is not None:
        try:
            cfg = vd.load_settings(catalog.path(chosen))
            budget = cfg.macro_budget
            values.update(regime=cfg.regime, responsibility_year=cfg.responsibility, start_year=cfg.start_year,
                          macro_budget=("" if budget is None else f"{budget:.0f}" if isinstance(budget, (int, float))
                                        and math.isfinite(budget) else str(budget)))
        except (vd.VerdeelError, ValueError):
            pass
    return values
