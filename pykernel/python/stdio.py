"""What user code reads and writes as its standard streams: sys.stdout/stderr, fds 1 and 2, input().

Theory of operation
- `OutStream` is sys.stdout / sys.stderr. A write goes straight to `kernel.stream`, which coalesces
  (see pykernel/streams.py); nothing is buffered here, so there is never a timer or a flush round trip.
- Parent: output belongs to the request being handled in the writer's context (`current_request`).
  Threads started while a request runs carry that request into their `run` (`carry_request_into_threads`);
  asyncio tasks carry it by themselves (contextvars). Output from a context with no request (a thread
  started before any cell, the fd readers) goes to the most recent execute_request.
- fd capture (`FdCapture`): pipes are dup2'ed over fds 1 and 2, so output that bypasses sys.stdout
  (child processes, os.write, C extensions) reaches the frontend too. A reader thread per pipe turns bytes
  into stream text. `drain` reads what is already in the pipes on the calling thread under the readers'
  lock: the kernel calls it before each execute reply, so whatever a cell wrote to fd 1/2 before it ended
  is published before its `idle`, in order; later output still arrives (after idle), never lost.
- The kernel's own log must not go into the pipes (it would be published, or loop): log handlers writing
  to fd 2 are re-pointed at a copy of the original fd, and sys.__stdout__/__stderr__ become the originals.
- A forked child (multiprocessing's default on Linux) inherits sys.stdout but not the kernel's
  threads and must not use its sockets: after a fork, writes go to fds 1/2, which the parent captures.
- `input()` and `getpass.getpass()` ask the frontend through `Kernel.input` (the stdin channel).
"""

from __future__ import annotations

import builtins
import codecs
import faulthandler
import io
import logging
import os
import select
import sys
import threading
from typing import TYPE_CHECKING, Callable

from ..kernel import StdinNotAllowed, current_request

if TYPE_CHECKING:
    from ..kernel import Kernel

ParentFn = Callable[[], dict]


class OutStream(io.TextIOBase):
    """A text stream whose writes are published as `stream` messages named `name` (stdout/stderr)."""

    def __init__(self, kernel: "Kernel", name: str, fallback_parent: ParentFn, fd: int | None = None):
        super().__init__()
        self._kernel = kernel
        self._stream_name = name
        self._fallback_parent = fallback_parent
        self._fd = fd
        self._forked = False
        self.buffer = _BinaryOut(self)
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        # A forked child (multiprocessing) must not touch the kernel's sockets or threads: it
        # writes to the fd, which the parent captures and publishes.
        self._forked = True

    name = property(lambda self: f"<{self._stream_name}>")
    encoding = property(lambda self: "utf-8")
    errors = property(lambda self: "strict")
    mode = "w"
    line_buffering = False

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        if s and self._forked:
            if self._fd is not None:
                os.write(self._fd, s.encode("utf-8", "replace"))
        elif s:
            req = current_request.get()
            parent = req.msg.header if req is not None else self._fallback_parent()
            self._kernel.stream(self._stream_name, s, parent)
        return len(s)

    def flush(self) -> None:
        # Writes are already on their way (the coalescer sends at once); this only keeps the order
        # promise for callers that flush before doing something else with the frontend.
        if not self._forked:
            self._kernel.streams.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        if self._fd is None:
            raise io.UnsupportedOperation("fileno")
        return self._fd

    def close(self) -> None:
        pass  # closing sys.stdout must not stop the kernel from publishing


class _BinaryOut(io.RawIOBase):
    """`sys.stdout.buffer`: bytes are decoded as UTF-8 and published like text."""

    def __init__(self, text: OutStream):
        super().__init__()
        self._text = text
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def write(self, b) -> int:
        data = bytes(b)
        self._text.write(self._decoder.decode(data))
        return len(data)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        self._text.flush()


class FdCapture:
    """Pipes over fds 1 and 2, read into `kernel.stream`. See the module docstring."""

    def __init__(self, kernel: "Kernel", fallback_parent: ParentFn):
        self._kernel = kernel
        self._fallback_parent = fallback_parent
        self._lock = threading.Lock()
        self._pipes: list[_Pipe] = []
        self._ready = select.poll()
        for fd, name in ((1, "stdout"), (2, "stderr")):
            try:
                (sys.__stdout__ if fd == 1 else sys.__stderr__).flush()
            except (AttributeError, ValueError, OSError):
                pass
            saved = os.dup(fd)
            r, w = os.pipe()
            os.dup2(w, fd)
            os.close(w)
            os.set_blocking(r, False)
            pipe = _Pipe(fd, name, r, saved)
            self._ready.register(r, select.POLLIN)
            self._pipes.append(pipe)
            pipe.thread = threading.Thread(target=self._read_loop, args=(pipe,),
                                           name=f"pykernel-fd{fd}", daemon=True)
            pipe.thread.start()
        self.original_stdout = _reopen(self._pipes[0].saved)
        self.original_stderr = _reopen(self._pipes[1].saved)
        _repoint_log_handlers(2, self.original_stderr)
        _repoint_log_handlers(1, self.original_stdout)
        sys.__stdout__, sys.__stderr__ = self.original_stdout, self.original_stderr
        try:  # a crash (segfault in an extension) leaves its Python traceback in the kernel's log
            faulthandler.enable(file=self.original_stderr)
        except (ValueError, OSError):
            pass

    def _read_loop(self, pipe: "_Pipe") -> None:
        poller = select.poll()
        poller.register(pipe.r, select.POLLIN | select.POLLHUP)
        while not pipe.closed:
            poller.poll()
            with self._lock:
                if not self._read(pipe):
                    return

    def _read(self, pipe: "_Pipe") -> bool:
        """Publish what is in the pipe now (lock held). False at end of file."""
        chunks = []
        while True:
            try:
                data = os.read(pipe.r, 1 << 16)
            except BlockingIOError:
                break
            except OSError:  # closed under us at teardown
                pipe.closed = True
                break
            if not data:
                pipe.closed = True
                break
            chunks.append(data)
        if chunks:
            text = pipe.decoder.decode(b"".join(chunks))
            if text:
                self._kernel.stream(pipe.name, text, self._fallback_parent())
        return not pipe.closed

    def drain(self) -> None:
        """Publish everything already written to fds 1 and 2, in order with the readers."""
        try:
            if not self._ready.poll(0):  # one syscall when there is nothing (the usual case)
                return
        except RuntimeError:  # another thread (a subshell) is polling it right now: just read
            pass
        with self._lock:
            for pipe in self._pipes:
                if not pipe.closed:
                    self._read(pipe)

    def close(self) -> None:
        """Put the original fds back and publish what is left in the pipes."""
        self.drain()
        for pipe in self._pipes:
            os.dup2(pipe.saved, pipe.fd)
        self.drain()


class _Pipe:
    __slots__ = ("fd", "name", "r", "saved", "decoder", "closed", "thread")

    def __init__(self, fd: int, name: str, r: int, saved: int):
        self.fd, self.name, self.r, self.saved = fd, name, r, saved
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.closed = False
        self.thread: threading.Thread | None = None


def _reopen(fd: int) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.FileIO(fd, "w", closefd=False), encoding="utf-8",
                            errors="backslashreplace", line_buffering=True)


def _repoint_log_handlers(fd: int, stream: io.TextIOWrapper) -> None:
    """Log handlers that write to `fd` write to `stream` (a copy of the original) instead."""
    loggers = [logging.getLogger()] + [lg for lg in logging.Logger.manager.loggerDict.values()
                                       if isinstance(lg, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            target = getattr(handler, "stream", None)
            try:
                same = target is not None and target.fileno() == fd
            except (AttributeError, ValueError, OSError):
                same = False
            if same and isinstance(handler, logging.StreamHandler):
                handler.setStream(stream)


def carry_request_into_threads() -> None:
    """Make threads started while a request is handled run with that request as their context, so
    their output goes to the cell that started them (Python 3.14 can do this by itself; older
    versions start threads with an empty context)."""
    original = threading.Thread.start
    if getattr(original, "_pykernel_carries_request", False):
        return

    def start(self: threading.Thread) -> None:
        req = current_request.get()
        if req is not None and not self.name.startswith("pykernel-"):
            run = self.run

            def run_in_request() -> None:
                current_request.set(req)
                run()

            self.run = run_in_request  # type: ignore[method-assign]
        original(self)

    start._pykernel_carries_request = True  # type: ignore[attr-defined]
    threading.Thread.start = start  # type: ignore[method-assign]


def install_input(kernel: "Kernel", not_allowed: type[Exception]) -> None:
    """Route `input()` and `getpass.getpass()` to the frontend. `not_allowed` is raised when the
    request did not allow stdin."""
    import getpass

    def ask(prompt: object, password: bool) -> str:
        kernel.streams.flush()  # what was printed before the prompt shows first
        try:
            return kernel.input(str(prompt), password=password)
        except StdinNotAllowed:
            raise not_allowed("input() is not supported by this frontend (allow_stdin is "
                              "false)") from None

    def input(prompt: object = "") -> str:
        return ask(prompt, False)

    def getpass_(prompt: object = "Password: ", stream: object = None) -> str:
        return ask(prompt, True)

    builtins.input = input
    getpass.getpass = getpass_
