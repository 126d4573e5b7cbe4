"""`WrapperKernel`: the base class of a kernel for another language.

A language author subclasses it, declares what frontends show (`implementation`, `language_info`,
`banner`, `help_links`, and for the kernelspec `kernel_name` and `display_name`), and implements
`execute(code)`; optionally `complete`, `inspect`, `is_complete`, `history`, `interrupt` and
`shutdown`. Each of these may be a plain method or an `async def`, and speaks plain Python values:
no reply dicts, no messages.

Theory of operation
- The core (`pykernel.kernel.Kernel`) owns the protocol: sockets, busy/idle, the execution count,
  stop_on_error, subshells, interrupts, kernelspecs. This class only translates between the core's
  `do_*` hooks, which return reply contents, and the friendly hooks above.
- Names: the language's hooks (`HOOKS`) and the methods it calls (`API`: `print`, `display`,
  `input`, ...) are disjoint from the core's handlers, hooks and actions (see the table in
  `pykernel.kernel`); a subclass that defines a core action, handler or plumbing method is refused
  when its class is made, so it can never replace what the core relies on.
- An async hook runs as a task on an event loop kept per serving thread (the main shell's thread, a
  subshell's, or the core's signal thread for `interrupt`), made on first use and reused, so tasks and connections made by one request survive
  to the next one on that thread. Sync hooks run directly on the serving thread.
- Interrupts (SIGINT from a frontend, or an interrupt_request through the core) during an execute:
  the language's own `interrupt()`, if it has one, is called at once on the core's signal thread
  (`do_interrupt`), also while the main thread is inside a C call; an `async def interrupt` runs to
  its end on that thread's own event loop. On the main thread (`do_keyboard_interrupt`) the running
  async execute is cancelled, a wait for input always ends, and without an `interrupt()` hook
  KeyboardInterrupt is raised into a sync execute, as the core does, or into an async one that is
  computing rather than awaiting (it could not see the cancellation).
- The history of executed code is kept in memory (`history.py`) unless the language serves it.
- Comms come from the core's `Comms` (the `comm` package's manager): the language registers targets
  and opens comms through methods here; `comm.create_comm` works too.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import re
import sys
import threading
import traceback
import uuid
from typing import Any

from ..comms import Comm, Comms
from .. import kernel as core
from ..kernel import Execution, Kernel, StdinNotAllowed, error_content
from .history import History

log = logging.getLogger("pykernel")

_execution: contextvars.ContextVar[Execution | None] = contextvars.ContextVar(
    "pykernel_wrapper_execution", default=None)

IS_COMPLETE = ("complete", "incomplete", "invalid", "unknown")


class KernelError(Exception):
    """Raise from `execute` to answer with an error reply of exactly this name, value and traceback
    (a list of lines; ANSI colors allowed). Without a traceback, one line `ename: evalue` is shown."""

    def __init__(self, ename: str, evalue: str = "", traceback: list[str] | None = None):
        super().__init__(ename, evalue)
        self.ename = str(ename)
        self.evalue = str(evalue)
        if traceback is None:
            traceback = [f"{self.ename}: {self.evalue}" if self.evalue else self.ename]
        self.traceback = [str(line) for line in traceback]


def mime_bundle(value: Any) -> dict:
    """A str is text/plain; a dict is already a bundle; anything else is shown as str(value)."""
    if isinstance(value, dict):
        return value
    return {"text/plain": value if isinstance(value, str) else str(value)}


#: What a language implements (all optional but `execute`); the wrapper's core hooks call them.
HOOKS = frozenset({"execute", "complete", "inspect", "is_complete", "history", "interrupt",
                   "shutdown"})
#: What a language calls.
API = frozenset({"execution", "print", "stdout", "stderr", "display", "update_display",
                 "clear_output", "input", "ainput", "register_comm_target", "open_comm"})


class WrapperKernel(Kernel):
    """Subclass, declare your language, implement `execute`. See docs/write-a-kernel.md."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        taken = sorted((core.ACTIONS | core.PLUMBING | core.HANDLERS) & set(vars(cls)))
        if taken:
            raise TypeError(f"{cls.__name__} defines {', '.join(taken)}, which the kernel core "
                            "uses itself: give your method(s) another name")

    implementation = "wrapper"
    #: What `complete` replaces when it returns a bare list: the end of the code before the cursor
    #: that this pattern matches.
    completion_word = re.compile(r"\w*$")

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.history_log = History()
        self._local = threading.local()
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._loops_lock = threading.Lock()
        self._main_task: asyncio.Future | None = None
        self._main_loop: asyncio.AbstractEventLoop | None = None
        self._waiting_input = False
        self.comms = Comms(self)
        self.comms.install()

    # ---- the language's hooks --------------------------------------------------------------------

    def execute(self, code: str) -> Any:
        """Run `code`. Publish output with `print`/`display`/...; return None or a result (a str for
        text/plain, or a dict mime bundle); raise for an error reply (`KernelError` for full
        control). The request's other fields are in `self.execution`."""
        raise NotImplementedError

    def complete(self, code: str, cursor_pos: int) -> Any:
        """Return a list of matches (replacing the `completion_word` before the cursor), or
        `(matches, cursor_start, cursor_end)`, or a complete_reply dict; None for no matches."""
        return None

    def inspect(self, code: str, cursor_pos: int, detail_level: int) -> Any:
        """Return help for what is at the cursor: a str, a mime bundle dict, or None (not found)."""
        return None

    def is_complete(self, code: str) -> Any:
        """Return 'complete', 'incomplete' or ('incomplete', indent), 'invalid', or 'unknown'."""
        return "unknown"

    def history(self, hist_access_type: str, **options: Any) -> list:
        """Return history entries; the default serves the code this kernel has executed."""
        return self.history_log.query(hist_access_type, **options)

    def shutdown(self, restart: bool) -> Any:
        """Release the language's resources before the kernel exits (or restarts)."""

    def interrupt(self) -> Any:
        """Cancel the running `execute` (the user pressed stop, or the kernel is shutting down).
        Called at once on a thread of the kernel's own, also while `execute` is inside a C call:
        interrupt a database, signal a child, set a flag; do not block. Without this hook a sync
        `execute` gets KeyboardInterrupt and an async one is cancelled."""

    # ---- what the language calls -----------------------------------------------------------------

    @property
    def execution(self) -> Execution | None:
        """The execute_request being run in this context (code, silent, allow_stdin, ...)."""
        return _execution.get()

    def print(self, *values: Any, sep: str = " ", end: str = "\n", stream: str = "stdout") -> None:
        """Like the builtin print, to the frontend's stdout (or `stream='stderr'`)."""
        self.publish_stream(stream, sep.join(map(str, values)) + end)

    def stdout(self, text: str) -> None:
        """Write text to the frontend's stdout as it is (no newline added)."""
        self.publish_stream("stdout", text)

    def stderr(self, text: str) -> None:
        """Write text to the frontend's stderr as it is (no newline added)."""
        self.publish_stream("stderr", text)

    def display(self, data: Any, metadata: dict | None = None, display_id: str | None = None,
                *, update: bool = False) -> str:
        """Show `data` (a mime bundle dict, or a str for text/plain) in the output area; return its
        display id (given, or made up), which `update_display` takes."""
        display_id = display_id or uuid.uuid4().hex
        self.publish_display(mime_bundle(data), metadata, {"display_id": display_id}, update)
        return display_id

    def update_display(self, data: Any, display_id: str, metadata: dict | None = None) -> None:
        """Replace what an earlier `display(..., display_id=...)` showed, wherever it is shown."""
        self.display(data, metadata, display_id, update=True)

    def clear_output(self, wait: bool = False) -> None:
        """Clear the cell's output area (with `wait=True`, when the next output arrives)."""
        self.publish_clear_output(wait)

    def input(self, prompt: str = "", password: bool = False) -> Any:
        """Ask the frontend for a line of input (`password=True` hides what is typed).

        From sync code this returns the line; from async code (an `async def` hook) it returns an
        awaitable: `line = await self.input("Name? ")`. Raises StdinNotAllowed when the request did
        not allow stdin, and KeyboardInterrupt (CancelledError in async code) when the kernel is
        interrupted while waiting."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._input(prompt, password)
        return self.ainput(prompt, password)

    def _input(self, prompt: str, password: bool) -> str:
        main = threading.current_thread() is threading.main_thread()
        if main:
            self._waiting_input = True
        try:
            return self.request_input(prompt, password)
        finally:
            if main:
                self._waiting_input = False

    async def ainput(self, prompt: str = "", password: bool = False) -> str:
        """`input` for async code. While the frontend's input box is open this thread's event loop
        waits too; an interrupt cancels the calling task."""
        try:
            return self._input(prompt, password)
        except KeyboardInterrupt:
            raise asyncio.CancelledError from None

    # ---- comms -----------------------------------------------------------------------------------

    def register_comm_target(self, target_name: str, callback: Any) -> None:
        """Accept comms the frontend opens to `target_name`: `callback(comm, open_msg)` is called
        with the new comm (set `comm.on_msg(handler)` there) and the comm_open message as a dict."""
        self.comms.manager.register_target(target_name, callback)

    def open_comm(self, target_name: str, data: dict | None = None,
                  metadata: dict | None = None) -> Comm:
        """Open a comm to a target the frontend registered; returns it (`send`, `on_msg`,
        `close`). Libraries written against the `comm` package (`comm.create_comm`) work too."""
        return self.comms.comm_class(target_name=target_name, data=data, metadata=metadata)

    # ---- running hooks, sync or async ------------------------------------------------------------

    def _call(self, hook: Any, *args: Any, **kwargs: Any) -> Any:
        result = hook(*args, **kwargs)
        if inspect.isawaitable(result):
            result = self._await(result)
        return result

    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = getattr(self._local, "loop", None)
        if loop is None or loop.is_closed():
            loop = self._local.loop = asyncio.new_event_loop()
            with self._loops_lock:
                self._loops.append(loop)
        return loop

    def _await(self, awaitable: Any) -> Any:
        loop = self._loop()
        task = asyncio.ensure_future(awaitable, loop=loop)
        main = threading.current_thread() is threading.main_thread()
        if main:
            self._main_loop, self._main_task = loop, task
        try:
            return loop.run_until_complete(task)
        finally:
            if main:
                self._main_task = None

    # ---- the core's hooks ------------------------------------------------------------------------

    def do_execute(self, ex: Execution) -> dict:
        if ex.store_history:
            self.history_log.add(ex.execution_count, ex.code)
        token = _execution.set(ex)
        try:
            value = self._call(self.execute, ex.code)
        except KernelError as e:
            return self._error(e.ename, e.evalue, e.traceback)
        except (KeyboardInterrupt, asyncio.CancelledError):
            return self._error("KeyboardInterrupt", "", ["KeyboardInterrupt"])
        except Exception as e:
            tb = traceback.format_exception(type(e), e, e.__traceback__.tb_next)
            return self._error(type(e).__name__, str(e), tb)
        finally:
            _execution.reset(token)
        if value is not None:
            bundle = mime_bundle(value)
            if ex.store_history and isinstance(bundle.get("text/plain"), str):
                self.history_log.set_output(ex.execution_count, bundle["text/plain"])
            if not ex.silent:
                self.publish("execute_result", {"execution_count": ex.execution_count,
                                                "data": bundle, "metadata": {}})
        return {"status": "ok", "user_expressions": {}}

    def _error(self, ename: str, evalue: str, tb: list[str]) -> dict:
        reply = error_content(ename, evalue, tb)
        self.publish("error", {"ename": ename, "evalue": evalue, "traceback": tb})
        return reply

    def do_complete(self, code: str, cursor_pos: int) -> dict:
        reply = {"matches": [], "cursor_start": cursor_pos, "cursor_end": cursor_pos,
                 "metadata": {}}
        result = self._call(self.complete, code, cursor_pos)
        if result is None:
            return reply
        if isinstance(result, dict):
            return {**reply, **result}
        if isinstance(result, tuple) and len(result) == 3 and isinstance(result[1], int):
            matches, start, end = result
        else:
            matches, end = result, cursor_pos
            found = self.completion_word.search(code, 0, cursor_pos)
            start = found.start() if found else cursor_pos
        return {**reply, "matches": [str(m) for m in matches], "cursor_start": start,
                "cursor_end": end}

    def do_inspect(self, code: str, cursor_pos: int, detail_level: int) -> dict:
        result = self._call(self.inspect, code, cursor_pos, detail_level)
        if result is None:
            return {"found": False, "data": {}, "metadata": {}}
        return {"found": True, "data": mime_bundle(result), "metadata": {}}

    def do_is_complete(self, code: str) -> dict:
        result = self._call(self.is_complete, code)
        if isinstance(result, dict):
            return {"status": "unknown", **result}
        indent = None
        if isinstance(result, tuple):
            result, indent = result
        if result not in IS_COMPLETE:
            raise ValueError(f"is_complete returned {result!r}; expected one of {IS_COMPLETE}")
        if result == "incomplete":
            return {"status": result, "indent": indent or ""}
        return {"status": result}

    def do_history(self, hist_access_type: str, content: dict) -> list:
        options = {k: v for k, v in content.items() if k != "hist_access_type"}
        return list(self._call(self.history, hist_access_type, **options))

    def do_shutdown(self, restart: bool) -> None:
        self._call(self.shutdown, restart)

    # ---- interrupts ------------------------------------------------------------------------------

    def _has_interrupt_hook(self) -> bool:
        return type(self).interrupt is not WrapperKernel.interrupt

    def do_interrupt(self) -> None:
        if self._has_interrupt_hook():
            self._call(self.interrupt)

    def do_keyboard_interrupt(self) -> None:
        task, loop = self._main_task, self._main_loop
        if task is not None and loop is not None:
            loop.call_soon_threadsafe(task.cancel)
        hooked = self._has_interrupt_hook()
        # An async execute that is computing (not awaiting) cannot see a cancellation until it
        # awaits: it gets KeyboardInterrupt where it is, as sync code does.
        busy = task is not None and loop is not None and asyncio.current_task(loop) is task
        if self._waiting_input or (task is None and not hooked) or (busy and not hooked):
            raise KeyboardInterrupt

    # ---- kernelspec and teardown -----------------------------------------------------------------

    @classmethod
    def kernelspec_defaults(cls) -> dict:
        defaults = super().kernelspec_defaults()
        # A kernel class defined in a module run with `python -m NAME` lives in `__main__`.
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        if cls.kernel_module is None and cls.__module__ == "__main__" and spec is not None:
            defaults["module"] = spec.name.removesuffix(".__main__")
        return defaults

    def cleanup(self) -> None:
        super().cleanup()
        with self._loops_lock:
            loops, self._loops = self._loops, []
        for loop in loops:
            if not loop.is_running() and not loop.is_closed():
                try:
                    loop.run_until_complete(loop.shutdown_asyncgens())
                except RuntimeError:  # made on another thread that is gone: nothing to finish
                    pass
                loop.close()


__all__ = ["KernelError", "StdinNotAllowed", "WrapperKernel", "mime_bundle"]
