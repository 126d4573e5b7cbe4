"""Comms (the `comm` package's API) for any language built on the kernel core.

Theory of operation
- `Comms(kernel)` is what the core calls for comm_open / comm_msg / comm_close / comm_info_request
  (`kernel.comms`). It owns one `comm.base_comm.CommManager`, which keeps the comms and the targets
  libraries register (ipywidgets registers `jupyter.widget`).
- `install()` points `comm.create_comm` and `comm.get_comm_manager` at this kernel, so libraries written
  against the `comm` package (ipywidgets, bokeh, plotly...) open comms here. It is called explicitly by
  the kernel that wants comms; importing this module changes nothing.
- `Comm.publish_msg` publishes through `kernel.publish`, so every comm message's parent is the request
  in context: a comm opened by a cell belongs to that cell, a reply to a frontend's comm_msg belongs to
  that comm_msg. Binary buffers travel as extra frames.
- Handlers get the incoming message as the dict shape libraries expect (`header`, `content`,
  `metadata`, `buffers`, ...), as jupyter_client would hand it to them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import comm
from comm.base_comm import BaseComm, CommManager

if TYPE_CHECKING:
    from .kernel import Kernel, Request

log = logging.getLogger("pykernel")


class Comm(BaseComm):
    """A comm whose messages are published by a pykernel kernel."""

    kernel: "Kernel | None" = None  # set on the class by Comms.install

    def publish_msg(self, msg_type: str, data: dict | None = None, metadata: dict | None = None,
                    buffers: list | None = None, **keys: Any) -> None:
        kernel = self.kernel
        if kernel is None:
            return
        content = {"data": {} if data is None else data, "comm_id": self.comm_id, **keys}
        kernel.publish(msg_type, content, metadata=metadata or {},
                       buffers=[_frame(b) for b in buffers] if buffers else None)


def _frame(buf: Any) -> Any:
    """A buffer zmq can send: bytes-like objects as they are, anything else as a memoryview."""
    return buf if isinstance(buf, (bytes, bytearray, memoryview)) else memoryview(buf)


def message_dict(req: "Request") -> dict:
    """The incoming message as a plain dict, the shape comm handlers are written against."""
    msg = req.msg
    return {"header": msg.header, "parent_header": msg.parent_header, "metadata": msg.metadata,
            "content": msg.content, "buffers": msg.buffers, "msg_id": msg.msg_id,
            "msg_type": msg.msg_type}


class Comms:
    """The kernel's comm handling (see the module docstring)."""

    def __init__(self, kernel: "Kernel"):
        self.kernel = kernel
        self.manager = CommManager()

    def install(self) -> None:
        """Make `comm.create_comm()` and `comm.get_comm_manager()` use this kernel."""
        kernel_comm = type("KernelComm", (Comm,), {"kernel": self.kernel})
        self.comm_class = kernel_comm
        comm.create_comm = kernel_comm
        comm.get_comm_manager = lambda: self.manager
        # The comm package logs a frontend's stale messages ("No such comm"): that is the kernel's
        # log, not output for the user's notebook.
        comm_log = logging.getLogger("Comm")
        if not comm_log.handlers and log.handlers:
            comm_log.handlers = list(log.handlers)
            comm_log.propagate = False

    # ---- the core's interface --------------------------------------------------------------------

    def comm_open(self, req: "Request") -> None:
        self.manager.comm_open(None, None, message_dict(req))

    def comm_msg(self, req: "Request") -> None:
        self.manager.comm_msg(None, None, message_dict(req))

    def comm_close(self, req: "Request") -> None:
        self.manager.comm_close(None, None, message_dict(req))

    def comm_info(self, target_name: str | None) -> dict:
        return {comm_id: {"target_name": c.target_name}
                for comm_id, c in list(self.manager.comms.items())
                if target_name is None or c.target_name == target_name}
