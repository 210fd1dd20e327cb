"""A copy of the Haarlem scenarios elsewhere that still finds their calibration."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def copy_haarlem(target: Path) -> Path:
    """Copy scenarios/haarlem to ``target``; the calibration block's relative paths
    (``../../calibration/...``) are made absolute so the copy runs on the same posterior."""
    shutil.copytree(ROOT / "scenarios" / "haarlem", target)
    for path in target.glob("*.yaml"):
        text = path.read_text()
        if "../../calibration/" in text:
            path.write_text(text.replace("../../calibration/", f"{ROOT / 'calibration'}/"))
    return target
