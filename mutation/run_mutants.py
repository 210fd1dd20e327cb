"""Mutation testing of the model (sim/model/) and the monitor (sim/record/monitor.py) with Cosmic Ray.

Run by ``make mutants``. Steps:

1. copy the project (sim/, tests/, scenarios/, pyproject.toml) to ``mutation/work/tree``:
   Cosmic Ray mutates the files it tests *on disk*, so it never touches the checkout,
   where others may be working or running tests;
2. ``cosmic-ray init`` lists every mutant of the files in ``cosmic-ray.toml``;
3. mutants inside type annotations are left out (every one of these modules has ``from
   __future__ import annotations``, so an annotation is never evaluated and such a mutant
   is equivalent by construction); of the others a reproducible random sample of
   ``--sample`` mutants (default 300, fixed ``--seed``) is kept and the rest are marked
   skipped (``--sample 0`` keeps them all). Mutants are ordered by (file, operator,
   occurrence) before sampling, so the sample depends only on the source and the seed;
4. the test command runs once on the unmutated copy (it must pass; its time sets the
   per-mutant timeout, ``--timeout-factor`` (4) times it, at least 240 s: generous, since
   the first, fast test file has its own 60 s timeout that catches endless loops);
5. ``cosmic-ray exec`` runs each sampled mutant in turn (one worker), the test command with
   ``pytest -x``, so a mutant is killed at its first failing test;
6. the score (killed / sampled) and every survivor (file:line, operator, diff) are printed
   and written to ``mutation/work/report.md``.

``--resume`` goes on with an existing session (after an interruption); ``--rerun-survivors``
copies the tests anew and runs only the survivors of an existing session again (after
adding tests that kill them).
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "mutation"
WORK = HERE / "work"
TREE = WORK / "tree"
SESSION = "session.sqlite"
CONFIG = "cosmic-ray.toml"
COPIED = ("sim", "tests", "scenarios", "pyproject.toml")
#: The fast model tests run for each mutant, in this order (cheap and sharp first; -x stops
#: at the first failure). Slower statistical files (test_theory, test_service_order) are
#: left out: see mutation/README.md.
FAST = ("tests/test_model_mutants.py",)
REST = ("tests/test_journeys.py", "tests/test_behaviour.py", "tests/test_levers.py", "tests/test_differential.py")
TESTS = FAST + REST
#: The fast file runs first, on its own, with its own timeout (it takes a few seconds): a
#: mutant that makes the model loop or crawl is killed there in a minute, not at the
#: timeout of the whole run.
FAST_TIMEOUT = 60


def test_command(python: str) -> str:
    pytest = f"{python} -m pytest -x -q -p no:cacheprovider -p no:randomly"
    return (f"sh -c 'timeout -k 5 {FAST_TIMEOUT} {pytest} {' '.join(FAST)}; rc=$?; "
            f"if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then echo timeout: the fast tests; fi; "
            f"[ $rc -eq 0 ] || exit $rc; exec {pytest} {' '.join(REST)}'")


def copy_tree(tests_only: bool = False) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".hypothesis")
    for name in (("tests",) if tests_only else COPIED):
        src, dst = ROOT / name, TREE / name
        if dst.is_dir():
            shutil.rmtree(dst)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=ignore)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def write_config(python: str, timeout: float) -> None:
    text = (HERE / CONFIG).read_text()
    text = text.replace("@TEST_COMMAND@", test_command(python)).replace("@TIMEOUT@", f"{timeout:.0f}.0")
    (TREE / CONFIG).write_text(text)


def cosmic(*args: str) -> None:
    exe = Path(sys.executable).with_name("cosmic-ray")
    subprocess.run([str(exe), *args], cwd=TREE, check=True)


def annotation_spans(path: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) positions of the type annotations in a module."""
    spans = []
    for node in ast.walk(ast.parse(path.read_text())):
        notes = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            for arg in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
                if arg is not None and arg.annotation is not None:
                    notes.append(arg.annotation)
            if node.returns is not None:
                notes.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            notes.append(node.annotation)
        spans += [((a.lineno, a.col_offset), (a.end_lineno, a.end_col_offset)) for a in notes]
    return spans


def mark(db, job_ids, why: str) -> None:
    db.executemany("INSERT OR REPLACE INTO work_results (job_id, worker_outcome, output, test_outcome, diff) "
                   f"VALUES (?, 'SKIPPED', '{why}', NULL, NULL)", [(j,) for j in job_ids])


def sample(n: int, seed: int, lines=()) -> tuple[int, int, int]:
    """Leave out the mutants inside type annotations (every module here has ``from __future__
    import annotations``: an annotation is never evaluated, so such a mutant is equivalent by
    construction), then keep a random sample of n of the others (0: all) and mark the rest
    skipped. Returns (kept, in annotations, total)."""
    db = sqlite3.connect(TREE / SESSION)
    rows = db.execute("SELECT job_id, module_path, operator_name, occurrence, start_pos_row, start_pos_col "
                      "FROM mutation_specs").fetchall()
    rows.sort(key=lambda r: (r[1], r[2], int(r[3])))
    total = len(rows)
    spans = {path: annotation_spans(TREE / path) for path in {r[1] for r in rows}}
    for path in spans:
        assert "from __future__ import annotations" in (TREE / path).read_text(), path
    noted = [r for r in rows if any(a <= (r[4], r[5]) < b for a, b in spans[r[1]])]
    mark(db, [r[0] for r in noted], "in a type annotation")
    rows = [r for r in rows if r not in noted]
    if lines:  # only the mutants in these line ranges (e.g. code just changed)
        inside = [r for r in rows if any(r[1].endswith(f) and lo <= r[4] <= hi for f, lo, hi in lines)]
        mark(db, [r[0] for r in rows if r not in inside], "not in --lines")
        rows = inside
    if 0 < n < len(rows):
        keep = {r[0] for r in random.Random(seed).sample(rows, n)}
        mark(db, [r[0] for r in rows if r[0] not in keep], "not in the sample")
    db.commit()
    return min(n, len(rows)) if n > 0 else len(rows), len(noted), total


def baseline(python: str) -> float:
    t0 = time.monotonic()
    run = subprocess.run(shlex.split(test_command(python)), cwd=TREE, capture_output=True, text=True)
    elapsed = time.monotonic() - t0
    if run.returncode != 0:
        sys.exit(f"the tests fail on the unmutated copy:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    return elapsed


def reset_survivors(only: list[str]) -> int:
    """Make the survivors pending again (only those at ``only``'s file:line, if given)."""
    db = sqlite3.connect(TREE / SESSION)
    rows = db.execute("SELECT r.job_id, s.module_path, s.start_pos_row FROM work_results r "
                      "JOIN mutation_specs s ON s.job_id = r.job_id WHERE r.test_outcome = 'SURVIVED'").fetchall()
    chosen = [(job,) for job, path, row in rows
              if not only or any(f"{path}:{row}".endswith(spot) for spot in only)]
    db.executemany("DELETE FROM work_results WHERE job_id = ?", chosen)
    db.commit()
    return len(chosen)


def report() -> int:
    db = sqlite3.connect(TREE / SESSION)
    rows = db.execute(
        "SELECT s.module_path, s.start_pos_row, s.start_pos_col, s.operator_name, s.occurrence, "
        "r.worker_outcome, r.test_outcome, r.output, r.diff FROM mutation_specs s "
        "LEFT JOIN work_results r ON r.job_id = s.job_id").fetchall()
    noted = [r for r in rows if r[5] == "SKIPPED" and r[7] == "in a type annotation"]
    outside = [r for r in rows if r[5] == "SKIPPED" and r[7] == "not in --lines"]
    sampled = [r for r in rows if r[5] != "SKIPPED"]
    done = [r for r in sampled if r[5] is not None]
    killed = [r for r in done if r[6] == "KILLED"]
    errors = [r for r in done if r[6] != "KILLED" and r[6] != "SURVIVED" and r[5] != "NO_TEST"]
    timeouts = [r for r in killed if r[7] == "timeout" or "timeout: the fast tests" in (r[7] or "")]
    survivors = sorted((r for r in done if r[6] == "SURVIVED"), key=lambda r: (r[0], r[1], r[2]))
    no_test = [r for r in done if r[5] == "NO_TEST"]
    lines = ["# Mutation score\n",
             f"mutants in all: {len(rows)}; in type annotations (left out): {len(noted)}; "
             f"outside --lines: {len(outside)}; sampled from the others: {len(sampled)}; run: {len(done)}",
             f"killed: {len(killed)} (of which timeouts: {len(timeouts)}); survived: {len(survivors)}; "
             f"errors (counted as not killed): {len(errors)}; no mutation possible: {len(no_test)}"]
    scored = len(killed) + len(survivors) + len(errors)
    if scored:
        lines.append(f"score: {len(killed)} / {scored} = {100 * len(killed) / scored:.1f}% killed\n")
    lines.append("## Survivors\n")
    for path, row, col, op, occ, *_rest, diff in survivors:
        lines.append(f"### {path}:{row} col {col} {op.removeprefix('core/')} #{occ}\n")
        changed = [ln for ln in (diff or "").splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")]
        lines.append("```diff\n" + "\n".join(changed) + "\n```\n")
    text = "\n".join(lines)
    (WORK / "report.md").write_text(text)
    print(text)
    return len(survivors)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=int, default=300, help="mutants to run (0: all)")
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--timeout-factor", type=float, default=4.0)
    ap.add_argument("--resume", action="store_true", help="go on with the existing session")
    ap.add_argument("--rerun-survivors", action="store_true", help="run the survivors again with the current tests")
    ap.add_argument("--only", action="append", default=[], metavar="FILE:LINE",
                    help="with --rerun-survivors: only the survivors at this place (repeatable), e.g. world.py:285")
    ap.add_argument("--report", action="store_true", help="only print the report of the existing session")
    ap.add_argument("--lines", action="append", default=[], metavar="FILE:FIRST-LAST",
                    help="only mutants in these lines (repeatable), e.g. monitor.py:115-146; with --sample 0, all of them")
    args = ap.parse_args()
    python = sys.executable
    os.environ.pop("PYTEST_ADDOPTS", None)
    t0 = time.monotonic()
    if args.report:
        report()
        return
    if args.resume or args.rerun_survivors:
        if not (TREE / SESSION).exists():
            sys.exit("no session to resume: run without --resume first")
        if args.rerun_survivors:
            copy_tree(tests_only=True)
            print(f"{reset_survivors(args.only)} survivors to run again", flush=True)
    else:
        if TREE.exists():
            shutil.rmtree(TREE)
        TREE.mkdir(parents=True)
        copy_tree()
        write_config(python, 600)
        cosmic("init", CONFIG, SESSION)
        lines = [(f, int(r.split("-")[0]), int(r.split("-")[-1])) for f, r in (x.rsplit(":", 1) for x in args.lines)]
        kept, noted, total = sample(args.sample, args.seed, lines)
        where = f" in {', '.join(args.lines)}" if args.lines else ""
        print(f"{total} mutants, {noted} of them in type annotations (left out); running {kept} of the "
              f"other {total - noted}{where} (seed {args.seed})", flush=True)
    took = baseline(python)
    timeout = max(240.0, args.timeout_factor * took)
    print(f"unmutated tests pass in {took:.0f} s; timeout per mutant {timeout:.0f} s", flush=True)
    write_config(python, timeout)
    cosmic("exec", CONFIG, SESSION)
    report()
    print(f"\nwall time {(time.monotonic() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
