"""Bad input, tried as a hostile user would: every case exits 2 with one line naming the file, key
or flag, writes nothing, and leaves an earlier result and the user's own files as they were.

The table is built from the baseline scenario: each numeric key gets values that are not valid
data (negative, NaN, infinite, text, a list, absurdly large), each structural rule gets a case that
breaks it, and each command's flags get values out of their range. The other input files get the
same treatment from bad copies of the real ones made in ``tmp_path``: the observations CSV and the
calibration file (``calibrate``, ``validate``, ``sensitivity``), a calibration's posterior.csv
(``run``/``compare``/``sensitivity --posterior``), the verdeel settings and the municipality table.
Those cases also say what the line must name (the file, the line, the key), and no case may start
a simulation: :func:`no_simulation` makes any that does write a file, which the test sees.
"""

from __future__ import annotations

from pathlib import Path

import csv
import io
import os

import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import load_app
from sim.config.scenario import deep_merge, load_raw
from sim.model.world import World
from sim.report.output import mark_result

app = load_app()
runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "haarlem" / "baseline.yaml"

#: Numeric keys of the scenario and a value each that the schema must refuse.
NUMBERS = {
    "inflow.per_year": ["-1", ".nan", ".inf", "ten", "[1, 2]", "1e9"],
    "inflow.growth_per_year": ["-2", ".nan", ".inf", "11"],
    "waitlist.withdrawal_per_year": ["-0.1", ".nan", ".inf", "lots"],
    "waitlist.max_length": ["-1", "1.5", ".inf"],
    "waitlist.intake_stop": ["-5", "x"],
    "waitlist.review.per_year": ["-1", ".inf"],
    "waitlist.review.removal_share": ["1.5", "-0.1", ".nan"],
    "providers.SIG.places": ["-3", "2.5", ".inf", "many"],
    "providers.SIG.inflow_share": ["1.5", "-0.1"],
    "providers.SIG.financing": ["foo", "[zin]", "1"],
    "bridging.places": ["-1", "1.5"],
    "bridging.withdrawal_factor": ["-1", ".inf"],
    "bridging.stay_factor": ["0", "-1", ".nan"],
    "uitstroom.early_exit_per_year": ["-0.01", ".inf"],
    "uitstroom.housing.contingent_share": ["1.01", "-0.5"],
    "uitstroom.housing.contingent.units_per_year": ["-1", ".inf", "{2020: 5}"],
    "uitstroom.housing.contingent.bw_share": ["2", ".nan"],
    "uitstroom.destinations.independent": ["0.9", "-0.1"],
    "profiles.regular.share": ["0.9", "1.1"],
    "profiles.regular.stay.mean": ["-1", "0", ".inf", ".nan"],
    "profiles.regular.stay.dist": ["banana", "7"],
    "profiles.regular.stay.unit": ["weeks", "1"],
    "ambulant.places": ["-1"],
    "ambulant.duration.mean": ["-2", ".inf"],
    "relapse.probability": ["1.5", "-1"],
    "initial.residents": ["-1", "5000"],
    "initial.ready_to_leave": ["-1", "100000"],
    "initial.waiting": ["-1", "x"],
    "costs.place_day": ["-1", ".inf", ".nan", "cheap"],
    "costs.bridging_day": ["-5", ".inf"],
    "beschermd_thuis.share": ["2", "-1"],
    "outside_contract.per_year": ["-1", "0.5"],
    "start": ["2015-02-30", "yesterday", "2030-01-01"],
    "end": ["2014-01-01", "2022-13-01"],
}

#: Whole-scenario edits that break a rule the schema must enforce (YAML text appended to a child).
RULES = {
    "unknown key": "waitlist: {polcy: central}",
    "review ends before it starts": "waitlist: {review: {per_year: 10, start: 2018-01-01, end: 2017-01-01}}",
    "review starts after the run": "waitlist: {review: {per_year: 10, start: 2040-01-01}}",
    "thuis starts after the run": "beschermd_thuis: {share: 0.1, start: 2040-01-01}",
    "cohort date after the run": "attribution: {cohort_date: 2040-01-01}",
    "extra contingent after the run": "uitstroom: {housing: {contingent: {extra_per_year: 5, extra_from: 2040-01-01}}}",
    "growth with a yearly mapping": "inflow: {per_year: {2015: 100, 2018: 120}, growth_per_year: 0.02}",
    "more residents than places": "initial: {residents: 4546}",
    "schedule out of order": "providers: {SIG: {schedule: [{date: 2018-01-01, places: 5}, "
                             "{date: 2017-01-01, places: 6}]}}",
    "schedule twice on one date": "providers: {SIG: {schedule: [{date: 2018-01-01, places: 5}, "
                                  "{date: 2018-01-01, places: 0}]}}",
    "schedule outside the run": "providers: {SIG: {schedule: [{date: 2030-01-01, places: 5}]}}",
    "path and schedule": "capacity_path: {changes: [{date: 2016-01-01, places: 600}]}\n"
                         "providers: {SIG: {schedule: [{date: 2017-01-01, places: 5}]}}",
    "path out of order": "capacity_path: {changes: [{date: 2019-01-01, places: 500}, {date: 2018-01-01, places: 400}]}",
    "conversion of an unknown provider": "conversions: [{date: 2016-01-01, provider: Nobody, places: 5}]",
    "waitlist of an unknown provider": "providers: {SIG: {waitlist_of: Nobody}}",
    "outside contract for an unknown profile": "outside_contract: {per_year: 3, profiles: [nobody]}",
    "extends a missing file": "extends: nowhere.yaml",
    "extends itself": "extends: s.yaml",
    "extends a number": "extends: 5",
    "a list at the top": None,  # replaced by the whole file below
}
#: Whole files that are not a scenario.
FILES = {
    "a list at the top": "- 1\n- 2\n",
    "not YAML": "name: [unclosed\n",
    "a duplicate key": "extends: {base}\nwaitlist: {{policy: central}}\nwaitlist: {{withdrawal_per_year: 0.1}}\n",
    "latin-1": "extends: {base}\nname: Zandvoort \xe9\n",
    "empty": "",
}


def _child(tmp: Path, body: str) -> Path:
    """A child of the baseline with ``body`` added (a body with its own ``extends:`` replaces it)."""
    path = tmp / "s.yaml"
    parent = "" if body.startswith("extends:") else f"extends: {BASELINE}\n"
    path.write_text(f"{parent}{body}\n", encoding="utf-8")
    return path


def _file(tmp: Path, text: str) -> Path:
    path = tmp / "s.yaml"
    text = text.format(base=BASELINE)
    path.write_bytes(text.encode("latin-1") if "\xe9" in text else text.encode())
    return path


def _set_case(key: str, value: str):
    def build(tmp: Path) -> list:
        return ["run", BASELINE, "-n", 1, "--set", f"{key}={value}"]
    return build


def _child_case(body: str):
    return lambda tmp: ["run", _child(tmp, body), "-n", 1]


def _file_case(text: str):
    return lambda tmp: ["run", _file(tmp, text), "-n", 1]


def _flag_case(*args):
    def build(tmp: Path) -> list:
        return [a(tmp) if callable(a) else a for a in args]
    return build


def _a_file(tmp: Path) -> Path:
    path = tmp / "notes.txt"
    path.write_text("mine")
    return path


def _user_folder(tmp: Path) -> Path:
    folder = tmp / "mine"
    folder.mkdir(exist_ok=True)
    (folder / "thesis.docx").write_text("mine")
    return folder


S = str(BASELINE)
MORE = str(BASELINE.parent / "more-contingent.yaml")
FLAGS = {
    "run -n 0": ("run", S, "-n", 0),
    "run -n text": ("run", S, "-n", "ten"),
    "run --seed -5": ("run", S, "--seed", -5),
    "run --workers 0": ("run", S, "-w", 0),
    "run --executor threads": ("run", S, "--executor", "threads"),
    "run --scheduler without dask": ("run", S, "--scheduler", "tcp://127.0.0.1:1"),
    "run --set without =": ("run", S, "--set", "waitlist.policy"),
    "run --set empty value": ("run", S, "--set", "waitlist.max_length="),
    "run --set empty key": ("run", S, "--set", "=5"),
    "run --set unknown key": ("run", S, "--set", "waitlist.polcy=central"),
    "run --set bad YAML": ("run", S, "--set", "inflow.per_year=[1,"),
    "run --set no profiles": ("run", S, "--set", "profiles={}"),
    "run --set no providers": ("run", S, "--set", "providers={}"),
    "run --set no municipalities": ("run", S, "--set", "inflow.municipalities={}"),
    "run missing scenario": ("run", "nowhere.yaml"),
    "run scenario is a folder": ("run", str(BASELINE.parent)),
    "run --out empty": ("run", S, "--out", ""),
    "run --out a file": ("run", S, "--out", _a_file),
    "run --out a user folder": ("run", S, "--out", _user_folder),
    "run --out under a file": ("run", S, "--out", lambda t: _a_file(t) / "res"),
    "run --posterior missing": ("run", S, "--posterior", "nowhere.csv"),
    "run --posterior and --first-guess": ("run", S, "--posterior", str(ROOT / "calibration/haarlem/results/posterior.csv"),
                                          "--first-guess"),
    "check missing": ("check", "nowhere.yaml"),
    "check --set unknown": ("check", S, "--set", "x.y=1"),
    "compare one scenario": ("compare", S),
    "compare -n 1": ("compare", S, MORE, "-n", 1),
    "compare --year outside": ("compare", S, MORE, "-n", 2, "--year", 1990),
    "compare --out a file": ("compare", S, MORE, "-n", 2, "--out", _a_file),
    "compare --out a user folder": ("compare", S, MORE, "-n", 2, "--out", _user_folder),
    "compare missing": ("compare", S, "nowhere.yaml", "-n", 2),
    "compare --executor bad": ("compare", S, MORE, "-n", 2, "--executor", "gpu"),
    "sweep no =": ("sweep", S, "-p", "uitstroom.housing.contingent.units_per_year"),
    "sweep bad range": ("sweep", S, "-p", "uitstroom.housing.contingent.units_per_year=10:5:1"),
    "sweep zero step": ("sweep", S, "-p", "uitstroom.housing.contingent.units_per_year=1:5:0"),
    "sweep text values": ("sweep", S, "-p", "uitstroom.housing.contingent.units_per_year=a,b"),
    "sweep unknown key": ("sweep", S, "-p", "waitlist.polcy=1,2"),
    "sweep unknown metric": ("sweep", S, "-p", "uitstroom.housing.contingent.units_per_year=1,2", "-m", "happiness"),
    "sweep --year outside": ("sweep", S, "-p", "uitstroom.housing.contingent.units_per_year=1,2", "-y", 1990),
    "sweep -n 1": ("sweep", S, "-p", "uitstroom.housing.contingent.units_per_year=1,2", "-n", 1),
    "sweep --out a file": ("sweep", S, "-p", "uitstroom.housing.contingent.units_per_year=1,2", "--out", _a_file),
    "target low above high": ("target", S, "-p", "uitstroom.housing.contingent.units_per_year", "--low", 50,
                              "--high", 10, "--max", 100),
    "target low nan": ("target", S, "-p", "uitstroom.housing.contingent.units_per_year", "--low", "nan",
                       "--high", 10, "--max", 100),
    "target high inf": ("target", S, "-p", "uitstroom.housing.contingent.units_per_year", "--low", 0,
                        "--high", "inf", "--max", 100),
    "target probability 2": ("target", S, "-p", "uitstroom.housing.contingent.units_per_year", "--low", 0,
                             "--high", 10, "--max", 100, "--probability", 2),
    "target unknown key": ("target", S, "-p", "nothing.here", "--low", 0, "--high", 10, "--max", 100),
    "sweep a key of the --posterior": ("sweep", S, "-p", "inflow.per_year=80,100", "--posterior",
                                       str(ROOT / "calibration/haarlem/results/posterior.csv")),
    "target a key of the --posterior": ("target", S, "-p", "waitlist.withdrawal_per_year", "--no-integer", "--low", 0,
                                        "--high", 1, "--max", 100, "--posterior",
                                        str(ROOT / "calibration/haarlem/results/posterior.csv")),
    "target unknown metric": ("target", S, "-p", "uitstroom.housing.contingent.units_per_year", "--low", 0,
                              "--high", 10, "--max", 100, "-m", "happiness"),
    "verdeel missing settings": ("verdeel", S, "--settings", "nowhere.yaml"),
    "verdeel unknown regime": ("verdeel", S, "--regime", "lottery"),
    "verdeel -n 1": ("verdeel", S, "-n", 1),
    "verdeel --out a user folder": ("verdeel", S, "-n", 2, "--out", _user_folder),
    "verdeel unknown setting": ("verdeel", S, "--setting", "colour=blue"),
    "calibrate missing config": ("calibrate", "nowhere.yaml"),
    "validate bad cutoff": ("validate", str(ROOT / "calibration/haarlem/calibrate.yaml"), "--cutoff", "2017-02-30"),
    "sensitivity -r 1": ("sensitivity", str(ROOT / "calibration/haarlem/calibrate.yaml"), "-r", 1),
}


# ---------------------------------------------------------------- other input files
#
# Each entry: an edit that makes a bad copy of a real file, and what the error line must name
# besides the file (a line number, a key, a column). The copies are made in tmp_path.

CALIBRATION = ROOT / "calibration" / "haarlem"
POSTERIOR = CALIBRATION / "results" / "posterior.csv"


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _cell(row: int, column: str, value: str):
    """Set one cell (row 1 is the first row after the header)."""
    def edit(rows):
        rows[row][rows[0].index(column)] = value
        return rows
    return edit


def _column(column: str, value: str):
    """Set a whole column."""
    def edit(rows):
        k = rows[0].index(column)
        for row in rows[1:]:
            row[k] = value
        return rows
    return edit


def _drop(column: str):
    def edit(rows):
        k = rows[0].index(column)
        return [row[:k] + row[k + 1:] for row in rows]
    return edit


def _rename(column: str, new: str):
    def edit(rows):
        rows[0][rows[0].index(column)] = new
        return rows
    return edit


def _text(text: str):
    return lambda rows: text


def _latin(rows):
    rows[1][0] = rows[1][0] + "\xe9"
    return _csv(rows).encode("latin-1")


def _bad_copy(source: Path, edit, target: Path) -> Path:
    """A copy of ``source`` (a CSV) with ``edit`` applied to its rows (or giving text or bytes)."""
    out = edit(_rows(source.read_text(encoding="utf-8")))
    if isinstance(out, list):
        out = _csv(out)
    target.write_bytes(out if isinstance(out, bytes) else out.encode())
    return target


#: The observations CSV (calibration/haarlem/observed.csv): line 2 is its first observation,
#: a waitlist on 2015-12-31 (a point) that is fitted; its last line is a municipality's, and so
#: is row MUNICIPAL (counting the header as row 0, so on line MUNICIPAL + 1).
_OBSERVED_ROWS = _rows((CALIBRATION / "observed.csv").read_text())
LAST = len(_OBSERVED_ROWS)
MUNICIPAL = next(i for i, row in enumerate(_OBSERVED_ROWS) if row[1] == "occupied[Heemstede]")
OBSERVED = {
    "a short row": (lambda rows: [rows[0], rows[1][:3]] + rows[2:], ("line 2", "fields")),
    "a long row": (lambda rows: [rows[0], rows[1] + ["x"]] + rows[2:], ("line 2", "fields")),
    "value text": (_cell(1, "value", "lots"), ("line 2", "value")),
    "value empty": (_cell(1, "value", ""), ("line 2", "value")),
    "value NaN": (_cell(1, "value", "nan"), ("line 2", "value")),
    "value inf": (_cell(1, "value", "inf"), ("line 2", "value")),
    "value negative": (_cell(1, "value", "-5"), ("line 2", "value")),
    "value absurd": (_cell(1, "value", "1e300"), ("line 2", "value")),
    "sd NaN": (_cell(1, "sd", "NaN"), ("line 2", "sd")),
    "sd inf": (_cell(1, "sd", "inf"), ("line 2", "sd")),
    "sd 0": (_cell(1, "sd", "0"), ("line 2", "sd")),
    "sd negative": (_cell(1, "sd", "-3"), ("line 2", "sd")),
    "sd empty": (_cell(1, "sd", ""), ("line 2", "sd")),
    "a duplicate row": (lambda rows: rows + [list(rows[1])], (f"line {LAST + 1}", "line 2")),
    "a duplicate row with another value": (lambda rows: rows + [rows[1][:2] + ["150"] + rows[1][3:]],
                                           (f"line {LAST + 1}",)),
    "a duplicate municipal row": (lambda rows: rows + [list(rows[-1])], (f"line {LAST + 1}", f"line {LAST}")),
    "unknown metric": (_cell(1, "metric", "happiness"), ("line 2", "happiness")),
    "unknown metric per municipality": (_cell(1, "metric", "happiness[Heemstede]"), ("line 2", "happiness")),
    "unknown municipality": (_cell(MUNICIPAL, "metric", "occupied[Atlantis]"), (f"line {MUNICIPAL + 1}", "Atlantis")),
    "unclosed municipality": (_cell(MUNICIPAL, "metric", "occupied[Heemstede"), (f"line {MUNICIPAL + 1}",)),
    "a financing of a metric it does not have": (_cell(1, "metric", "waitlist[zin]"), ("line 2", "waitlist[zin]")),
    "a financing's flow at a point": (_cell(1, "metric", "admissions[pgb]"), ("line 2", "admissions")),
    "match unknown": (_cell(1, "match", "sometimes"), ("line 2", "match")),
    "use unknown": (_cell(1, "use", "maybe"), ("line 2", "use")),
    "a flow at a point": (_cell(1, "metric", "admissions"), ("line 2", "admissions")),
    "a stock as a total": (_cell(1, "match", "total"), ("line 2",)),
    "a date that does not exist": (_cell(1, "date_or_period", "2015-02-30"), ("line 2", "2015-02-30")),
    "a date in year 9999": (_cell(1, "date_or_period", "9999-12-31"), ("line 2", "9999")),
    "a date in words": (_cell(1, "date_or_period", "end of 2015"), ("line 2",)),
    "a point with a period": (_cell(1, "date_or_period", "2015-01-01/2015-12-31"), ("line 2",)),
    "a period ending mid-month": (_cell(5, "date_or_period", "2017-01-01/2017-07-15"), ("line 6",)),
    "a period running backwards": (_cell(5, "date_or_period", "2017-07-01/2017-01-31"), ("line 6",)),
    "a period of one date": (_cell(5, "date_or_period", "2017-01-01"), ("line 6",)),
    "a point outside the run": (_cell(1, "date_or_period", "2030-12-31"), ("line 2", "outside the run")),
    "a point mid-month": (_cell(1, "date_or_period", "2015-12-15"), ("line 2",)),
    "nothing to fit": (_column("use", "check"), ("no observation to fit",)),
    "an empty file": (_text(""), ("empty",)),
    "only blank lines": (_text("\n\n\n"), ("empty",)),
    "only a header": (lambda rows: [rows[0]], ("no observations",)),
    "only comments and a header": (lambda rows: "# observed\n" + _csv([rows[0]]), ("no observations",)),
    "a header without value": (_drop("value"), ("line 1", "value")),
    "a header without sd": (_drop("sd"), ("line 1", "sd")),
    "a header without match": (_drop("match"), ("line 1", "match")),
    "a misspelt column": (_rename("use", "uses"), ("line 1", "uses")),
    "a column named twice": (_rename("note", "use"), ("line 1", "use")),
    "latin-1": (_latin, ("UTF-8",)),
}

#: The calibration file (calibration/haarlem/calibrate.yaml), as key path: value (YAML text).
CALIBRATE = {
    "prior low .inf": ("parameters/inflow.per_year/low", "-.inf", "parameters.inflow.per_year.low"),
    "prior high .inf": ("parameters/inflow.per_year/high", ".inf", "parameters.inflow.per_year.high"),
    "prior high .nan": ("parameters/inflow.per_year/high", ".nan", "parameters.inflow.per_year.high"),
    "prior low text": ("parameters/inflow.per_year/low", "few", "parameters.inflow.per_year.low"),
    "prior low above high": ("parameters/inflow.per_year", "{low: 160, high: 60}", "parameters.inflow.per_year"),
    "prior low equals high": ("parameters/inflow.per_year", "{low: 60, high: 60}", "parameters.inflow.per_year"),
    "prior without high": ("parameters/inflow.per_year", "{low: 60}", "parameters.inflow.per_year.high"),
    "prior outside the scenario's range": ("parameters/uitstroom.housing.contingent_share",
                                           "{low: 0.1, high: 1.5}", "contingent_share"),
    "prior unknown key": ("parameters/inflow.per_yer", "{low: 1, high: 2}", "parameters.inflow.per_yer"),
    "prior on a whole block": ("parameters/inflow", "{low: 1, high: 2}", "parameters.inflow"),
    "prior with an unknown field": ("parameters/inflow.per_year/mode", "80", "mode"),
    "no parameters": ("parameters", "{}", "parameters"),
    "population 2": ("method/population", "2", "method.population"),
    "population a billion": ("method/population", "1000000000", "method.population"),
    "population 1.5": ("method/population", "4.5", "method.population"),
    "generations 0": ("method/generations", "0", "method.generations"),
    "generations a million": ("method/generations", "1000000", "method.generations"),
    "alpha 0": ("method/alpha", "0", "method.alpha"),
    "alpha 1": ("method/alpha", "1", "method.alpha"),
    "alpha .nan": ("method/alpha", ".nan", "method.alpha"),
    "min_acceptance 2": ("method/min_acceptance", "2", "method.min_acceptance"),
    "replications 0": ("method/replications", "0", "method.replications"),
    "replications a million": ("method/replications", "1000000", "method.replications"),
    "seed -1": ("method/seed", "-1", "method.seed"),
    "an unknown method": ("method/kind", "rejection", "method.kind"),
    "an unknown method key": ("method/populaton", "600", "method.populaton"),
    "predictive draws 1": ("predictive/draws", "1", "predictive.draws"),
    "predictive draws a billion": ("predictive/draws", "1000000000", "predictive.draws"),
    "discrepancy -0.1": ("distance/discrepancy_relative", "-0.1", "distance.discrepancy_relative"),
    "discrepancy .inf": ("distance/discrepancy_relative", ".inf", "distance.discrepancy_relative"),
    "an unknown distance": ("distance/kind", "euclid", "distance.kind"),
    "an unknown top key": ("priors", "{}", "priors"),
    "a missing scenario": ("scenario", "nowhere.yaml", "nowhere.yaml"),
    "a scenario that is a folder": ("scenario", ".", "scenario"),
    "a scenario that is a number": ("scenario", "5", "scenario"),
    "a scenario the schema refuses": ("scenario", "bad.yaml", "inflow.per_year"),
    "a missing observations file": ("observations", "none.csv", "none.csv"),
    "observations that are a folder": ("observations", ".", "observations"),
}
#: Whole calibration files that are not one.
CALIBRATE_FILES = {
    "a duplicate key": ("{config}method: {{seed: 3}}\n", "method"),
    "a list": ("- 1\n", "mapping"),
    "empty": ("", "scenario"),
    "not YAML": ("scenario: [unclosed\n", "YAML"),
}

#: A calibration's posterior.csv (calibration/haarlem/results/posterior.csv); line 2 is its first set.
POSTERIORS = {
    "an empty file": (_text(""), ("empty",)),
    "only blank lines": (_text("\n\n"), ("empty",)),
    "only a header": (lambda rows: [rows[0]], ("only a header",)),
    "no weight column": (_drop("weight"), ("weight",)),
    "no parameter column": (lambda rows: [[r[rows[0].index("weight")], r[rows[0].index("distance")]] for r in rows],
                            ("no parameter column",)),
    "weight text": (_cell(1, "weight", "heavy"), ("line 2", "weight")),
    "weight empty": (_cell(1, "weight", ""), ("line 2", "weight")),
    "weight NaN": (_cell(1, "weight", "nan"), ("line 2", "weight")),
    "weight inf": (_cell(1, "weight", "inf"), ("line 2", "weight")),
    "weight negative": (_cell(1, "weight", "-0.1"), ("line 2", "weight")),
    "every weight 0": (_column("weight", "0"), ("weight",)),
    "a value text": (_cell(1, "inflow.per_year", "many"), ("line 2", "inflow.per_year")),
    "a value NaN": (_cell(1, "inflow.per_year", "NaN"), ("line 2", "inflow.per_year")),
    "a value inf": (_cell(1, "inflow.per_year", "inf"), ("line 2", "inflow.per_year")),
    "a short row": (lambda rows: [rows[0], rows[1][:3]] + rows[2:], ("line 2", "fields")),
    "a long row": (lambda rows: [rows[0], rows[1] + ["1"]] + rows[2:], ("line 2", "fields")),
    "a column named twice": (_rename("waitlist.withdrawal_per_year", "inflow.per_year"), ("inflow.per_year",)),
    "a column without a name": (_rename("waitlist.withdrawal_per_year", ""), ("no name",)),
    # sensitivity names the column it misses (inflow.per_year), run and compare the one they do not know
    "a column that is not a scenario key": (_rename("inflow.per_year", "inflow.per_yer"), ("inflow.per_ye",)),
    "values the scenario refuses": (_column("uitstroom.housing.contingent_share", "1.5"), ("contingent_share",)),
    "latin-1": (_latin, ("UTF-8",)),
}

#: The verdeel settings (a YAML file of its own in tmp_path, pointing at the real municipality table).
VERDEEL_SETTINGS = {
    "macro_budget .inf": "macro_budget=.inf",
    "macro_budget .nan": "macro_budget=.nan",
    "macro_budget -1": "macro_budget=-1",
    "macro_budget absurd": "macro_budget=1.0e+15",
    "macro_budget text": "macro_budget=lots",
    "macro_budget a year .nan": "macro_budget={2018: .nan}",
    "macro_budget a year negative": "macro_budget={2018: -5}",
    "macro_budget year 100000": "macro_budget={100000: 5}",
    "macro_budget no years": "macro_budget={}",
    "regional_pool .nan": "regional_pool=.nan",
    "regional_pool -0.1": "regional_pool=-0.1",
    "regional_pool 1.5": "regional_pool=1.5",
    "phase_in .nan": "phase_in=[.nan, 1]",
    "phase_in above 1": "phase_in=[0, 2, 1]",
    "phase_in going back": "phase_in=[0, 0.5, 0.2, 1]",
    "phase_in not ending at 1": "phase_in=[0, 0.5]",
    "phase_in empty": "phase_in=[]",
    "start_year 1800": "start_year=1800",
    "start_year a billion": "start_year=1000000000",
    "start_year before the run": "start_year=2000",  # (after the run: a note, as the verdeel rework decides)
    "an unknown regime": "regime=lottery",
    "an unknown key": "colour=blue",
}
#: Settings that are refused when the table they name is read: the line names the table.
VERDEEL_TABLE_SETTINGS = {
    "objective_column missing": ("objective_column=nothing", ("municipalities.csv", "nothing")),
    "objective_column not shares": ("objective_column=clients_2013", ("municipalities.csv", "clients_2013")),
    "municipalities missing": ("municipalities=nowhere.csv", ("nowhere.csv", "not found")),
}
VERDEEL_FILES = {
    "a duplicate key": "{settings}regional_pool: 0.1\n",
    "a list": "- regime: phased\n",
    "not YAML": "regime: [unclosed\n",
    "latin-1": "{settings}# \xe9\n",
}
#: The municipality table (scenarios/haarlem/municipalities.csv); line 2 is Haarlem, line 3 Zandvoort.
MUNICIPALITIES = {
    "a duplicate row": (lambda rows: rows + [list(rows[2])], ("line 11", "Zandvoort")),
    "a short row": (lambda rows: [rows[0], rows[1][:2]] + rows[2:], ("line 2", "fields")),
    "a long row": (lambda rows: [rows[0], rows[1] + ["x"]] + rows[2:], ("line 2", "fields")),
    "a share .nan": (_cell(2, "inflow_share", "nan"), ("line 3", "inflow_share")),
    "a share inf": (_cell(2, "objective_share", "inf"), ("line 3", "objective_share")),
    "a share negative": (_cell(2, "historic_share", "-0.5"), ("line 3", "historic_share")),
    "a share above 1": (_cell(2, "historic_share", "1.5"), ("line 3", "historic_share")),
    "a share text": (_cell(2, "inflow_share", "some"), ("line 3", "inflow_share")),
    "shares not summing to 1": (_cell(2, "inflow_share", "0.5"), ("inflow_share",)),
    "an empty name": (_cell(2, "municipality", ""), ("line 3",)),
    "a municipality not in the scenario": (lambda rows: rows + [["Atlantis", "0", "0", "0"] + [""] * (len(rows[0]) - 4)],
                                           ("Atlantis",)),
    "a municipality missing": (_cell(8, "municipality", "Uitgeest-Oost"), ("Uitgeest",)),
    "a missing column": (_drop("historic_share"), ("historic_share",)),
    "a column named twice": (_rename("objective_share", "inflow_share"), ("inflow_share",)),
    "an empty file": (_text(""), ("municipality",)),
    "only a header": (lambda rows: [rows[0]], ("no municipalities",)),
    "latin-1": (_latin, ("UTF-8",)),
}


def _calibration(tmp: Path, observed=None, edit: tuple[str, str] | None = None, text: str | None = None) -> Path:
    """A copy of the Haarlem calibration in tmp/cal (the scenario by absolute path), with a bad
    observations CSV, a bad key or a whole bad file."""
    folder = tmp / "cal"
    folder.mkdir(exist_ok=True)
    _bad_copy(CALIBRATION / "observed.csv", observed or (lambda rows: rows), folder / "observed.csv")
    data = yaml.safe_load((CALIBRATION / "calibrate.yaml").read_text())
    data["scenario"] = str(BASELINE)
    if edit is not None:
        *parents, last = edit[0].split("/")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = yaml.safe_load(edit[1])
    (folder / "bad.yaml").write_text(f"extends: {BASELINE}\ninflow: {{per_year: -1}}\n")
    config = yaml.safe_dump(data, sort_keys=False)
    if text is not None:
        config = text.format(config=config)
    path = folder / "calibrate.yaml"
    path.write_text(config)
    return path


def _posterior(tmp: Path, edit) -> Path:
    return _bad_copy(POSTERIOR, edit, tmp / "posterior.csv")


def _verdeel_settings(tmp: Path, table: Path | None = None) -> Path:
    """Settings of their own (not the example's), so that each case fails for its own reason."""
    path = tmp / "verdeel.yaml"
    table = table or ROOT / "scenarios" / "haarlem" / "municipalities.csv"
    path.write_text(f"regime: phased\nstart_year: 2018\nmacro_budget: 37700000\nregional_pool: 0.0\n"
                    f"phase_in: [0.0, 0.5, 1.0]\nmunicipalities: {table}\nobjective_column: objective_share\n")
    return path


def _observed_case(command: str, edit):
    def build(tmp: Path) -> list:
        config = _calibration(tmp, observed=edit)
        return {"calibrate": ["calibrate", config],
                "validate": ["validate", config, "--cutoff", "2016-12-31"],
                "sensitivity": ["sensitivity", config, "-r", 2, "-n", 1]}[command]
    return build


def _calibrate_case(command: str, key: str, value: str):
    def build(tmp: Path) -> list:
        config = _calibration(tmp, edit=(key, value))
        return {"calibrate": ["calibrate", config],
                "validate": ["validate", config, "--cutoff", "2016-12-31"],
                "sensitivity": ["sensitivity", config, "-r", 2, "-n", 1]}[command]
    return build


def _calibrate_file_case(text: str):
    return lambda tmp: ["calibrate", _calibration(tmp, text=text)]


def _posterior_case(command: str, edit):
    def build(tmp: Path) -> list:
        posterior = _posterior(tmp, edit)
        return {"run": ["run", BASELINE, "--posterior", posterior, "-n", 3, "-k", 3],
                "compare": ["compare", BASELINE, MORE, "--posterior", posterior, "-n", 2, "-k", 1],
                "sensitivity": ["sensitivity", _calibration(tmp), "--posterior", posterior, "-r", 2, "-n", 1],
                }[command]
    return build


def _verdeel_setting_case(assignment: str):
    return lambda tmp: ["verdeel", BASELINE, "-n", 2, "--settings", _verdeel_settings(tmp), "--setting", assignment]


def _verdeel_file_case(text: str):
    def build(tmp: Path) -> list:
        good = _verdeel_settings(tmp).read_text()
        path = tmp / "bad-verdeel.yaml"
        content = text.format(settings=good)
        path.write_bytes(content.encode("latin-1") if "\xe9" in content else content.encode())
        return ["verdeel", BASELINE, "-n", 2, "--settings", path]
    return build


def _municipalities_case(edit):
    def build(tmp: Path) -> list:
        table = _bad_copy(ROOT / "scenarios" / "haarlem" / "municipalities.csv", edit, tmp / "municipalities.csv")
        return ["verdeel", BASELINE, "-n", 2, "--settings", _verdeel_settings(tmp, table)]
    return build


def _child_of(tmp: Path, body: str) -> Path:
    path = tmp / "child.yaml"
    path.write_text(f"extends: {BASELINE}\n{body}\n")
    return path


#: --posterior together with what it would override.
POSTERIOR_FLAGS = {
    "run --set a posterior column": (lambda t: ["run", S, "--posterior", POSTERIOR, "-n", 3,
                                                "--set", "inflow.per_year=100"], ("--set inflow.per_year",)),
    "run --set a block holding a posterior column": (
        lambda t: ["run", S, "--posterior", POSTERIOR, "-n", 3,
                   "--set", "profiles.regular.stay={dist: fixed, value: 8, unit: years}"],
        ("profiles.regular.stay",)),
    "run --posterior on a scenario without that key": (
        lambda t: ["run", _child_of(t, "profiles: {regular: {stay: {dist: fixed, value: 8, unit: years}}}"),
                   "--posterior", POSTERIOR, "-n", 3], ("profiles.regular.stay.mean",)),
    "compare --posterior on a key the scenarios differ in": (
        lambda t: ["compare", S, _child_of(t, "inflow: {per_year: 120}"), "--posterior", POSTERIOR, "-n", 2,
                   "-k", 1], ("inflow.per_year",)),
    "compare --posterior on a scenario without that key": (
        lambda t: ["compare", S, _child_of(t, "profiles: {regular: {stay: {dist: fixed, value: 8, unit: years}}}"),
                   "--posterior", POSTERIOR, "-n", 2, "-k", 1], ("profiles.regular.stay.mean",)),
    "sensitivity --posterior missing": (lambda t: ["sensitivity", _calibration(t), "--posterior", t / "none.csv"],
                                        ("none.csv",)),
    "compare --posterior a folder": (lambda t: ["compare", S, MORE, "--posterior", t, "-n", 2], ("folder",)),
}

#: What the error line of a case must name besides "error:", by case name.
NAMES: dict[str, tuple[str, ...]] = {}


def _cases():
    cases = {}
    for key, values in NUMBERS.items():
        for value in values:
            cases[f"--set {key}={value}"] = _set_case(key, value)
    for name, body in RULES.items():
        if body is not None:
            cases[f"rule: {name}"] = _child_case(body)
    for name, text in FILES.items():
        cases[f"file: {name}"] = _file_case(text)
    for name, args in FLAGS.items():
        cases[f"flag: {name}"] = _flag_case(*args)
    sample = ("value NaN", "a duplicate row", "an empty file", "a header without sd", "unknown metric")
    for name, (edit, names) in OBSERVED.items():
        for command in ("calibrate",) + (("validate", "sensitivity") if name in sample else ()):
            key = f"observed.csv ({command}): {name}"
            cases[key], NAMES[key] = _observed_case(command, edit), ("observed.csv",) + names
    sample = ("prior low .inf", "prior low above high", "prior unknown key", "a missing observations file")
    for name, (key_path, value, named) in CALIBRATE.items():
        for command in ("calibrate",) + (("validate", "sensitivity") if name in sample else ()):
            key = f"calibrate.yaml ({command}): {name}"
            cases[key], NAMES[key] = _calibrate_case(command, key_path, value), ("calibrate.yaml", named)
    for name, (text, named) in CALIBRATE_FILES.items():
        key = f"calibrate.yaml: {name}"
        cases[key], NAMES[key] = _calibrate_file_case(text), ("calibrate.yaml", named)
    for name, (edit, names) in POSTERIORS.items():
        for command in ("run", "compare", "sensitivity"):
            key = f"posterior.csv ({command}): {name}"
            cases[key], NAMES[key] = _posterior_case(command, edit), ("posterior.csv",) + names
    for name, (build, names) in POSTERIOR_FLAGS.items():
        cases[f"flag: {name}"], NAMES[f"flag: {name}"] = build, names
    for name, assignment in VERDEEL_SETTINGS.items():
        key = f"verdeel settings: {name}"
        cases[key], NAMES[key] = _verdeel_setting_case(assignment), ("verdeel.yaml", assignment.split("=")[0])
    for name, (assignment, names) in VERDEEL_TABLE_SETTINGS.items():
        key = f"verdeel settings: {name}"
        cases[key], NAMES[key] = _verdeel_setting_case(assignment), names
    for name, text in VERDEEL_FILES.items():
        key = f"verdeel settings file: {name}"
        cases[key], NAMES[key] = _verdeel_file_case(text), ("bad-verdeel.yaml",)
    for name, (edit, names) in MUNICIPALITIES.items():
        key = f"municipalities.csv: {name}"
        cases[key], NAMES[key] = _municipalities_case(edit), ("municipalities.csv",) + names
    return cases


CASES = _cases()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


#: Cases whose message is still more than one line: YAML's own error (where the file breaks)
#: follows the first line (sim/config/scenario.py, read_yaml).
#: Cases whose message is still more than one line (the checks are in files of others, left as
#: they are): YAML's own error, which names the place on lines of its own (read_yaml in
#: sim/config/scenario.py, used for scenarios and verdeel settings), and a pydantic error per
#: member of a union type or per missing key (format_errors in sim/config/scenario.py).
SEVERAL_LINES: set[str] = set()
#: Bad input that still gets past the checks, found by this table, in files of others.
KNOWN: dict[str, str] = {}


def test_the_table_is_large():
    assert len(CASES) >= 300
    assert len(NAMES) >= 200  # the cases that also say what the line must name


@pytest.fixture
def no_simulation(tmp_path, monkeypatch):
    """A simulation started in this process (or a forked worker) writes a file the test sees."""
    def run(self):
        (tmp_path / f"simulated-{os.getpid()}").write_text("a simulation ran")
        raise RuntimeError("a bad input reached the simulation")
    monkeypatch.setattr(World, "run", run)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN[n], strict=True))
                                  if n in KNOWN else n for n in sorted(CASES)])
def test_bad_input_is_one_clear_line_and_touches_nothing(name, tmp_path, monkeypatch, no_simulation):
    monkeypatch.chdir(tmp_path)  # default output folders (results/...) would land here
    earlier = mark_result(tmp_path / "earlier")
    (earlier / "series.csv").write_text("an earlier result\n")
    args = [str(a) for a in CASES[name](tmp_path)]
    if "--out" not in args and args[0] in ("run", "compare", "sweep", "verdeel"):
        args += ["--out", str(earlier)]
    before = snapshot(tmp_path)
    result = runner.invoke(app, args)
    output = result.output.strip()
    assert result.exit_code == 2, f"{name}: exit {result.exit_code}\n{output}"
    assert "Traceback" not in output, output
    lines = output.splitlines()
    assert lines and (lines[0].startswith("error:") or "Error" in output or "Invalid value" in output), output
    if lines[0].startswith("error:") and name not in SEVERAL_LINES:
        assert len(lines) == 1, f"{name}: more than one line\n{output}"
    for named in NAMES.get(name, ()):
        assert named in output, f"{name}: the line does not name {named!r}\n{output}"
    assert snapshot(tmp_path) == before, f"{name}: something was written, moved or deleted"


def test_the_good_copies_are_good(tmp_path):
    """Each bad copy differs from a good one by its edit alone: the unedited copies load."""
    from sim.analysis import calibrate as cal
    from sim.config.scenario import load
    from sim.policy import verdeel as vd

    config = cal.load_config(_calibration(tmp_path))
    assert len(config.observations) == len(_rows((CALIBRATION / "observed.csv").read_text())) - 1
    posterior = _posterior(tmp_path, lambda rows: rows)
    scenarios = [load(BASELINE), load(MORE)]
    assert cal.sample_posterior(posterior, 4, 1, scenarios=scenarios)
    assert not cal.differing_keys(cal.parameter_keys(cal.read_posterior(posterior)), scenarios)
    settings = vd.load_settings(_verdeel_settings(tmp_path))
    vd.prepare(BASELINE, settings, [], None)


def test_duplicate_yaml_key_names_both_lines(tmp_path):
    path = _file(tmp_path, FILES["a duplicate key"])
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2
    assert "waitlist" in result.output and "lines 2 and 3" in result.output


def test_a_child_distribution_replaces_the_parents_whole(tmp_path):
    """A child writing a whole distribution gets exactly what it wrote: no unit or parameter
    inherited from the parent's distribution."""
    parent = tmp_path / "parent.yaml"
    data = load_raw(BASELINE)
    data["ambulant"]["duration"] = {"dist": "lognormal", "mean": 6, "sd": 3, "unit": "months"}
    parent.write_text(yaml.safe_dump(data))
    child = tmp_path / "child.yaml"
    child.write_text(f"extends: {parent}\nambulant: {{duration: {{dist: exponential, mean: 2}}}}\n")
    merged = load_raw(child)
    assert merged["ambulant"]["duration"] == {"dist": "exponential", "mean": 2}
    assert deep_merge({"a": {"x": 1, "y": 2}}, {"a": {"x": 3}}) == {"a": {"x": 3, "y": 2}}  # other mappings merge
