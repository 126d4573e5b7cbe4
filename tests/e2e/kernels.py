"""Which kernels and tools the frontend tests can use, and how a test says it cannot run.

Shared by the browser tests here and the console / nbconvert / papermill tests beside this folder.
The Python and echo kernelspecs come from tests/conftest.py. The bash kernel lives in
examples/bash_kernel and installs its own kernelspec; when none named `bash_pykernel` is visible, it
is installed into the private test Jupyter path with the kernel's own `install --prefix` command.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASH = "bash_pykernel"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def cannot_run(reason: str) -> None:
    """Skip with `reason`; in CI fail instead, unless PYKERNEL_SKIP_BROWSER=1 says skipping is meant."""
    if os.environ.get("PYKERNEL_SKIP_BROWSER") == "1":
        pytest.skip(f"{reason} (PYKERNEL_SKIP_BROWSER=1)")
    if in_ci():
        pytest.fail(f"{reason}; CI must run the frontend tests (set PYKERNEL_SKIP_BROWSER=1 to skip "
                    "them on purpose)", pytrace=False)
    pytest.skip(reason)


def kernelspec_names() -> set[str]:
    from jupyter_client.kernelspec import KernelSpecManager

    return set(KernelSpecManager().find_kernel_specs())


def install_bash_kernelspec(jupyter_path: Path) -> str | None:
    """Make `bash_pykernel` findable; None when it is, else why it is not.

    A checkout without examples/bash_kernel gives a reason to skip; one that has it but cannot
    install the spec gives a reason starting with "broken:" (a test fails on it). When the package
    is not pip-installed, the kernel runs from the source tree (PYTHONPATH in its spec's env).
    """
    if BASH in kernelspec_names():
        return None
    source = ROOT / "examples" / "bash_kernel"
    if not (source / "pykernel_bash").is_dir():
        return "the bash kernel (examples/bash_kernel) is not in this checkout"
    env = dict(os.environ)
    if importlib.util.find_spec("pykernel_bash") is None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), str(source),
                                                          os.environ.get("PYTHONPATH")]))
    prefix = Path(tempfile.mkdtemp(prefix="pykernel-bash-spec-"))
    try:
        run = subprocess.run([sys.executable, "-m", "pykernel_bash", "install", "--prefix", str(prefix)],
                             capture_output=True, text=True, timeout=60, env=env)
        made = prefix / "share" / "jupyter" / "kernels" / BASH
        if run.returncode or not (made / "kernel.json").is_file():
            return (f"broken: `python -m pykernel_bash install --prefix` exited {run.returncode} "
                    f"without writing kernels/{BASH}: {run.stderr.strip()[-500:]}")
        target = jupyter_path / "kernels" / BASH
        shutil.copytree(made, target, dirs_exist_ok=True)
        if "PYTHONPATH" in env:
            spec = json.loads((target / "kernel.json").read_text())
            spec.setdefault("env", {})["PYTHONPATH"] = env["PYTHONPATH"]
            (target / "kernel.json").write_text(json.dumps(spec, indent=1))
    finally:
        shutil.rmtree(prefix, ignore_errors=True)
    return None if BASH in kernelspec_names() else f"broken: kernelspec {BASH} still not found"


def require_bash(reason: str | None) -> str:
    """The bash kernelspec's name, or skip (kernel absent) / fail (kernel present but broken)."""
    if reason is None:
        return BASH
    if reason.startswith("broken:"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
