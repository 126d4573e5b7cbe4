"""pykernel's core with a language that does nothing: the core's own cost, set against the floor.

Theory: the floor (floor.py) is Python + pyzmq + the wire format and nothing else; pykernel's Python kernel
adds both the core (threads, dispatch, busy/idle, streams, interrupts) and IPython. This kernel is the
core alone: every execute is accepted and answered "ok" without running anything, so it sends what the
floor sends for an execute (busy, execute_input, execute_reply, idle) and the difference between the
two is what the core costs per request. It is started like any pykernel-based kernel, through
`pykernel.app.launch`, from the pykernel installed in bench/.venv (this repository, editable).
"""

from pykernel.app import launch
from pykernel.kernel import Kernel


class NullKernel(Kernel):
    implementation = "bench-core"
    kernel_name = "bench-core"
    display_name = "pykernel core, no language (bench)"
    language_info = {"name": "python", "mimetype": "text/x-python", "file_extension": ".py"}
    banner = "pykernel's core with a language that runs nothing"

    def do_execute(self, ex):
        return {"status": "ok"}


if __name__ == "__main__":
    launch(NullKernel)
