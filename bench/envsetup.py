"""Builds the benchmark's own environment, bench/.venv, with every kernel it compares.

Theory: the kernels under test must not depend on whatever the user has installed, and installing them
must not touch the user's other kernels. So everything goes into one venv beside this file: the peers
from PyPI, pykernel itself (editable), and a kernelspec for each, written into the venv's own data
directory (`<venv>/share/jupyter/kernels`, what `--sys-prefix` means to every Jupyter installer). The
runner later searches only that directory.

Each step is attempted on its own and its outcome recorded in `<venv>/bench-setup.json`, so a peer that
fails to install is reported, not fatal. The install commands are the ones each project documents:
  ipykernel       `python -m ipykernel install --sys-prefix`       -> spec "python3"
  xeus-python     ships its spec as wheel data                     -> spec "xpython"
  akernel[subprocess]  `akernel install` (writes under sys.prefix) -> spec "akernel"
  async-kernel    `async-kernel install` (sys.prefix by default)   -> spec "async"
  bash_kernel     `python -m bash_kernel.install --sys-prefix`     -> spec "bash"
  pykernel        `pip install -e .`, `python -m pykernel install --sys-prefix`  -> spec "pykernel"
  pykernel-bash   `pip install --no-deps -e examples/bash_kernel` (its one dependency, pykernel, is
                  the editable install above; never one fetched from PyPI),
                  `python -m pykernel_bash install --sys-prefix` -> spec "bash_pykernel"
  floor           written here, argv = venv python + bench/floor.py  -> spec "floor"
  pykernel core   written here when pykernel installed, argv = venv python + bench/core_kernel.py
                                                                   -> spec "bench-core"
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENV = BENCH / ".venv"
PYTHON = VENV / "bin" / "python"
KERNELS_DIR = VENV / "share" / "jupyter" / "kernels"
MANIFEST = VENV / "bench-setup.json"

# akernel's launcher (`akernel launch`, process mode) needs its "subprocess" extra: cyclopts, zmq-anyio.
PEERS = ["ipykernel>=7,<8", "xeus-python", "akernel[subprocess]", "async-kernel", "bash_kernel"]
SPEC_COMMANDS = {
    "python3": [str(PYTHON), "-m", "ipykernel", "install", "--sys-prefix"],
    "akernel": [str(VENV / "bin" / "akernel"), "install"],
    "async": [str(VENV / "bin" / "async-kernel"), "install"],
    "bash": [str(PYTHON), "-m", "bash_kernel.install", "--sys-prefix"],
    "pykernel": [str(PYTHON), "-m", "pykernel", "install", "--sys-prefix"],
    "bash_pykernel": [str(PYTHON), "-m", "pykernel_bash", "install", "--sys-prefix"],
}
# Distributions whose version is reported beside the results.
DISTRIBUTIONS = ["pykernel", "pykernel-bash", "ipykernel", "ipython", "xeus-python", "akernel",
                 "async-kernel", "bash_kernel", "pyzmq", "jupyter_client"]


def run(cmd: list[str], log: list[dict], timeout: float = 900) -> bool:
    """Run one step, echo it, and record its outcome (with the tail of its output on failure)."""
    print("$", " ".join(cmd), flush=True)
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
        ok, out = p.returncode == 0, (p.stdout + p.stderr)
    except (OSError, subprocess.TimeoutExpired) as e:
        ok, out = False, str(e)
    log.append({"cmd": cmd, "ok": ok, "seconds": round(time.monotonic() - t0, 1),
                "tail": "" if ok else out.strip()[-2000:]})
    if not ok:
        print(out.strip()[-2000:], file=sys.stderr)
    return ok


def has_project(path: Path) -> bool:
    return (path / "pyproject.toml").exists() or (path / "setup.py").exists()


def write_bench_spec(name: str, script: str, display_name: str) -> None:
    """A kernelspec for one of the bench's own kernels, run by the venv's Python."""
    d = KERNELS_DIR / name
    d.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [str(PYTHON), str(BENCH / script), "-f", "{connection_file}"],
            "display_name": display_name, "language": "python", "interrupt_mode": "message"}
    (d / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")


def install_peers(log: list[dict]) -> None:
    pip = [str(PYTHON), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if not run(pip + PEERS, log):
        for peer in PEERS:  # one bad peer must not keep the others out
            run(pip + [peer], log)


def install_own(log: list[dict]) -> set:
    """Editable installs of pykernel and its bash kernel; the names of those that installed."""
    pip = [str(PYTHON), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    done = set()
    for name, path, extra in (("pykernel", REPO, []),
                              ("bash_pykernel", REPO / "examples" / "bash_kernel", ["--no-deps"])):
        if "pykernel" not in done and name == "bash_pykernel":
            log.append({"cmd": ["pip", "install", "-e", str(path)], "ok": False, "seconds": 0,
                        "tail": "skipped: it needs pykernel, which did not install"})
        elif not has_project(path):
            log.append({"cmd": ["pip", "install", "-e", str(path)], "ok": False, "seconds": 0,
                        "tail": f"{path} has no pyproject.toml or setup.py yet: {name} not installed"})
        elif run(pip + extra + ["-e", str(path)], log):
            done.add(name)
    return done


def install_specs(log: list[dict], own: set) -> None:
    for name, cmd in SPEC_COMMANDS.items():
        if name in ("pykernel", "bash_pykernel") and name not in own:
            continue
        if Path(cmd[0]).exists():
            run(cmd, log)
    write_bench_spec("floor", "floor.py", "Protocol floor (bench)")
    if "pykernel" in own:
        write_bench_spec("bench-core", "core_kernel.py", "pykernel core, no language (bench)")


def versions() -> dict:
    code = ("import json, importlib.metadata as m, sys\n"
            "out = {'python': sys.version.split()[0]}\n"
            f"for d in {DISTRIBUTIONS!r}:\n"
            "    try: out[d] = m.version(d)\n"
            "    except m.PackageNotFoundError: out[d] = None\n"
            "print(json.dumps(out))")
    p = subprocess.run([str(PYTHON), "-c", code], capture_output=True, text=True)
    return json.loads(p.stdout) if p.returncode == 0 else {}


def setup() -> int:
    """Create or update bench/.venv; print what worked. Returns a process exit code."""
    log: list[dict] = []
    if not PYTHON.exists():
        run([sys.executable, "-m", "venv", str(VENV)], log)
    if not PYTHON.exists():
        print("could not create", VENV, file=sys.stderr)
        return 1
    (VENV / ".gitignore").write_text("*\n")
    install_peers(log)
    install_specs(log, install_own(log))
    specs = sorted(p.parent.name for p in KERNELS_DIR.glob("*/kernel.json"))
    manifest = {"steps": log, "kernelspecs": specs, "versions": versions(),
                "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n")
    print("\nkernelspecs in", KERNELS_DIR, ":", ", ".join(specs))
    for step in log:
        if not step["ok"]:
            print("FAILED:", " ".join(step["cmd"]), "--", step["tail"].splitlines()[-1:] or "")
    return 0
