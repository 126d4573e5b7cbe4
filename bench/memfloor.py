"""The memory floor of an IPython kernel: what the parts every one of them loads cost by themselves.

`python bench/memfloor.py [N]` runs, in a fresh interpreter of bench/.venv, what the RSS step of the
benchmark has a kernel do, without any kernel: import zmq, make an IPython InteractiveShell, run N
`pass` cells, one jedi completion of `import o` and one inspection of `print` (which loads pygments).
It prints the RSS after each stage. A kernel built on these parts cannot use less than the last
figure; bench/RESULTS.md sets kernels' RSS beside it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

STAGES = """
import sys, warnings
def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
print(f"python started          {rss():6.1f} MB")
import zmq
print(f"import zmq              {rss():6.1f} MB")
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.completer import provisionalcompleter
shell = InteractiveShell.instance()
print(f"IPython shell           {rss():6.1f} MB")
for _ in range(N):
    shell.run_cell("pass", store_history=True)
print(f"{N} cells".ljust(24) + f"{rss():6.1f} MB")
with provisionalcompleter():
    list(shell.Completer.completions("import o", 8))
print(f"jedi completion         {rss():6.1f} MB")
shell.object_inspect_mime("print")
print(f"inspection              {rss():6.1f} MB")
"""


def main(argv: list[str]) -> int:
    n = int(argv[1]) if len(argv) > 1 else 2000
    venv_python = Path(__file__).resolve().parent / ".venv" / "bin" / "python"
    python = str(venv_python) if venv_python.exists() else sys.executable
    return subprocess.run([python, "-W", "ignore", "-c", f"N = {n}\n{STAGES}"]).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
