"""pykernel as a drop-in for ipykernel: what code running in the kernel finds when it looks for one.

Why
- Libraries decide "am I in a Jupyter kernel?" by looking for ipykernel, and then call its API:
  tqdm.autonotebook tests `'ipykernel.zmqshell' in sys.modules`; rich that `get_ipython()`'s class
  is named `ZMQInteractiveShell`; plotly that name and a class module starting with `ipykernel.`;
  pandas `'zmq' in str(type(get_ipython()))`; pyviz_comms `sys.argv[0].endswith(
  'ipykernel_launcher.py')`; others `'IPKernelApp' in get_ipython().config`. Then bokeh, panel,
  matplotlib's nbagg and ipyparallel create `ipykernel.comm.Comm`s, and ipyparallel, ipywidgets and
  others call `get_ipython().kernel` (`session.send(kernel.iopub_socket, ...)`, `get_parent()`,
  `comm_manager`). Failing those checks costs users widgets, HTML and live plots.

Design: pykernel answers to the name `ipykernel` itself.
- An import hook (`IpykernelFinder`, first on `sys.meta_path`) loads `ipykernel` from
  pykernel/python/ipykernel_api/: the shell class (`ipykernel.zmqshell`), comms (`ipykernel.comm`)
  and the connection file (`ipykernel.connect`), all working through this kernel. It does so
  whether or not the real ipykernel is installed, so libraries see the same thing either way. The
  real `ipykernel.comm.Comm` could not serve here: it publishes through ipykernel's own kernel
  singleton, which does not exist in this process, and drops every message.
- Code that imports the real ipykernel keeps working: a submodule pykernel does not provide
  (`ipykernel.jsonutil`, `ipykernel.kernelbase`, ...) is loaded from the real package, found through
  the other import hooks, when it is installed, and is missing (ModuleNotFoundError) when it is not.
- The shell's class is `ipykernel.zmqshell.ZMQInteractiveShell`, a subclass of `PythonShell` defined
  in that module; `sys.argv[0]` names pykernel's own `ipykernel_launcher.py` (a real file, which
  starts pykernel); the config has an (empty) `IPKernelApp` section.
- Rejected: importing the real ipykernel and patching it (it loads tornado and jupyter_client,
  several MB and tens of ms at every start, and is absent where ipykernel is not installed);
  renaming pykernel's classes only (tqdm's and the comm users' imports would still fail).

Cost at start-up: this module, `ipykernel` and `ipykernel.zmqshell` are imported (tqdm looks in
sys.modules, before anyone could ask), and nothing else: they import only what is loaded already
(not even importlib.abc, which brings importlib.resources). The real ipykernel is never looked for
until code imports a submodule pykernel does not provide.

Habits kept from ipykernel
- `breakpoint()` and `pdb.set_trace()` start IPython's debugger (`ipdb>`, colours) in its
  interruptible form: an interrupt at its prompt ends the cell. `pdb` is patched when it is first
  imported (the same hook), not at start: importing it costs ~10 ms.
- The kernel's API libraries call on `get_ipython().kernel` is `KernelAPI` below.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import logging
import os
import sys
from typing import Any

from ..kernel import current_request

API_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ipykernel_api")
LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ipykernel_launcher.py")


def running_kernel() -> Any:
    """The kernel whose shell is running (None outside a pykernel process)."""
    from IPython.core.interactiveshell import InteractiveShell

    if not InteractiveShell.initialized():
        return None
    return getattr(InteractiveShell.instance(), "kernel", None)


def install(kernel: Any) -> type:
    """Present pykernel as ipykernel in this process; return the class the shell must have."""
    if not any(isinstance(f, IpykernelFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, IpykernelFinder())
    if "pdb" in sys.modules:
        _patch_pdb()
    sys.breakpointhook = breakpointhook
    if sys.argv:
        sys.argv[0] = LAUNCHER
    if "IPKernelApp" not in kernel.config:
        from traitlets.config import Config

        kernel.config["IPKernelApp"] = Config()
    from ipykernel.zmqshell import ZMQInteractiveShell

    return ZMQInteractiveShell


# Plain classes, not importlib.abc's: that module loads importlib.resources, at every start.
class IpykernelFinder:
    """Finds `ipykernel` (pykernel's) and its submodules (pykernel's, else the real package's);
    patches `pdb` once it is loaded."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None):
        if fullname == "ipykernel":
            return importlib.util.spec_from_file_location(
                fullname, os.path.join(API_DIR, "__init__.py"), submodule_search_locations=[API_DIR])
        if fullname.startswith("ipykernel.") and _ours(path):
            # in a package of pykernel's: its module, never another hook's (an editable install of
            # ipykernel maps these names too); a top-level one pykernel lacks comes from the real one
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            if spec is None and fullname.count(".") == 1:
                spec = importlib.machinery.PathFinder.find_spec(fullname, self._real_path())
            return spec
        if fullname in ("pdb", "IPython.core.debugger"):
            return self._patch_after_loading(fullname, path, target)
        return None  # e.g. in a subpackage of the real ipykernel: found as usual

    def _real_path(self) -> list[str]:
        """Where the real ipykernel's modules are, as the other import hooks find it ([] if not)."""
        spec = self._others_find_spec("ipykernel", None, None)
        return list(spec.submodule_search_locations or []) if spec is not None else []

    def _others_find_spec(self, fullname: str, path: Any, target: Any):
        for finder in list(sys.meta_path):
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            try:
                spec = finder.find_spec(fullname, path, target)
            except ImportError:  # a hook that hides the module: as if it were not installed
                return None
            if spec is not None:
                return spec
        return None

    def _patch_after_loading(self, fullname: str, path: Any, target: Any):
        spec = self._others_find_spec(fullname, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _ThenPatchPdb(spec.loader)
        return spec


def _ours(path: Any) -> bool:
    """Whether a package's `__path__` is in pykernel's ipykernel_api."""
    return bool(path) and all(os.path.abspath(p).startswith(API_DIR) for p in path)


class _ThenPatchPdb:
    """A module's own loader, followed by `_patch_pdb`; everything else is the original's."""

    def __init__(self, loader: Any):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        _patch_pdb()

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename, is_package, ...
        return getattr(self._loader, name)


def _patch_pdb() -> None:
    """Make `pdb.set_trace` and `pdb.Pdb` the kernel's debugger, once both pdb and IPython's
    debugger module are loaded (IPython's imports pdb: whichever finishes last does this)."""
    pdb = sys.modules.get("pdb")
    if pdb is None or getattr(pdb, "set_trace", None) is set_trace:
        return
    debugger = sys.modules.get("IPython.core.debugger")
    if debugger is None:
        import IPython.core.debugger as debugger
    if not hasattr(debugger, "InterruptiblePdb"):
        return  # IPython's module is still being imported; its hook comes back here when done
    pdb.Pdb = debugger_class()
    pdb.set_trace = set_trace


_debugger_class: Any = None


def debugger_class() -> type:
    """IPython's debugger (`ipdb>`, colours), which an interrupt at its prompt stops, together with
    the code it debugs: the cell ends with KeyboardInterrupt. (IPython's own interruptible one
    prints the interrupt and lets the code run on.)"""
    global _debugger_class
    if _debugger_class is None:
        from IPython.core.debugger import InterruptiblePdb

        class KernelPdb(InterruptiblePdb):
            _interrupted = False

            def cmdloop(self, intro: Any = None) -> Any:
                try:
                    return super().cmdloop(intro)
                except KeyboardInterrupt:  # debugging has stopped; IPython would swallow this
                    self._interrupted = True
                    return None

            def interaction(self, frame: Any, tb_or_exc: Any) -> None:
                super().interaction(frame, tb_or_exc)
                if self._interrupted:
                    self._interrupted = False
                    raise KeyboardInterrupt  # raised into the code being debugged

        _debugger_class = KernelPdb
    return _debugger_class


def set_trace(frame: Any = None, header: str | None = None, **kwargs: Any) -> None:
    """`pdb.set_trace()` in the kernel: the kernel's debugger (see `debugger_class`)."""
    debugger = debugger_class()()
    if header is not None:
        debugger.message(header)
    debugger.set_trace(frame or sys._getframe().f_back)


def breakpointhook(*args: Any, **kwargs: Any) -> Any:
    """`breakpoint()`: IPython's debugger, unless $PYTHONBREAKPOINT chooses another (or "0")."""
    if os.environ.get("PYTHONBREAKPOINT"):
        return sys.__breakpointhook__(*args, **kwargs)
    return set_trace(sys._getframe(1), *args, **kwargs)


class _IOPub:
    """`kernel.iopub_socket`: what `kernel.session.send` publishes through (in order with the
    kernel's own output)."""

    def __init__(self, kernel: Any):
        self._kernel = kernel

    def send_multipart(self, frames: list, *args: Any, **kwargs: Any) -> None:
        self._kernel.streams.flush()
        self._kernel.transport.publish(list(frames))


class KernelAPI:
    """What libraries written for ipykernel use on `get_ipython().kernel`, besides `session`
    (`session.send(kernel.iopub_socket, ...)`, `session.session`: see wire.Session), `shell`,
    `comm_manager` and `execution_count`, which the kernel has itself."""

    @property
    def iopub_socket(self) -> _IOPub:
        iopub = self.__dict__.get("_iopub_api")
        if iopub is None:
            iopub = self.__dict__["_iopub_api"] = _IOPub(self)
        return iopub

    def get_parent(self, channel: str | None = None) -> dict:
        """The request being handled in this context, as a message dict; outside any request, the
        last cell run (as ipykernel answers), or {} before the first."""
        req = current_request.get()
        if req is not None:
            msg = req.msg
            return {"header": msg.header, "parent_header": msg.parent_header,
                    "metadata": msg.metadata, "content": msg.content, "msg_id": msg.msg_id,
                    "msg_type": msg.msg_type}
        header = self._fallback_parent()
        if not header:
            return {}
        return {"header": header, "parent_header": {}, "metadata": {}, "content": {},
                "msg_id": header.get("msg_id"), "msg_type": header.get("msg_type")}

    def set_parent(self, *args: Any, **kwargs: Any) -> None:
        """Accepted; output always goes to the request in context (see stdio.py)."""

    def send_response(self, stream: Any, msg_or_type: Any, content: dict | None = None,
                      ident: Any = None, buffers: list | None = None, track: bool = False,
                      header: dict | None = None, metadata: dict | None = None) -> dict:
        """Send a message whose parent is the request in context (`stream`: `iopub_socket`)."""
        return self.session.send(stream, msg_or_type, content, self.get_parent(), ident,
                                 buffers, track, header, metadata)

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger("pykernel")
