"""What `sys.argv[0]` names in a pykernel kernel, as ipykernel's own launcher script is named there.

Libraries recognise a Jupyter kernel by that name (pyviz_comms checks
`sys.argv[0].endswith('ipykernel_launcher.py')`), and argparse in a notebook reports it as the
program, as users know it from ipykernel. Run as a script, it starts pykernel, so re-running
`sys.argv` starts the same kernel again.
"""

import os
import runpy
import sys

if __name__ == "__main__":
    # run as a script, this folder is sys.path[0]: its modules must not shadow top-level names
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    runpy.run_module("pykernel", run_name="__main__", alter_sys=True)
