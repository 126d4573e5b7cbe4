"""Helpers for the tests that build the project's wheels and look inside them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def assert_licensed(site_dir: Path, dist: str) -> None:
    """An unpacked wheel carries the LICENSE file and says BSD-3-Clause in its metadata (PEP 639)."""
    (info,) = site_dir.glob(f"{dist}-*.dist-info")
    assert (info / "licenses" / "LICENSE").read_bytes() == (REPO / "LICENSE").read_bytes()
    metadata = (info / "METADATA").read_text(encoding="utf-8").splitlines()
    assert "License-Expression: BSD-3-Clause" in metadata and "License-File: LICENSE" in metadata


def build_wheel(project: Path, items: list[str], scratch: Path, wheels: Path) -> Path:
    """Build `project`'s wheel from a copy of `items` (building leaves build/ and *.egg-info behind)."""
    source = scratch / project.name
    source.mkdir(parents=True)
    for item in items:
        if (project / item).is_dir():
            shutil.copytree(project / item, source / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(project / item, source / item)
    before = set(wheels.glob("*.whl"))
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
           "-w", str(wheels), str(source)]
    subprocess.run(cmd, check=True, capture_output=True)
    (wheel,) = set(wheels.glob("*.whl")) - before
    return wheel
