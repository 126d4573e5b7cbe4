"""`ipykernel.comm`: comms that this kernel publishes (bokeh, pyviz_comms/panel, matplotlib's nbagg
and ipyparallel create them as `ipykernel.comm.Comm`)."""

from .comm import BaseComm, Comm
from .manager import CommManager

__all__ = ["BaseComm", "Comm", "CommManager"]
