"""`embed_kernel`: serve the Python kernel from inside a running program, in its namespace.

Theory of operation
- The kernel is built by the same `KernelApp` as `python -m pykernel` (config files, connection
  file, logging), with the caller's module and local namespace as the shell's namespace, and serves
  on the calling thread until a frontend sends shutdown_request. Then it gives back what it took:
  the signal handlers and wake-up fd, sys.stdout/stderr (and the originals), fds 1 and 2,
  `input`/`getpass`; the connection file it wrote is removed.
- It must run on the main thread: the kernel interrupts running code with SIGINT, and Python runs
  signal handlers only there.
- What stays after it returns: Thread.start and the executor / queue-logging patches of
  routing.py (without a kernel request in context they change nothing), and IPython's history
  database for the session. A shutdown also ends the child processes started meanwhile, as the
  kernel process does.
"""

from __future__ import annotations

import builtins
import getpass
import os
import signal
import sys
import threading
import types
from typing import Any

from ..app import KernelApp
from .kernel import PythonKernel
from .shell import PythonShell

_APP_OPTIONS = ("connection_file", "ip", "transport", "config_file", "config", "log_level")


def embed_kernel(local_ns: dict | None = None, module: Any = None, **options: Any) -> None:
    """Serve a Jupyter kernel in this program until a frontend shuts it down, then return.

    `local_ns` / `module` are the namespace cells run in (by default the caller's locals and its
    module). `options`: `connection_file` (read if it exists, else written there with fresh ports
    and key; by default kernel-<pid>.json in the Jupyter runtime dir), `ip`, `transport`
    (`"tcp"` or `"ipc"`), `config_file`, `config` (a traitlets Config), `log_level`. Attach with
    `jupyter console --existing <connection file>`. Call it from the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("embed_kernel must be called from the main thread (the kernel "
                           "interrupts cells with SIGINT, which only the main thread handles)")
    unknown = set(options) - set(_APP_OPTIONS)
    if unknown:
        raise TypeError(f"embed_kernel: unknown options {sorted(unknown)}")
    caller = sys._getframe(1)
    if local_ns is None:
        local_ns = caller.f_locals
    if module is None:
        module = _module_of(caller.f_globals)
    app = KernelApp(PythonKernel, **options)
    app.watch_parent = False
    existed = bool(app.connection_file) and os.path.exists(app.connection_file)
    saved = _Saved()
    try:
        app.initialize([], user_module=module, user_ns=local_ns)
        app.start()
    finally:
        kernel = getattr(app, "kernel", None)
        if kernel is not None and kernel.exit_timer is not None:
            kernel.exit_timer.cancel()  # the stop did not hang: this process goes on
        saved.restore()
        PythonShell.clear_instance()
        if not existed and app.connection_file and os.path.exists(app.connection_file):
            os.remove(app.connection_file)


def _module_of(f_globals: dict) -> Any:
    module = sys.modules.get(f_globals.get("__name__", ""))
    if module is not None and module.__dict__ is f_globals:
        return module
    module = types.ModuleType(f_globals.get("__name__", "__main__"))
    module.__dict__.update(f_globals)
    return module


class _Saved:
    """What the kernel replaces in the process, taken before it starts and put back after."""

    def __init__(self) -> None:
        self.signals = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        self.wakeup_fd = signal.set_wakeup_fd(-1)
        signal.set_wakeup_fd(self.wakeup_fd)
        self.streams = (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
        self.input, self.getpass = builtins.input, getpass.getpass

    def restore(self) -> None:
        for sig, handler in self.signals.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        signal.set_wakeup_fd(self.wakeup_fd)
        sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__ = self.streams
        builtins.input, getpass.getpass = self.input, self.getpass
