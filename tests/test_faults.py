"""Kills, interrupted writes, read-only and full disks: an earlier result stays whole, nothing stray
is left behind after the next run, no worker outlives its parent, and a failed write is one line."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.cli import load_app
from sim.report.output import MARK, OutputError, atomic_folder, mark_result, recover

app = load_app()
runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "haarlem" / "baseline.yaml"
BWSIM = [sys.executable, "-c", "import sys; from sim.cli import main; sys.argv[0] = 'bwsim'; main()"]


def earlier_result(folder: Path) -> Path:
    mark_result(folder)
    (folder / "series.csv").write_text("the earlier result\n")
    return folder


def stray(parent: Path, name: str, pid: int) -> Path:
    folder = parent / name
    folder.mkdir()
    (folder / MARK).write_text(f"written by bwsim\npid {pid}\n")
    (folder / "series.csv").write_text("half\n")
    return folder


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_run_killed_while_writing_leaves_no_stray_folder_after_the_next_run(tmp_path):
    out = earlier_result(tmp_path / "res")
    left = stray(tmp_path, ".res.k2j3h4", dead_pid())
    result = runner.invoke(app, ["run", str(BASELINE), "-n", 1, "--no-plots", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert not left.exists()
    assert "left by an interrupted run" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]
    assert (out / "summary.csv").is_file()


def test_a_run_killed_between_the_renames_gets_its_earlier_result_back(tmp_path):
    """The kill came after the earlier result was set aside as .res.old and before the new one
    moved in: the next command puts the earlier result back, says so, and then replaces it."""
    aside = earlier_result(tmp_path / ".res.old")
    notes = recover(tmp_path / "res")
    assert notes and "put back" in notes[0]
    assert (tmp_path / "res" / "series.csv").read_text() == "the earlier result\n"
    assert not aside.exists()


def test_recovery_touches_nothing_that_is_not_bwsims(tmp_path):
    own = tmp_path / ".res.notes"
    own.mkdir()
    (own / "mine.txt").write_text("mine")
    alive = stray(tmp_path, ".res.busy", os.getpid())  # another run, still writing
    not_ours = tmp_path / ".res.old"
    not_ours.mkdir()
    (not_ours / "thesis.docx").write_text("mine")
    assert recover(tmp_path / "res") == []
    assert (own / "mine.txt").exists() and alive.exists() and (not_ours / "thesis.docx").exists()
    assert not (tmp_path / "res").exists()


def test_a_write_that_fails_half_way_leaves_the_earlier_result_and_is_one_error(tmp_path):
    out = earlier_result(tmp_path / "res")
    with pytest.raises(OutputError, match="cannot write"):
        with atomic_folder(out) as tmp:
            (tmp / "series.csv").write_text("new")
            raise OSError(28, "No space left on device")
    assert (out / "series.csv").read_text() == "the earlier result\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux)")
def test_kill_9_of_the_parent_leaves_no_worker_and_the_earlier_result_intact(tmp_path):
    out = earlier_result(tmp_path / f"res-{uuid.uuid4().hex[:8]}")
    proc = subprocess.Popen(BWSIM + ["run", str(BASELINE), "-n", "400", "-w", "2", "--no-plots", "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while len(_processes_with(out.name)) < 3 and time.monotonic() < deadline:  # parent and two workers
        time.sleep(0.2)
    assert len(_processes_with(out.name)) >= 3, "the workers never started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    while _processes_with(out.name) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _processes_with(out.name)
    for pid in left:  # do not leave them running whatever the outcome
        os.kill(pid, signal.SIGKILL)
    assert not left, f"workers outlived their parent: {left}"
    assert (out / "series.csv").read_text() == "the earlier result\n"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux)")
def test_ctrl_c_stops_a_run_promptly(tmp_path):
    out = tmp_path / "res"
    # a shell without job control starts background commands with SIGINT ignored; Ctrl-C in a
    # terminal reaches a process whose SIGINT is at its default, so restore that
    proc = subprocess.Popen(BWSIM + ["run", str(BASELINE), "-n", "400", "-w", "2", "--no-plots", "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while len(_processes_with(str(out))) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    try:
        proc.wait(timeout=90)
    finally:
        proc.kill()
    took = time.monotonic() - started
    assert proc.returncode != 0
    assert not out.exists() and not any(tmp_path.iterdir()), "an interrupted run wrote something"
    # 400 replications take about two minutes on two idle cores (four under load): well within that is prompt
    assert took < 30, f"Ctrl-C took {took:.1f} s"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_one_line_before_any_work(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = runner.invoke(app, ["run", str(BASELINE), "-n", 1, "--out", str(locked / "res")])
    finally:
        locked.chmod(0o755)
    assert result.exit_code == 2
    assert "read-only or no permission" in result.output and "Traceback" not in result.output


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="needs root to mount a tmpfs")
def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        result = runner.invoke(app, ["run", str(BASELINE), "-n", 2, "--clients", "--out", str(disk / "res")])
        assert result.exit_code == 2, result.output
        assert "cannot write" in result.output and "Traceback" not in result.output
        assert list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
