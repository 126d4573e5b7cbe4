"""`ipykernel` as pykernel presents it to the code running in the kernel.

In the kernel process this package is loaded under the name `ipykernel` (by the import hook in
pykernel/python/dropin.py, which says why), whether or not the real ipykernel is installed; it is
never imported as `pykernel.python.ipykernel_api`. Its modules offer what libraries call on
ipykernel, working through pykernel:

- `ipykernel.zmqshell.ZMQInteractiveShell`: the class of `get_ipython()`;
- `ipykernel.comm.Comm` / `CommManager`: comms published by this kernel;
- `ipykernel.connect` (also here): this kernel's connection file.

Any other submodule (`ipykernel.jsonutil`, `ipykernel.kernelbase`, ...) is the real ipykernel's when
that is installed, and missing when it is not.
"""

from typing import Any

from pykernel.wire import PROTOCOL_VERSION

#: The ipykernel API level these modules follow. Libraries compare it (ipywidgets uses the `comm`
#: package's comms from 6.18 on), so it is ipykernel's numbering, not pykernel's.
version_info = (7, 0, 0)
__version__ = "7.0.0"
kernel_protocol_version = PROTOCOL_VERSION
#: says who really answers to this name
implementation = "pykernel"

__all__ = ["get_connection_file", "get_connection_info", "version_info", "__version__",
           "kernel_protocol_version"]


def __getattr__(name: str) -> Any:
    # ipykernel's own names from `connect`, loaded when first used: this package is imported at
    # every kernel start
    if name in ("get_connection_file", "get_connection_info"):
        from . import connect

        return getattr(connect, name)
    raise AttributeError(f"module 'ipykernel' has no attribute {name!r}")
