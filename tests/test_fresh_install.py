"""Installing from built wheels into a fresh venv, as a user of the published packages would.

The wheels of the project and of examples/bash_kernel are built into a folder that pip is pointed at
(`--find-links`); third-party dependencies come from the index as usual. What this proves: the bash
kernel's dependency resolves to our `jupyter-pykernel` wheel, and pip never even looks up the name
`pykernel` (an unrelated project on PyPI); then the bash kernel and the minimal-kernel example, with
their kernelspecs installed into that venv, each run a cell.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager

from corefixtures import execute, kernel_manager
from packaging_helpers import build_wheel

ROOT = Path(__file__).resolve().parent.parent
OURS = {"jupyter-pykernel", "pykernel-bash"}

pytestmark = [pytest.mark.install, pytest.mark.timeout(300)]


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "JUPYTER_PATH", "JPY_PARENT_PID")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh venv with the bash kernel installed from our wheels; returns its directory."""
    tmp = tmp_path_factory.mktemp("fresh")
    wheels = tmp / "wheels"
    wheels.mkdir()
    build_wheel(ROOT, ["pyproject.toml", "setup.py", "README.md", "LICENSE", "pykernel", "kernelspec"],
                tmp / "src", wheels)
    build_wheel(ROOT / "examples" / "bash_kernel", ["pyproject.toml", "README.md", "LICENSE",
                                                    "pykernel_bash"], tmp / "src", wheels)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    report = tmp / "report.json"
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "--no-input"]
    out = subprocess.run([*pip, "install", "-v", "--find-links", str(wheels), "--report", str(report),
                          "pykernel-bash"], capture_output=True, text=True, env=clean_env(), timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    log = out.stdout + out.stderr
    # pip -v names every index page it reads; the name we publish is looked up, the other never is
    assert "/simple/jupyter-pykernel/" in log
    assert "/simple/pykernel/" not in log, "pip looked up the unrelated 'pykernel' project"
    installed = {item["metadata"]["name"].lower(): item["download_info"]["url"]
                 for item in json.loads(report.read_text())["install"]}
    assert "pykernel" not in installed
    for name in OURS:
        assert installed[name].startswith(wheels.as_uri()), installed[name]
    return venv


def install_spec(venv: Path, module: str, *extra: str) -> None:
    out = subprocess.run([str(venv / "bin" / "python"), "-m", module, "install", "--sys-prefix", *extra],
                         capture_output=True, text=True, env=clean_env(PYTHONPATH=str(ROOT / "examples")),
                         cwd=venv, timeout=60)
    assert out.returncode == 0, out.stderr


def run_cell(venv: Path, name: str, code: str, home: Path) -> tuple[dict, list]:
    kernels = venv / "share" / "jupyter" / "kernels"
    km = kernel_manager(name, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    km.start_kernel(env=clean_env(HOME=str(home)), cwd=str(home))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=30)
        return execute(kc, code)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_the_bash_kernel_runs_from_the_wheels(venv, tmp_path):
    install_spec(venv, "pykernel_bash")
    spec_dir = venv / "share" / "jupyter" / "kernels" / "bash_pykernel"
    assert {"logo-32x32.png", "logo-64x64.png", "logo-svg.svg"} <= set(os.listdir(spec_dir))
    reply, msgs = run_cell(venv, "bash_pykernel", 'echo "$((6 * 7)) $(command -v python)"', tmp_path)
    assert reply["content"]["status"] == "ok"
    [text] = [m["content"]["text"] for m in msgs if m["msg_type"] == "stream"]
    assert text.startswith("42 ")


def test_the_minimal_kernel_runs_on_the_wheel(venv, tmp_path):
    # minimal_kernel.py is a file, not a package: its spec carries PYTHONPATH to find it.
    install_spec(venv, "minimal_kernel", "--env", "PYTHONPATH", str(ROOT / "examples"))
    reply, msgs = run_cell(venv, "sqlite", "SELECT 6 * 7 AS answer;", tmp_path)
    assert reply["content"]["status"] == "ok"
    [result] = [m["content"]["data"] for m in msgs if m["msg_type"] == "execute_result"]
    assert result["text/plain"] == "answer\n42"


def test_the_kernels_import_the_installed_wheel(venv):
    out = subprocess.run([str(venv / "bin" / "python"), "-c", "import pykernel; print(pykernel.__file__)"],
                         capture_output=True, text=True, env=clean_env(), cwd=venv, timeout=60)
    assert out.stdout.startswith(str(venv / "lib")), out.stdout + out.stderr
