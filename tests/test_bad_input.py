"""Bad input, tried as a hostile user would: every case exits 2 with one line naming the file, key
or flag, writes nothing, and leaves an earlier result and the user's own files as they were.

The table is built from the baseline scenario: each numeric key gets values that are not valid
data (negative, NaN, infinite, text, a list, absurdly large), each structural rule gets a case that
breaks it, and each command's flags get values out of their range.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import load_app
from sim.config.scenario import deep_merge, load_raw
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
    path = tmp / "s.yaml"
    path.write_text(f"extends: {BASELINE}\n{body}\n", encoding="utf-8")
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
    "run -n not a multiple of -k": ("run", S, "--posterior", str(ROOT / "calibration/haarlem/results/posterior.csv"),
                                    "-n", 4, "-k", 3),
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
    return cases


CASES = _cases()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_table_is_large():
    assert len(CASES) >= 150


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_clear_line_and_touches_nothing(name, tmp_path, monkeypatch):
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
    assert snapshot(tmp_path) == before, f"{name}: something was written, moved or deleted"


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
