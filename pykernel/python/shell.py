"""IPython's InteractiveShell, wired to the kernel: results, displays, errors and payloads.

Theory of operation
- `PythonShell` is an ordinary `InteractiveShell` built with `parent=kernel` (so `--PythonShell.x=y`
  and every IPython class's config reach it) and `kernel=kernel`. It publishes only through the
  kernel's methods (`publish`, `display`, `clear_output`), which take the parent from the request in
  context: nothing here stores a parent header.
- The display hook publishes `execute_result`, the display publisher `display_data` /
  `update_display_data` / `clear_output`, and `_showtraceback` publishes `error` with the exception's
  real name and IPython's colored traceback.
- Payloads (deprecated in the protocol but used by frontends): `obj?` pages (`page`), `set_next_input`,
  and `exit` / `quit` (`ask_exit`) are written to IPython's payload manager; the kernel puts them in
  the execute reply.
- Top-level await runs on `LoopRunner` (loop.py).
- GUI event loops (`%gui qt`, `%matplotlib tk`) are refused, before matplotlib's backend is touched;
  backends drawn by the frontend (inline, `%matplotlib widget`, `%matplotlib notebook`) work.
- The shell's class as libraries see it is `ipykernel.zmqshell.ZMQInteractiveShell`, a subclass
  (dropin.py). `__session__` is the notebook's path when jupyter-server passes it.
- Speed: a cell of plain Python skips IPython's tokenizer pass and its "does this need a loop?"
  compile, the two largest fixed costs of a short cell (`KernelTransformerManager`,
  `should_run_async`); the history database is written after a pause, not inside every request
  (`KernelHistoryManager`).
"""

from __future__ import annotations

import builtins
import os
import re
import threading
import time
from typing import Any

import IPython
from IPython.core import page
from IPython.core.autocall import ZMQExitAutocall
from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.error import UsageError
from IPython.core.history import HistoryManager
from IPython.core.inputtransformer2 import (EscapedCommand, HelpEnd, MagicAssign, SystemAssign,
                                            TransformerManager)
from IPython.core.interactiveshell import InteractiveShell, InteractiveShellABC
from IPython.core.magic import Magics, line_magic, magics_class
from traitlets import Any as AnyTrait
from traitlets import Bool, Float, Instance, Type, default

from ..kernel import current_request
from .debugger import CellCompiler
from .loop import LoopRunner


class KernelDisplayHook(DisplayHook):
    """Publishes the value of a cell's last expression as `execute_result`.

    A cell run with store_history=False shows its result but leaves the output history alone
    (`_`, `Out`, `_N`): such cells are a frontend's own queries and must not replace the user's
    results (IPython would overwrite the previous cell's entries, since both share a number).
    """

    def _storing(self) -> bool:
        result = self.exec_result
        return result is None or result.info.store_history

    def update_user_ns(self, result: Any) -> None:
        if self._storing():
            super().update_user_ns(result)

    def log_output(self, format_dict: dict) -> None:
        if self._storing():
            super().log_output(format_dict)

    # The result being built lives per thread: a subshell's cell can show its result while the
    # main shell's cell shows its own.
    _local = threading.local()

    def start_displayhook(self) -> None:
        super().start_displayhook()
        self._local.content = {"execution_count": self.prompt_count, "data": {}, "metadata": {}}

    def write_output_prompt(self) -> None:
        self._local.content["execution_count"] = self.prompt_count

    def write_format_data(self, format_dict: dict, md_dict: dict | None = None) -> None:
        self._local.content["data"] = format_dict
        self._local.content["metadata"] = md_dict or {}

    def finish_displayhook(self) -> None:
        content = self._local.content
        self._local.content = None
        try:
            if content["data"]:
                self.shell.kernel.publish("execute_result", content)
        finally:
            self._is_active = False


class KernelDisplayPublisher(DisplayPublisher):
    """`display()` and friends: `display_data`, `update_display_data`, `clear_output`."""

    def publish(self, data: dict, metadata: dict | None = None, source: Any = None, *,
                transient: dict | None = None, update: bool = False, **kwargs: Any) -> None:
        self._validate_data(data, metadata)
        self.shell.kernel.publish_display(data, metadata, transient, update)

    def clear_output(self, wait: bool = False) -> None:
        self.shell.kernel.publish_clear_output(wait)


_IPYTHON_TOKEN_TRANSFORMERS = [MagicAssign, SystemAssign, EscapedCommand, HelpEnd]
# What each of those looks for: `%`, `!` or `?` anywhere (magics, shell escapes, help), or a line
# starting with one of IPython's other escapes (`,` `;` `/` autocall). Code without any cannot change.
_MAY_HAVE_ESCAPES = re.compile(r"[%!?]|^[ \t]*[,;/]", re.MULTILINE)


class KernelTransformerManager(TransformerManager):
    """IPython's input transformations, skipping the tokenizer pass for plain Python.

    The token transformers run IPython's pure-Python tokenizer over every cell; it is the largest cost
    in running a short cell. When the transformers are IPython's own and the cell contains none of the
    characters they react to, that pass cannot change the cell and is skipped.
    """

    def do_token_transforms(self, lines: list[str]) -> list[str]:
        if self.token_transformers == _IPYTHON_TOKEN_TRANSFORMERS and \
                not _MAY_HAVE_ESCAPES.search("".join(lines)):
            return lines
        return super().do_token_transforms(lines)


class KernelHistoryManager(HistoryManager):
    """IPython's history, written to its database after a pause rather than after every cell.

    IPython wakes its saving thread for every cell it stores; in a kernel that is a database write
    (and a thread competing for the GIL) inside every request. Here the first cell after a write arms
    a timer, and everything stored until it fires is written at once. Reads (`history_request`, `%hist`)
    always see every cell: they write out the cache first.
    """

    save_delay = Float(1.0, help="Seconds between a cell and the history write that includes it; "
                       "cells that come meanwhile are written together.").tag(config=True)

    def __init__(self, **kwargs: Any):
        self._flush_soon = _Debounce(self._save_now, self.save_delay)
        super().__init__(**kwargs)

    @property
    def save_flag(self) -> "_Debounce | None":  # what IPython sets after storing a cell
        return self._flush_soon if self.save_thread is not None else None

    def _save_now(self) -> None:
        thread = self.save_thread
        if thread is not None:
            thread.save_flag.set()


class _Debounce:
    """`set()` asks for `action` to run `delay` seconds later; calls meanwhile join that run."""

    def __init__(self, action: Any, delay: float):
        self._action, self._delay = action, delay
        self._wanted = threading.Event()
        self._thread: threading.Thread | None = None

    def set(self) -> None:
        if self._wanted.is_set():
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pykernel-history", daemon=True)
            self._thread.start()
        self._wanted.set()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            time.sleep(self._delay)
            self._wanted.clear()
            self._action()


@magics_class
class KernelMagics(Magics):
    """Magics that only make sense in a kernel."""

    @line_magic
    def clear(self, arg_s: str) -> None:
        """Clear the output of the current cell."""
        self.shell.kernel.publish_clear_output()

    @line_magic
    def less(self, arg_s: str) -> None:
        """Show a file in the frontend's pager: %less FILE"""
        if not arg_s:
            raise UsageError("Missing filename.")
        with open(os.path.expanduser(arg_s)) as f:
            page.page(f.read())

    more = line_magic("more")(less)

    @line_magic
    def man(self, arg_s: str) -> None:
        """Show a man page in the frontend's pager: %man TOPIC"""
        page.page(self.shell.getoutput(f"man {arg_s} | col -b", split=False))

    @line_magic
    def connect_info(self, arg_s: str) -> None:
        """Show how to connect another frontend to this kernel."""
        path = getattr(self.shell.kernel.parent, "connection_file", "")
        if path and os.path.exists(path):
            with open(path) as f:
                print(f.read())
            print(f"\nConnect another frontend with:\n    jupyter console --existing {path}")
        else:
            print("This kernel has no connection file on disk.")

    @line_magic
    def subshell(self, arg_s: str) -> None:
        """List this kernel's subshells and say which one runs this code."""
        kernel = self.shell.kernel
        req = current_request.get()
        shell = req.shell if req is not None else None
        here = "main" if shell is None or shell.is_main else shell.id
        print(f"subshell id: {here}")
        print(f"subshell list: {kernel.shells.ids()}")


class PythonShell(InteractiveShell):
    """The shell the Python kernel runs code in. Configure it as `PythonShell`."""

    kernel = AnyTrait(help="The PythonKernel this shell belongs to.")
    displayhook_class = Type(KernelDisplayHook)
    display_pub_class = Type(KernelDisplayPublisher)
    compiler_class = Type(CellCompiler)  # cells named as the debugger frontend names them
    exiter = Instance(ZMQExitAutocall)
    readline_use = Bool(False)
    autoindent = Bool(False)
    keepkernel_on_exit: bool | None = None

    @default("exiter")
    def _default_exiter(self) -> ZMQExitAutocall:
        return ZMQExitAutocall(self)

    @default("input_transformer_manager")
    def _default_input_transformer_manager(self) -> TransformerManager:
        return KernelTransformerManager()

    @default("enable_html_pager")
    def _default_enable_html_pager(self) -> bool:
        return True

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._last_traceback: list[str] | None = None
        self._traceback_in_displayhook = False
        self.loop_runner = LoopRunner()

    # ---- setup, overriding the terminal-oriented defaults -----------------------------------------

    def init_environment(self) -> None:
        env = os.environ
        # Children write colors (the frontend renders ANSI) and never wait in a pager.
        for name, value in (("TERM", "xterm-color"), ("CLICOLOR", "1"), ("FORCE_COLOR", "1"),
                            ("CLICOLOR_FORCE", "1")):
            env.setdefault(name, value)
        env["PAGER"] = "cat"
        env["GIT_PAGER"] = "cat"

    def init_virtualenv(self) -> None:
        """The kernel runs in the environment it was started in; nothing to adjust."""

    def init_history(self) -> None:
        self.history_manager = KernelHistoryManager(shell=self, parent=self)
        self.configurables.append(self.history_manager)

    def init_hooks(self) -> None:
        super().init_hooks()
        self.set_hook("show_in_pager", page.as_hook(self._page_payload), 99)

    def init_magics(self) -> None:
        super().init_magics()
        self.register_magics(KernelMagics)

    def init_user_ns(self) -> None:
        super().init_user_ns()  # also after %reset
        session = os.environ.get("JPY_SESSION_NAME")  # the notebook's path, from jupyter-server
        if session:
            self.user_ns["__session__"] = session

    def enable_gui(self, gui: str | None = None) -> None:
        _check_gui(gui)
        self.active_eventloop = gui

    def enable_matplotlib(self, gui: str | None = None) -> tuple:
        # IPython switches matplotlib's backend before it enables the event loop: refuse first
        from IPython.core.pylabtools import find_gui_and_backend

        _check_gui(find_gui_and_backend(gui, self.pylab_gui_select)[0])
        return super().enable_matplotlib(gui)

    # ---- running ----------------------------------------------------------------------------------

    def run_cell(self, *args: Any, **kwargs: Any):
        self._last_traceback = None
        self._traceback_in_displayhook = False
        return super().run_cell(*args, **kwargs)

    def should_run_async(self, raw_cell: str, *, transformed_cell: str | None = None,
                         preprocessing_exc_tuple: Any = None) -> bool:
        # Only code containing `await` / `async` can need the loop: skip IPython's extra compile.
        cell = raw_cell if transformed_cell is None else transformed_cell
        if "await" not in cell and "async" not in cell:
            return False
        return super().should_run_async(raw_cell, transformed_cell=transformed_cell,
                                        preprocessing_exc_tuple=preprocessing_exc_tuple)

    def _get_exc_info(self, exc_tuple=None):
        etype, value, tb = super()._get_exc_info(exc_tuple)
        if isinstance(value, KeyboardInterrupt):
            tb = _without_kernel_tail(tb)
        return etype, value, tb

    def showtraceback(self, exc_tuple=None, filename=None, tb_offset=None, exception_only=False,
                      running_compiled_code=False) -> None:
        try:
            etype, value, tb = self._get_exc_info(exc_tuple)
        except ValueError:
            etype = value = None
        if value is not None and _has_exception_group(value) and not exception_only:
            # IPython prints groups to stderr and publishes nothing; report them as errors.
            import traceback

            self._showtraceback(etype, value, traceback.format_exception(etype, value, tb))
            return
        super().showtraceback(exc_tuple, filename, tb_offset, exception_only,
                              running_compiled_code)

    def _showtraceback(self, etype: type, evalue: BaseException, stb: list[str]) -> None:
        if self.displayhook.is_active:
            self._traceback_in_displayhook = True
        self._last_traceback = stb
        self.kernel.publish("error", {"ename": etype.__name__, "evalue": str(evalue),
                                      "traceback": stb})

    # ---- payloads ---------------------------------------------------------------------------------

    def _page_payload(self, data: Any, start: int = 0, screen_lines: int = 0,
                      pager_cmd: Any = None) -> None:
        bundle = data if isinstance(data, dict) else {"text/plain": data}
        self.payload_manager.write_payload({"source": "page", "data": bundle,
                                           "start": max(0, start)})

    def set_next_input(self, text: str, replace: bool = False) -> None:
        self.payload_manager.write_payload({"source": "set_next_input", "text": text,
                                           "replace": replace})

    def ask_exit(self) -> None:
        keep = bool(self.keepkernel_on_exit)
        self.exit_now = not keep
        self.payload_manager.write_payload({"source": "ask_exit", "keepkernel": keep})

    # ---- the request in context, for libraries written against ipykernel (ipywidgets' Output) -----

    def get_parent(self) -> dict:
        """The request being handled in this context, as a message dict ({} outside any)."""
        req = current_request.get()
        if req is None:
            return {}
        msg = req.msg
        return {"header": msg.header, "parent_header": msg.parent_header,
                "metadata": msg.metadata, "content": msg.content,
                "msg_id": msg.msg_id, "msg_type": msg.msg_type}

    def set_parent(self, parent: dict) -> None:
        """Accepted for compatibility; the parent is always the request in context."""

    @property
    def parent_header(self) -> dict:
        return self.get_parent()


# Backends that draw in the frontend (inline, nbagg's comms, ipympl's widget) need no event loop.
_NO_EVENT_LOOP = (None, "inline", "nbagg", "notebook", "webagg", "ipympl", "widget")


def _check_gui(gui: str | None) -> None:
    if gui not in _NO_EVENT_LOOP:
        raise UsageError(f"this kernel has no {gui!r} event loop integration; use "
                         "%matplotlib inline, %matplotlib widget or %matplotlib notebook")


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_IPYTHON_DIR = os.path.dirname(os.path.abspath(IPython.__file__)) + os.sep


# the debugger's machinery (an interrupt at the `ipdb>` prompt is raised through it): not user code
_DEBUGGER_FILES = tuple(os.path.join(os.path.dirname(os.__file__), name)
                        for name in ("bdb.py", "pdb.py", "cmd.py"))


def _without_kernel_tail(tb: Any) -> Any:
    """An interrupt is raised in the kernel's signal handler, while an interrupted input() waits in
    the kernel, or at the debugger's prompt: end the traceback at the user's code, before the first
    kernel or debugger frame after it; with no user code in it, show none."""
    head, seen_user, prev = tb, False, None
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.startswith(_PACKAGE_DIR) or name in _DEBUGGER_FILES:
            if seen_user and prev is not None:
                prev.tb_next = None
                break
        elif not name.startswith(_IPYTHON_DIR):
            seen_user = True
        prev, tb = tb, tb.tb_next
    return head if seen_user else None


_GROUP = getattr(builtins, "BaseExceptionGroup", ())


def _has_exception_group(value: BaseException | None) -> bool:
    seen = set()
    while value is not None and id(value) not in seen:
        if isinstance(value, _GROUP):
            return True
        seen.add(id(value))
        value = value.__context__
    return False


InteractiveShellABC.register(PythonShell)
