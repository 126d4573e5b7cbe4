"""What user code reads and writes as its standard streams: sys.stdout/stderr, fds 1 and 2, input().

Theory of operation
- `OutStream` is sys.stdout / sys.stderr. A write goes straight to `kernel.publish_stream`, which
  coalesces (see pykernel/streams.py); nothing is buffered here, so there is never a timer or a flush
  round trip.
- Parent: `parent()`, the kernel's routing rule (routing.py): the request in the writer's context,
  carried into threads, tasks, executors and queue listeners.
- fds 1 and 2 (child processes, C code) are captured by fdcapture.py.
- A forked child (multiprocessing's default on Linux) inherits sys.stdout but not the kernel's
  threads and must not use its sockets: after a fork, writes go to fds 1/2, which the parent captures,
  a line at a time (one write(2) per run of whole lines, so that lines of children printing at once
  do not cut into each other: a pipe keeps a write of up to 4 KiB whole); the rest of a line goes
  out on `flush` (multiprocessing flushes before a worker exits).
- `input()` and `getpass.getpass()` ask the frontend through `Kernel.input` (the stdin channel).
"""

from __future__ import annotations

import builtins
import codecs
import io
import os
from typing import TYPE_CHECKING, Callable

from ..kernel import StdinNotAllowed

if TYPE_CHECKING:
    from ..kernel import Kernel

ParentFn = Callable[[], dict]


class OutStream(io.TextIOBase):
    """A text stream whose writes are published as `stream` messages named `name` (stdout/stderr)."""

    def __init__(self, kernel: "Kernel", name: str, parent: ParentFn, fd: int | None = None):
        super().__init__()
        self._kernel = kernel
        self._stream_name = name
        self._parent = parent
        self._fd = fd
        self._forked = False
        self._line = ""  # (forked child) the start of a line not yet written
        self.buffer = _BinaryOut(self)
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        # A forked child (multiprocessing) must not touch the kernel's sockets or threads: it
        # writes to the fd, which the parent captures and publishes.
        self._forked = True
        self._line = ""

    name = property(lambda self: f"<{self._stream_name}>")
    encoding = property(lambda self: "utf-8")
    errors = property(lambda self: "strict")
    mode = "w"
    line_buffering = False

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        if s and self._forked:
            self._write_lines(s)
        elif s:
            self._kernel.publish_stream(self._stream_name, s, self._parent())
        return len(s)

    def _write_lines(self, s: str) -> None:
        text = self._line + s
        end = text.rfind("\n") + 1
        if len(text) - end > 4096:
            end = len(text)  # a long line without end goes out as it is
        self._line = text[end:]
        if end:
            self._write_fd(text[:end])

    def _write_fd(self, text: str) -> None:
        if self._fd is not None:
            data = memoryview(text.encode("utf-8", "replace"))
            while data:
                data = data[os.write(self._fd, data):]

    def flush(self) -> None:
        # Writes are already on their way (the coalescer sends at once); this only keeps the order
        # promise for callers that flush before doing something else with the frontend.
        if not self._forked:
            self._kernel.streams.flush()
        elif self._line:
            line, self._line = self._line, ""
            self._write_fd(line)

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
