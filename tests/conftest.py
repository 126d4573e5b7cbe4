"""Test-wide setup: kernelspecs for every kernel under test, in a private Jupyter path.

Every kernel the tests start is found by name through jupyter_client's ordinary kernelspec lookup,
the way a frontend finds it: the specs below are written into a temporary directory that is put first
on JUPYTER_PATH for the whole run. Nothing is installed into the user's or the system's Jupyter dirs.
"""

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

#: name -> (argv before "-f {connection_file}", kernelspec extras; "pythonpath": folders to put first)
KERNELSPECS = {
    "echo": ([sys.executable, str(TESTS / "echo_kernel.py")], {"language": "echo"}),
    "echo-message": ([sys.executable, str(TESTS / "echo_kernel.py")],
                     {"language": "echo", "interrupt_mode": "message"}),
    "echo-curve": ([sys.executable, str(TESTS / "echo_kernel.py")],
                   {"language": "echo", "metadata": {"supported_encryption": ["curve"]}}),
    "pykernel": ([sys.executable, "-m", "pykernel"],
                 {"language": "python", "metadata": {"debugger": True,
                                                     "supported_encryption": ["curve"]}}),
    # as if ipykernel were not installed (it is, in the test environment: jupyter_console needs it)
    "pykernel-without-ipykernel": ([sys.executable, "-m", "pykernel"],
                                   {"language": "python",
                                    "pythonpath": [str(TESTS / "without_ipykernel")]}),
    "pykernel-message": ([sys.executable, "-m", "pykernel"],
                         {"language": "python", "interrupt_mode": "message"}),
    "calc": ([sys.executable, str(TESTS / "calc_kernel.py")], {"language": "calc"}),
    "hooks": ([sys.executable, str(TESTS / "hook_kernel.py")], {"language": "hooks"}),
    "hooks-async": ([sys.executable, str(TESTS / "hook_kernel.py"), "--async-hook"],
                    {"language": "hooks"}),
    "hooks-message": ([sys.executable, str(TESTS / "hook_kernel.py")],
                      {"language": "hooks", "interrupt_mode": "message"}),
    # no rc file of this machine's user takes part
    "bash-pykernel": ([sys.executable, "-m", "pykernel_bash", "--BashKernel.rcfile="],
                      {"language": "bash"}),
}


def write_kernelspecs(root: Path) -> None:
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    for name, (argv, extra) in KERNELSPECS.items():
        extra = dict(extra)
        paths = extra.pop("pythonpath", [])  # folders before the others on the kernel's path
        own_env = {"PYTHONPATH": os.pathsep.join([*paths, env["PYTHONPATH"]])}
        spec = {"argv": [*argv, "-f", "{connection_file}"], "display_name": name, "env": own_env,
                "language": "python", **extra}
        d = root / "kernels" / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "kernel.json").write_text(json.dumps(spec))


def pytest_configure(config):
    root = Path(tempfile.mkdtemp(prefix="pykernel-tests-"))
    write_kernelspecs(root)
    config._pykernel_jupyter_path = root
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(root),
                                                              os.environ.get("JUPYTER_PATH")]))
    # Kernels started by the tests keep their state (history, runtime files) out of the user's home.
    os.environ["JUPYTER_RUNTIME_DIR"] = str(root / "runtime")
    os.environ.setdefault("IPYTHONDIR", str(root / "ipython"))
    # jupyter_core warns about platformdirs on every import unless told which to use.
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")


def pytest_unconfigure(config):
    root = getattr(config, "_pykernel_jupyter_path", None)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def jupyter_path(pytestconfig) -> Path:
    """The private Jupyter data dir holding the test kernelspecs."""
    return pytestconfig._pykernel_jupyter_path


pytest_plugins = [name for name in ("corefixtures", "pyfixtures", "wrapfixtures")
                  if (TESTS / f"{name}.py").exists()]
