"""`ipykernel.comm.comm`: the comm classes with ipykernel's constructor, published through pykernel.

A comm made here is a pykernel comm (pykernel/comms.py): opening it publishes `comm_open` with the
running request as parent, and it is registered with the kernel's comm manager
(`get_ipython().kernel.comm_manager`, the same one `comm.get_comm_manager()` returns), so the
frontend's messages reach its handlers.
"""

from __future__ import annotations

from typing import Any

from pykernel.comms import Comm as _KernelComm
from pykernel.python.dropin import running_kernel


class BaseComm(_KernelComm):
    """A comm of the running kernel, or of the kernel given as `kernel=` (anything with pykernel's
    `publish`)."""

    def __init__(self, *args: Any, kernel: Any = None, **kwargs: Any):
        # set before the base class opens the comm, which publishes through it
        self.kernel = kernel if hasattr(kernel, "publish") else running_kernel()
        super().__init__(*args, **kwargs)


class Comm(BaseComm):
    """`Comm(target_name, data, metadata, buffers, comm_id=..., primary=...)` as in ipykernel: a
    primary comm (the default) is opened at once."""

    def __init__(self, target_name: str = "", data: dict | None = None,
                 metadata: dict | None = None, buffers: list | None = None,
                 show_warning: bool = True, **kwargs: Any):
        super().__init__(target_name=target_name or "comm", data=data, metadata=metadata,
                         buffers=buffers, **kwargs)


__all__ = ["BaseComm", "Comm"]
