"""Every error path of a kernel's command line, for pykernel and for languages built on `launch()`.

A bad command line must end the process at once with status 2 and a sentence saying what is wrong,
and must neither start a kernel nor write a connection file (the runtime directory stays empty).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from calc_kernel import CalcKernel
from pykernel import cli
from pykernel.app import KernelApp

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
PATHS = os.pathsep.join(map(str, (TESTS, ROOT / "examples")))

#: how each kind of kernel is started by hand
KERNELS = {
    "python": ["-m", "pykernel"],
    "bash": ["-m", "pykernel_bash"],
    "calc": ["-m", "calc_kernel"],
    "minimal": ["-m", "minimal_kernel"],
}

#: argv -> what the error says
BAD = {
    ("instal",): "unknown command 'instal' (did you mean 'install'?)",
    ("-f", "x.json", "start"): "unknown command 'start'",
    ("--nosuch",): "unknown option '--nosuch'",
    ("--debg",): "(did you mean '--debug'?)",
    ("--NoSuchClass.x=1",): "no class 'NoSuchClass'",
    ("--KernelApp.ipp", "1"): "KernelApp has no setting 'ipp' (did you mean 'KernelApp.ip'?)",
    ("--ip",): "option '--ip' needs a value",
}


def run(kind: str, argv, runtime: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "JPY_PARENT_PID"}
    env.update(PYTHONPATH=PATHS, JUPYTER_RUNTIME_DIR=str(runtime), HOME=str(runtime.parent))
    # a kernel that did start would never end by itself: the timeout fails the test
    return subprocess.run([sys.executable, *KERNELS[kind], *argv], capture_output=True, text=True,
                          env=env, cwd=runtime.parent, timeout=30)


@pytest.mark.parametrize("kind", list(KERNELS))
@pytest.mark.parametrize("argv", list(BAD), ids=" ".join)
def test_a_bad_command_line_is_a_usage_error(kind, argv, tmp_path):
    runtime = tmp_path / "runtime"
    out = run(kind, argv, runtime)
    assert out.returncode == 2, out.stderr
    module = KERNELS[kind][1]
    assert f"-m {module}: error: " in out.stderr and BAD[argv] in out.stderr
    assert f"See `{os.path.basename(sys.executable)} -m {module} --help`." in out.stderr
    assert not runtime.exists() or not os.listdir(runtime), "a connection file was written"


@pytest.mark.parametrize("kind", list(KERNELS))
def test_help_lists_the_commands_and_the_kernel_options(kind, tmp_path):
    out = run(kind, ["--help"], tmp_path / "runtime")
    assert out.returncode == 0, out.stderr
    module = KERNELS[kind][1]
    for text in (f"-m {module} install", f"-m {module} uninstall", "-f CONNECTION_FILE",
                 "--ip", "--transport", "--debug", "--config"):
        assert text in out.stdout


def test_the_subcommands_have_their_own_usage_errors(tmp_path):
    out = run("bash", ["install", "--nosuch"], tmp_path / "runtime")
    assert out.returncode == 2 and "unrecognized arguments: --nosuch" in out.stderr


@pytest.mark.parametrize("argv", [
    [],
    ["-f", "k.json", "--debug"],
    ["--f=k.json", "--ip", "127.0.0.2", "--transport=ipc", "--no-parent-watch"],
    ["--connection-file", "k.json", "--log-level", "10", "--config", "c.py"],
    ["--KernelApp.ip", "127.0.0.3", "--CalcKernel.exit_grace=1"],
    ["--Kernel.exit_grace=1", "--Application.log_level=10"],  # a base class's section
])
def test_good_command_lines_pass_the_check(argv):
    app = KernelApp(CalcKernel)
    assert cli.problem(argv, app) is None
