"""`ipykernel.zmqshell`: the class of pykernel's shell, named as libraries look for it.

Libraries tell a Jupyter kernel from a terminal by this class: rich by its name
(`ZMQInteractiveShell`), plotly by that name and a module under `ipykernel.`, pandas by `zmq` in
`str(type(get_ipython()))`, tqdm by this module being in `sys.modules`. It is pykernel's
`PythonShell` with nothing added; config for either name applies to it.
"""

from pykernel.python.shell import PythonShell


class ZMQInteractiveShell(PythonShell):
    """The shell pykernel runs code in (`get_ipython()`). Configure it as `PythonShell` or, as
    for ipykernel, `ZMQInteractiveShell`."""


__all__ = ["ZMQInteractiveShell"]
