"""Side-by-side benchmark of Jupyter kernels: `python bench/run.py [--setup] [--quick] [--kernels a,b]`.

Theory: the command line only. A run ends by printing a short summary (targets, headline ratios);
the full tables go to `--out` (bench/last-run.md unless told). Kernels run with bench/.venv's
interpreter and only that venv's kernelspecs are searched, so the user's own kernels are neither
used nor touched; the runner re-executes itself under that interpreter before importing anything
that needs pyzmq, so the client and the kernels share one Python and one pyzmq. `--setup` builds the venv (envsetup.py); rounds.py runs the
measurements; report.py writes the tables. Before measuring, the project's own sources are
byte-compiled: its editable install has no bytecode, where an installed package does (pip compiles
at install), and where PYTHONDONTWRITEBYTECODE is set every launch would compile them again.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable as a package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import envsetup  # noqa: E402  (stdlib only: safe before the re-exec)

LAST_RUN = Path(__file__).resolve().parent / "last-run.md"


def reexec_in_venv(argv: list) -> None:
    """Run under bench/.venv's interpreter, so client and kernels share one pyzmq and Python."""
    if envsetup.PYTHON.exists() and Path(sys.prefix).resolve() != envsetup.VENV.resolve():
        env = dict(os.environ, BENCH_COMMAND=shlex.join(["python", *argv]))
        os.execve(str(envsetup.PYTHON), [str(envsetup.PYTHON), str(Path(__file__).resolve()), *argv[1:]],
                  env)


def main(argv: list | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    ap = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n")[0])
    ap.add_argument("--setup", action="store_true", help="create bench/.venv with every kernel, then exit")
    ap.add_argument("--quick", action="store_true", help="fewer rounds and smaller N (about 3 minutes)")
    ap.add_argument("--kernels", help="comma-separated labels or kernelspec names (default: all)")
    ap.add_argument("--out", default=str(LAST_RUN),
                    help="write the full Markdown report to this file (default: bench/last-run.md; "
                         "bench/RESULTS.md for the results of record)")
    ap.add_argument("--json", help="write the raw figures to this file")
    args = ap.parse_args(argv[1:])
    if args.setup:
        return envsetup.setup()
    reexec_in_venv(argv)
    if not envsetup.PYTHON.exists():
        print("bench/.venv does not exist: run `python bench/run.py --setup` first", file=sys.stderr)
        return 1
    import compileall

    from bench import report, rounds

    for package in (envsetup.REPO / "pykernel", envsetup.REPO / "examples/bash_kernel/pykernel_bash"):
        compileall.compile_dir(str(package), quiet=1)

    # end like Ctrl-C, so every launched kernel's process group is shut down on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    command = os.environ.get("BENCH_COMMAND") or shlex.join(["python", *argv])
    source = report.source_state(envsetup.REPO)
    t0 = time.monotonic()
    plan = rounds.QUICK if args.quick else rounds.FULL
    results = rounds.run(rounds.select(args.kernels), plan, [envsetup.KERNELS_DIR], str(envsetup.PYTHON),
                         str(envsetup.VENV / "bin"))
    meta = report.context(command, time.monotonic() - t0, envsetup.MANIFEST, source)
    text = report.markdown(results, meta, rounds.REFERENCE)
    report.write(Path(args.out), text)
    # the terminal gets the short summary; the tables are in the file
    print(report.summary(results, rounds.REFERENCE, args.out))
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
