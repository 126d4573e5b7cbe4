"""The installed kernelspec's launcher imports nothing from the folder a frontend was started in.

Each kind of kernel (the Python kernel, the bash kernel, a language built on `launch()`) is installed
with its own `install` subcommand, then started by jupyter_client from a working directory that holds
a broken `pykernel/` package, and broken `json.py` and `zmq.py`, and a broken module named like the
kernel's own: any of them imported instead of the real one would kill the kernel before it replies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager

from corefixtures import execute, kernel_manager, stdout_of
from pykernel.kernelspec import launcher_argv

TESTS = Path(__file__).resolve().parent
BROKEN = 'raise ImportError("imported from the working directory: " + __file__)\n'

#: kernel name -> (module, install arguments beyond --prefix, a cell, its stdout)
KINDS = {
    "pykernel": ("pykernel", [], "import localmod; print(localmod.VALUE)", "beside the notebook\n"),
    "bash_pykernel": ("pykernel_bash", [], "echo $((6 * 7))", "42\n"),
    "calc": ("calc_kernel", ["--env", "PYTHONPATH", str(TESTS)], "print 6 * 7", "42\n"),
}


def shadowing_folder(path: Path, module: str) -> Path:
    for name in ("json", "zmq", module):
        (path / f"{name}.py").write_text(BROKEN)
    (path / "pykernel").mkdir()
    (path / "pykernel" / "__init__.py").write_text(BROKEN)
    # A module of the user's, which the Python kernel's cells must still import from there.
    (path / "localmod.py").write_text('VALUE = "beside the notebook"\n')
    return path


def clean_env(home: Path) -> dict:
    """The environment of a user's frontend: nothing points at the checkout or the tests."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "JPY_PARENT_PID")}
    env["HOME"] = str(home)  # bash reads no rc file of the machine's user
    return env


def install(kind: str, prefix: Path, env: dict) -> Path:
    module, extra, _, _ = KINDS[kind]
    out = subprocess.run([sys.executable, "-m", module, "install", "--prefix", str(prefix), *extra],
                         capture_output=True, text=True, env={**env, "PYTHONPATH": str(TESTS)},
                         cwd=TESTS, timeout=60)
    assert out.returncode == 0, out.stderr
    return prefix / "share" / "jupyter" / "kernels"


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_kernel_started_from_a_shadowing_folder_runs(kind, tmp_path):
    env = clean_env(tmp_path)
    kernels = install(kind, tmp_path / "prefix", env)
    module, _, cell, expected = KINDS[kind]
    cwd = tmp_path / "work"
    cwd.mkdir()
    shadowing_folder(cwd, module)
    km = kernel_manager(kind, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    km.start_kernel(cwd=str(cwd), env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=30)
        reply, msgs = execute(kc, cell)
        assert reply["content"]["status"] == "ok", reply["content"]
        assert stdout_of(msgs) == expected
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def run_from(cwd: Path, argv: list[str]) -> subprocess.CompletedProcess:
    env = clean_env(cwd)
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("version", [(3, 10), (3, 11)])
def test_both_launcher_forms_skip_the_working_directory(version, tmp_path):
    """The 3.10 form (a -c bootstrap) runs on any Python, so both are tested on this one."""
    if version >= (3, 11) and sys.version_info < (3, 11):
        pytest.skip("-P needs Python 3.11")
    shadowing_folder(tmp_path, "pykernel")
    plain = run_from(tmp_path, [sys.executable, "-m", "pykernel", "--help"])
    assert "imported from the working directory" in plain.stderr  # what the launcher avoids
    out = run_from(tmp_path, [*launcher_argv("pykernel", version=version), "--help"])
    assert out.returncode == 0, out.stderr
    assert "install" in out.stdout


def test_the_kernelspec_names_the_launcher(tmp_path):
    kernels = install("pykernel", tmp_path, clean_env(tmp_path))
    spec = json.loads((kernels / "pykernel" / "kernel.json").read_text())
    assert spec["argv"] == [*launcher_argv("pykernel"), "-f", "{connection_file}"]
