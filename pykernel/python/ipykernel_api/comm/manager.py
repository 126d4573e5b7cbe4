"""`ipykernel.comm.manager`: the comm manager class with ipykernel's constructor.

The kernel's own manager is `get_ipython().kernel.comm_manager`; this class is for code that makes a
manager of its own, passing ipykernel's keyword arguments (`kernel=`, `parent=`)."""

from __future__ import annotations

from typing import Any

import comm.base_comm


class CommManager(comm.base_comm.CommManager):
    """The `comm` package's manager; `kernel` is kept, other keyword arguments are ignored."""

    def __init__(self, **kwargs: Any):
        super().__init__()
        self.kernel = kwargs.get("kernel")


__all__ = ["CommManager"]
