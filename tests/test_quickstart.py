"""./quickstart's install step, run for real in a scratch copy of the checkout.

The copy gets its own .venv from nothing (pip's cache makes that a minute or so). The test checks
what a new user gets: the two kernelspecs inside that venv, naming its Python; the frontends; none of
the test tools; a kernel that runs a cell; and a second run that installs nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", "build", "dist",
                              "notebooks", ".pytest_cache", ".hypothesis", "test-artifacts")

pytestmark = [pytest.mark.install, pytest.mark.timeout(400)]


def quickstart(copy: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "JUPYTER_PATH", "JPY_PARENT_PID")}
    env.update(QUICKSTART_NO_RUN="1", PYTHON=sys.executable, HOME=str(copy.parent))
    return subprocess.run([str(copy / "quickstart")], cwd=copy.parent, env=env, capture_output=True,
                          text=True, timeout=360)


def venv_python(copy: Path, code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "JUPYTER_PATH", "JPY_PARENT_PID")}
    return subprocess.run([str(copy / ".venv" / "bin" / "python"), "-c", textwrap.dedent(code)],
                          cwd=copy.parent, env=env, capture_output=True, text=True, timeout=120)


RUN_A_CELL = """
    import json, os, tempfile
    from jupyter_client.manager import KernelManager
    # ipc in a private folder: no tcp port picked before the kernel binds it
    km = KernelManager(kernel_name="pykernel", transport="ipc",
                       ip=os.path.join(tempfile.mkdtemp(), "k"))
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    out = []
    try:
        kc.wait_for_ready(timeout=60)
        kc.execute_interactive("import sys; print(sys.prefix)", timeout=60,
                               output_hook=lambda m: out.append(m["content"].get("text", "")))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    print(json.dumps("".join(out)))
"""


def test_quickstart_installs_what_running_needs_once(tmp_path):
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT, copy, ignore=SKIP)
    first = quickstart(copy)
    assert first.returncode == 0, first.stderr
    venv = copy / ".venv"
    for name in ("pykernel", "bash_pykernel"):
        spec = json.loads((venv / "share/jupyter/kernels" / name / "kernel.json").read_text())
        assert spec["argv"][0] == str(venv / "bin" / "python")
    found = venv_python(copy, """
        import importlib.util, json
        names = ["jupyter_console", "jupyterlab", "notebook", "pykernel_bash", "pytest", "playwright"]
        print(json.dumps({n: importlib.util.find_spec(n) is not None for n in names}))
    """)
    assert json.loads(found.stdout) == {"jupyter_console": True, "jupyterlab": True,
                                        "notebook": True, "pykernel_bash": True,
                                        "pytest": False, "playwright": False}
    ran = venv_python(copy, RUN_A_CELL)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout.splitlines()[-1]).strip() == str(venv)

    second = quickstart(copy)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "quickstart: .venv is up to date"
