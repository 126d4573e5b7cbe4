"""The Python kernel: IPython's shell on the pykernel core.

Theory of operation
- The core (pykernel/kernel.py) owns the protocol: dispatch, busy/idle, the execution count, stdin,
  interrupts. This class only implements the language hooks, with IPython doing the language work:
  `do_execute` is `run_cell`, completion/inspection/history come from IPython (introspect.py).
- Execution count: the core's count is the truth. Before each cell, IPython's `execution_count` is set
  so that `run_cell` uses the core's number (IPython adds one itself when it stores history).
- Output: sys.stdout / sys.stderr publish through the core's coalescer (stdio.py), and fds 1 and 2
  are captured (fdcapture.py); results, displays and errors publish from the shell's hooks
  (shell.py). All of it takes its parent from `router` (routing.py): the request in context,
  with threads of finished cells writing into the running one. Before a reply, the fd capture is
  drained, so a cell's output is published before its `idle`; before anything else is published,
  fd output written earlier goes out first (`publish_stream` / `publish`, FdCapture.before_text).
  sys.__stdout__ / sys.__stderr__ are those same streams (as in ipykernel), so undoing a redirect
  keeps the output.
- Libraries that look for ipykernel find pykernel under that name (dropin.py): the shell's class is
  `ipykernel.zmqshell.ZMQInteractiveShell`, and this class offers ipykernel's kernel API.
- `exit` / `quit`: the reply carries an `ask_exit` payload; then the process ends (`exit_wait`).
- Startup imports only what a first `pass` needs: no jedi, matplotlib, asyncio or debugpy. matplotlib
  is wired up lazily through MPLBACKEND, which makes matplotlib load the inline backend when the user
  first plots. jedi is loaded in the background once the first cell has run (warmup.py).
"""

from __future__ import annotations

import glob
import logging
import os
import sys
import threading
from typing import Any

from IPython.core.completer import IPCompleter
from IPython.core.error import StdinNotImplementedError
from IPython.core.history import HistoryManager
from IPython.core.profiledir import ProfileDir
from IPython.paths import get_ipython_dir
from traitlets import Bool, Float, List, Unicode

from .. import __version__, kernelspec
from ..comms import Comms
from ..kernel import Execution, Kernel, Request, error_content
from ..wire import Message
from . import dropin, fdcapture, introspect, routing, stdio, warmup
from .debugger import Debugger
from .shell import PythonShell

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"

# What fd output written before must precede (status, execute_input and comms need not wait)
_OUTPUT = frozenset({"display_data", "update_display_data", "clear_output", "execute_result",
                     "error"})

log = logging.getLogger("pykernel")


class PythonKernel(Kernel, dropin.KernelAPI):
    """A Jupyter kernel for Python, running code in an IPython shell."""

    kernel_name = "pykernel"
    display_name = "Python 3 (pykernel)"
    kernel_module = "pykernel"
    logo_dir = kernelspec.resource_dir()
    implementation = "pykernel"
    implementation_version = __version__
    language_info = {
        "name": "python",
        "version": sys.version.split()[0],
        "mimetype": "text/x-python",
        "codemirror_mode": {"name": "ipython", "version": 3},
        "pygments_lexer": "ipython3",
        "nbconvert_exporter": "python",
        "file_extension": ".py",
    }
    help_links = [
        {"text": "Python Reference", "url": "https://docs.python.org/%d.%d" % sys.version_info[:2]},
        {"text": "IPython Reference", "url": "https://ipython.readthedocs.io/en/stable/"},
        {"text": "NumPy Reference", "url": "https://numpy.org/doc/stable/reference/"},
        {"text": "SciPy Reference", "url": "https://docs.scipy.org/doc/scipy/reference/"},
        {"text": "Matplotlib Reference", "url": "https://matplotlib.org/stable/"},
        {"text": "pandas Reference", "url": "https://pandas.pydata.org/docs/"},
    ]

    capture_fd_output = Bool(True, help="Publish what is written to file descriptors 1 and 2 "
                             "(child processes, C extensions), not only sys.stdout/stderr."
                             ).tag(config=True)
    profile = Unicode("default", help="The IPython profile (~/.ipython/profile_NAME) whose config "
                      "files and startup files are used.").tag(config=True)
    profile_config = Bool(True, help="Read the profile's ipython_config.py and "
                          "ipython_kernel_config.py, as IPython kernels do (pykernel's own config "
                          "and the command line win over them).").tag(config=True)
    exec_lines = List(Unicode(), help="Lines of code to run at start, after the startup files "
                      "(InteractiveShellApp.exec_lines in profile config count too)."
                      ).tag(config=True)
    extensions = List(Unicode(), help="IPython extensions to load at start "
                      "(InteractiveShellApp.extensions in profile config count too)."
                      ).tag(config=True)
    exit_wait = Float(2.0, help="After `exit` / `quit`: seconds to wait for the frontend's "
                      "shutdown_request before the process ends by itself.").tag(config=True)

    fd_capture: "fdcapture.FdCapture | None" = None

    def __init__(self, user_module: Any = None, user_ns: dict | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.router = routing.Router()
        self._exit_msg: Message | None = None
        os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
        profile_dir = ProfileDir.create_profile_dir_by_name(get_ipython_dir(), self.profile)
        if self.profile_config:
            self._load_profile_config(profile_dir.location)
        shell_class = dropin.install(self)  # libraries find "ipykernel" (see dropin.py)
        self.shell = shell_class.instance(parent=self, kernel=self, profile_dir=profile_dir,
                                          user_module=user_module, user_ns=user_ns)
        self.banner = self.shell.banner
        self.comms = Comms(self)
        self.comms.install()
        self.fd_capture = self._capture_fds() if self.capture_fd_output else None
        sys.stdout = stdio.OutStream(self, "stdout", self.router.parent, fd=1)
        sys.stderr = stdio.OutStream(self, "stderr", self.router.parent, fd=2)
        # `sys.stdout = sys.__stdout__` (undoing a redirect) must keep output in the notebook
        sys.__stdout__, sys.__stderr__ = sys.stdout, sys.stderr
        routing.carry_request_into_threads()
        stdio.install_input(self, StdinNotImplementedError)
        self.debugger = Debugger.for_shell(self, self.shell)  # before any user code runs
        # The launcher keeps the working directory off sys.path so that nothing there replaces the
        # kernel's own imports (kernelspec.launcher_argv). User code expects it, as in `python` or
        # IPython: `import helper` finds helper.py beside the notebook. '' follows %cd.
        if "" not in sys.path:
            sys.path.insert(0, "")
        self._run_startup()
        self.activity = warmup.Activity()
        self.warmup = warmup.Warmup(self.shell, self.activity, self.stopping)

    def _capture_fds(self) -> "fdcapture.FdCapture | None":
        try:
            return fdcapture.FdCapture(self, self._fallback_parent)
        except OSError:
            log.exception("fds 1 and 2 are not captured: output of child processes and C code "
                          "goes to the kernel's log")
            return None

    def start(self) -> None:
        self.warmup.start()
        super().start()

    def drain_fds(self) -> None:
        """Publish what was written to fds 1 and 2 so far, before the output about to be published."""
        if self.fd_capture is not None:
            self.fd_capture.drain()

    # Program order between fds 1/2 and everything else: whatever is published goes out after
    # what was written to the fds before it (cheap when nothing was; see FdCapture.before_text).

    def publish_stream(self, name: str, text: str, parent: dict | None = None) -> None:
        if self.fd_capture is not None:
            self.fd_capture.before_text()
        super().publish_stream(name, text, parent)

    def publish(self, msg_type: str, content: dict, parent: dict | None = None,
                metadata: dict | None = None, buffers: list | None = None) -> None:
        if self.fd_capture is not None and msg_type in _OUTPUT:
            self.fd_capture.before_text()
        super().publish(msg_type, content, parent, metadata, buffers)

    def _fallback_parent(self) -> dict:
        return self.router.last

    def parent_header(self) -> dict:
        """The parent for output published now in this context (routing.py's rule)."""
        return self.router.parent()

    @property
    def comm_manager(self):
        """The comm manager (for libraries that look for it on the kernel)."""
        return self.comms.manager

    @classmethod
    def configurables(cls) -> list[type]:
        return [PythonShell, HistoryManager, IPCompleter]

    # ---- startup -------------------------------------------------------------------------------------

    def _load_profile_config(self, location: str) -> None:
        from traitlets.config.loader import Config, ConfigFileNotFound, PyFileConfigLoader

        merged = Config()
        for name in ("ipython_config.py", "ipython_kernel_config.py"):
            try:
                merged.merge(PyFileConfigLoader(name, path=location, log=log).load_config())
            except ConfigFileNotFound:
                pass
            except Exception:
                log.exception("could not read %s in %s", name, location)
        if merged:
            merged.merge(self.config)  # ours win
            self.config = merged

    def _app_config_list(self, name: str) -> list:
        """`name` (exec_lines, extensions) from IPython's app sections of the config."""
        out: list = []
        for section in ("InteractiveShellApp", "IPKernelApp"):
            value = self.config.get(section, {}).get(name, [])
            if hasattr(value, "get_value"):  # `c.InteractiveShellApp.extensions.append(...)`
                value = value.get_value([])
            out.extend(value)
        return out

    def _run_startup(self) -> None:
        shell = self.shell
        for name in [*self._app_config_list("extensions"), *self.extensions]:
            try:
                shell.extension_manager.load_extension(name)
            except Exception:
                shell.showtraceback()
        startup_dir = shell.profile_dir.startup_dir
        for path in sorted(glob.glob(os.path.join(startup_dir, "*.py")) +
                           glob.glob(os.path.join(startup_dir, "*.ipy"))):
            if path.endswith(".ipy"):
                shell.safe_run_script(path)
            else:
                shell.safe_execfile(path, shell.user_ns)
        for line in [*self._app_config_list("exec_lines"), *self.exec_lines]:
            shell.run_cell(line, store_history=False)

    # ---- language hooks -----------------------------------------------------------------------------

    def do_execute(self, ex: Execution) -> dict:
        shell = self.shell
        # IPython numbers the cell with its own count and adds one when it stores history.
        count = ex.execution_count + (0 if ex.store_history else 1)
        if shell.execution_count != count:
            shell.execution_count = count
        self.router.begin(ex.request)
        try:
            result = shell.run_cell(ex.code, store_history=ex.store_history, silent=ex.silent,
                                    cell_id=ex.cell_id)
        finally:
            self.drain_fds()
            self.router.end(ex.request)
        payload = shell.payload_manager.read_payload()
        if payload:
            shell.payload_manager.clear_payload()
        if result.success and not shell._traceback_in_displayhook:
            reply = {"status": "ok", "payload": payload,
                     "user_expressions": shell.user_expressions(ex.user_expressions)
                     if ex.user_expressions else {}}
        else:
            err = result.error_before_exec or result.error_in_exec
            reply = error_content(type(err).__name__ if err is not None else "Error",
                                  str(err) if err is not None else "",
                                  shell._last_traceback or [])
            reply["payload"] = payload
            reply["user_expressions"] = {}
        return reply

    # The handlers that run user code on the main thread take the asyncio loop back from the idle
    # thread first, and hand it over again after (loop.py).

    def execute_request(self, req: Request) -> None:
        self._with_loop_paused(super().execute_request, req)
        if self.shell.exit_now:  # `exit`: the reply carries an `ask_exit` payload
            self.shell.exit_now = False
            self._exit_msg = req.msg

    def dispatch(self, msg: Message, channel: str, shell: Any = None) -> None:
        if self._exit_msg is not None and channel == "shell":
            return  # the kernel is ending after `exit`: nothing more runs
        self.activity.begin()  # the jedi warm-up waits while requests are handled (warmup.py)
        try:
            super().dispatch(msg, channel, shell)
        finally:
            self.activity.end(msg.msg_type == "execute_request")
        if self._exit_msg is msg:
            self._end_after_exit()

    def _end_after_exit(self) -> None:
        """After `exit`, once its reply and `idle` are out, the process ends, as ipykernel's does,
        so the frontend starts a fresh kernel. A frontend that acts on `ask_exit` (jupyter console)
        reads the reply and sends shutdown_request; one that does not (JupyterLab) finds the
        process gone after `exit_wait` seconds and restarts it."""
        log.info("exit: the kernel ends")
        self.stopping.wait(self.exit_wait)
        self.stop()

    def comm_open(self, req: Request) -> None:
        self._with_loop_paused(super().comm_open, req)

    def comm_msg(self, req: Request) -> None:
        self._with_loop_paused(super().comm_msg, req)

    def comm_close(self, req: Request) -> None:
        self._with_loop_paused(super().comm_close, req)

    def _with_loop_paused(self, handler, req: Request) -> None:
        runner = self.shell.loop_runner
        if threading.current_thread() is not threading.main_thread():
            handler(req)
            return
        runner.pause()
        try:
            handler(req)
        finally:
            runner.resume()

    def do_complete(self, code: str, cursor_pos: int) -> dict:
        with self.warmup.lock:  # after a warm-up step under way, if any
            self.warmup.done = True
            return introspect.complete(self.shell, code, cursor_pos)

    def do_inspect(self, code: str, cursor_pos: int, detail_level: int) -> dict:
        return introspect.inspect(self.shell, code, cursor_pos, detail_level)

    def do_history(self, hist_access_type: str, content: dict) -> list:
        return introspect.history(self.shell, hist_access_type, content)

    def do_is_complete(self, code: str) -> dict:
        return introspect.is_complete(self.shell, code)

    def supported_features(self) -> list[str]:
        features = super().supported_features()
        return [*features, "debugger"] if Debugger.available() else features

    @classmethod
    def kernelspec_metadata(cls) -> dict:
        metadata = super().kernelspec_metadata()
        return {**metadata, "debugger": True} if Debugger.available() else metadata

    def do_debug(self, request: dict) -> dict:
        return self.debugger.handle(request)

    def do_shutdown(self, restart: bool) -> None:
        self.debugger.close()  # code stopped at a breakpoint runs on, so the kernel can stop

    def cleanup(self) -> None:
        # IPython ends its history session itself, at interpreter exit.
        self.debugger.close()  # also when stopped by `exit` or SIGTERM: removes the dumped cells
        if self.fd_capture is not None:
            sys.stdout.flush()
            self.fd_capture.close()
