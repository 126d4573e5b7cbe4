"""Which cell a piece of output belongs to: the request it is published under (its parent).

Theory of operation
- Rule 1: output belongs to the request in the writer's context (`current_request`, a contextvar).
  The core sets it while a request is handled; everything below only carries it further.
- Rule 2: if that request is an execute that has finished and a cell is running now, the output
  goes to the running cell (a thread or task a cell left behind writes into the cell the user is
  looking at); with no cell running, it stays with the cell that started it.
- Rule 3: a context with no request at all (a thread started before any cell, the fd reader)
  writes into the most recent execute.
- How the request travels:
  - threads: `Thread.start` carries the starter's request into `run` (Python before 3.14 starts
    threads with an empty context);
  - asyncio tasks and `asyncio.to_thread` copy the context by themselves;
  - executors: a pool thread lives longer than the cell that made it, so what counts is who
    submitted the work. `ThreadPoolExecutor.submit` (which `map`, `loop.run_in_executor` and
    `asyncio.to_thread` go through) wraps the work item so that it runs under the submitter's
    request, and puts the thread's own back after;
  - logging's `QueueHandler` stamps each record with the logger's request (a stamp that pickles
    as None, for queues to other processes) and `QueueListener` handles the record under it.
- Cost when unused: none at start-up. The executor and queue patches are put in place the first
  time a user thread is started after `concurrent.futures` or `logging.handlers` was imported
  (both start their threads through `Thread.start`, and nothing reaches the patched methods
  before that except records queued before the listener started, which go to the listener's
  cell). The kernel's own threads (named `pykernel-...`) are left alone.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable

from ..kernel import Request, current_request


class Router:
    """The running and the most recent execute requests, and the parent rule above."""

    def __init__(self) -> None:
        self._running: list[Request] = []  # oldest first; subshells may run cells side by side
        self.last: dict = {}  # header of the most recent execute_request

    def begin(self, req: Request) -> None:
        self.last = req.msg.header
        self._running.append(req)

    def end(self, req: Request) -> None:
        self._running.remove(req)

    def parent(self) -> dict:
        """The parent for output written now, in this context."""
        req = current_request.get()
        if req is None:
            return self.last
        if req.done and req.msg.msg_type == "execute_request":
            running = self._running
            if running:
                return running[-1].msg.header
        return req.msg.header


def _in_request(req: "Request | None", fn: Callable, /, *args: Any, **kwargs: Any) -> Any:
    token = current_request.set(req)
    try:
        return fn(*args, **kwargs)
    finally:
        current_request.reset(token)


def _internal(thread: threading.Thread) -> bool:
    return thread.name.startswith("pykernel-")


def carry_request_into_threads() -> None:
    """Make threads started while a request is handled run with that request as their context,
    and patch executors and queue listeners once they are in use (see the module docstring)."""
    original = threading.Thread.start
    if getattr(original, "_pykernel_carries_request", False):
        return

    def start(self: threading.Thread) -> None:
        if not _internal(self):
            _patch_pools()
            req = current_request.get()
            if req is not None:
                run = self.run
                self.run = lambda: _in_request(req, run)  # type: ignore[method-assign]
        original(self)

    start._pykernel_carries_request = True  # type: ignore[attr-defined]
    threading.Thread.start = start  # type: ignore[method-assign]
    _patch_pools()  # pools of a program the kernel was embedded in may exist already


_patched: set[str] = set()


def _patch_pools() -> None:
    if len(_patched) == 2:
        return
    if "executor" not in _patched and "concurrent.futures.thread" in sys.modules:
        _patch_executor(sys.modules["concurrent.futures.thread"].ThreadPoolExecutor)
        _patched.add("executor")
    if "queue" not in _patched and "logging.handlers" in sys.modules:
        handlers = sys.modules["logging.handlers"]
        _patch_queue_logging(handlers.QueueHandler, handlers.QueueListener)
        _patched.add("queue")


def _patch_executor(cls: type) -> None:
    original = cls.submit

    def submit(self, fn, /, *args, **kwargs):
        return original(self, _in_request, current_request.get(), fn, *args, **kwargs)

    submit.__doc__ = original.__doc__
    submit.__wrapped__ = original  # type: ignore[attr-defined]
    cls.submit = submit


class _Stamp:
    """A record's request; pickled (for a queue to another process) it becomes None."""

    __slots__ = ("req",)

    def __init__(self, req: Request):
        self.req = req

    def __reduce__(self):
        return (type(None), ())


def _patch_queue_logging(handler_cls: type, listener_cls: type) -> None:
    prepare, handle = handler_cls.prepare, listener_cls.handle

    def stamped_prepare(self, record):
        record = prepare(self, record)
        req = current_request.get()
        if req is not None and hasattr(record, "__dict__"):
            record._pykernel_request = _Stamp(req)
        return record

    def handle_under_stamp(self, record):
        stamp = getattr(record, "_pykernel_request", None)
        if not isinstance(stamp, _Stamp):
            return handle(self, record)
        return _in_request(stamp.req, handle, self, record)

    stamped_prepare.__wrapped__ = prepare  # type: ignore[attr-defined]
    handle_under_stamp.__wrapped__ = handle  # type: ignore[attr-defined]
    handler_cls.prepare = stamped_prepare
    listener_cls.handle = handle_under_stamp
