"""Helpers for the tests that build the project's wheels and look inside them."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def assert_licensed(site_dir: Path, dist: str) -> None:
    """An unpacked wheel carries the LICENSE file and says BSD-3-Clause in its metadata (PEP 639)."""
    (info,) = site_dir.glob(f"{dist}-*.dist-info")
    assert (info / "licenses" / "LICENSE").read_bytes() == (REPO / "LICENSE").read_bytes()
    metadata = (info / "METADATA").read_text(encoding="utf-8").splitlines()
    assert "License-Expression: BSD-3-Clause" in metadata and "License-File: LICENSE" in metadata
