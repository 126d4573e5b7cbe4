"""What user code reads and writes as its standard streams: sys.stdout/stderr, fds 1 and 2, input().

Theory of operation
- `OutStream` is sys.stdout / sys.stderr. A write goes straight to `kernel.publish_stream`, which
  coalesces (see pykernel/streams.py); nothing is buffered here, so there is never a timer or a flush
  round trip.
- Parent: output belongs to the request being handled in the writer's context (`current_request`).
  Threads started while a request runs carry that request into their `run` (`carry_request_into_threads`);
  asyncio tasks carry it by themselves (contextvars). Output from a context with no request (a thread
  started before any cell, the fd readers) goes to the most recent execute_request.
- fds 1 and 2 (child processes, C code) are captured by fdcapture.py.
- A forked child (multiprocessing's default on Linux) inherits sys.stdout but not the kernel's
  threads and must not use its sockets: after a fork, writes go to fds 1/2, which the parent captures.
- `input()` and `getpass.getpass()` ask the frontend through `Kernel.input` (the stdin channel).
"""

from __future__ import annotations

import builtins
import codecs
import io
import os
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
            self._kernel.publish_stream(self._stream_name, s, parent)
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
            return kernel.request_input(str(prompt), password=password)
        except StdinNotAllowed:
            raise not_allowed("input() is not supported by this frontend (allow_stdin is "
                              "false)") from None

    def input(prompt: object = "") -> str:
        return ask(prompt, False)

    def getpass_(prompt: object = "Password: ", stream: object = None) -> str:
        return ask(prompt, True)

    builtins.input = input
    getpass.getpass = getpass_
