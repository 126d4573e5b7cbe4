"""What user code reads and writes as its standard streams: sys.stdout/stderr, fds 1 and 2, input().

Theory of operation
- `OutStream` is sys.stdout / sys.stderr. A write goes straight to `kernel.stream`, which coalesces
  (see pykernel/streams.py); nothing is buffered here, so there is never a timer or a flush round trip.
- Parent: output belongs to the request being handled in the writer's context (`current_request`).
  Threads started while a request runs carry that request into their `run` (`carry_request_into_threads`);
  asyncio tasks carry it by themselves (contextvars). Output from a context with no request (a thread
  started before any cell, the fd readers) goes to the most recent execute_request.
- fd capture (`FdCapture`): pipes are dup2'ed over fds 1 and 2, so output that bypasses sys.stdout
  (child processes, os.write, C extensions) reaches the frontend too. The pump process (fdpump.py) empties
  those pipes at once into relay pipes, keeping what the kernel has not read yet in memory, so C code
  that writes while holding the GIL never waits on the kernel. A reader thread per relay turns bytes
  into stream text (without a pump, they read the capture pipes themselves). `drain` reads what is
  already in the pipes on the calling thread under the readers' lock: the kernel calls it before each execute reply, so whatever a cell wrote to fd 1/2 before it ended
  is published before its `idle`, in order; later output still arrives (after idle), never lost.
  `drain` costs one poll when there is nothing; only when the pump holds or has yet to take something
  does it ask the pump to pass everything on (a round trip to that process).
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
import mmap
import os
import select
import sys
import threading
import time
from typing import TYPE_CHECKING, Callable

from ..kernel import StdinNotAllowed, current_request

if TYPE_CHECKING:
    import subprocess

    from ..kernel import Kernel

log = logging.getLogger("pykernel")

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
            self._pipes.append(_Pipe(fd, name, r, saved))
        self._pump = _Pump.start(self._pipes)
        self._ready = self._make_ready()
        for pipe in self._pipes:
            pipe.thread = threading.Thread(target=self._read_loop, args=(pipe,),
                                           name=f"pykernel-fd{pipe.fd}", daemon=True)
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

    def _make_ready(self) -> select.poll:
        """What drain polls: the capture pipes (data the pump has not taken yet) and the pipes
        read here."""
        ready = select.poll()
        for pipe in self._pipes:
            ready.register(pipe.capture, select.POLLIN)
            if pipe.r != pipe.capture:
                ready.register(pipe.r, select.POLLIN)
        return ready

    def _read_loop(self, pipe: "_Pipe") -> None:
        while not pipe.closed:
            poller = select.poll()
            poller.register(pipe.r, select.POLLIN | select.POLLHUP)
            source = pipe.r
            while not pipe.closed and pipe.r == source:
                poller.poll()
                with self._lock:
                    self._read(pipe)

    def _read(self, pipe: "_Pipe") -> None:
        """Publish what is in the pipe now (lock held). At the relay's end (the pump is gone), read
        the capture pipe itself from then on."""
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
                if pipe.r != pipe.capture:
                    # (at shutdown, when the kernel's children are ended, this is expected)
                    log.debug("the fd pump ended; reading fd %d's pipe in the kernel", pipe.fd)
                    os.close(pipe.r)
                    pipe.r = pipe.capture
                    self._pump = None
                    self._ready = self._make_ready()
                    continue
                pipe.closed = True
                break
            chunks.append(data)
        if chunks:
            text = pipe.decoder.decode(b"".join(chunks))
            if text:
                self._kernel.stream(pipe.name, text, self._fallback_parent())

    def drain(self) -> None:
        """Publish everything already written to fds 1 and 2, in order with the readers."""
        pump = self._pump
        try:
            # one syscall when there is nothing (the usual case)
            if not self._ready.poll(0) and (pump is None or not pump.holding()):
                return
        except RuntimeError:  # another thread (a subshell) is polling it right now: just read
            pass
        with self._lock:
            if pump is not None and self._pump is pump and \
                    (pump.holding() or any(_readable(p.capture) for p in self._pipes)):
                pump.sync(self._pipes, self._read)
            for pipe in self._pipes:
                if not pipe.closed:
                    self._read(pipe)

    def close(self) -> None:
        """Put the original fds back and publish what is left in the pipes."""
        self.drain()
        for pipe in self._pipes:
            os.dup2(pipe.saved, pipe.fd)
        self.drain()
        if self._pump is not None:
            self._pump.stop()


def _readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


class _Pump:
    """The kernel's side of the fd pump process (fdpump.py)."""

    SYNC_TIMEOUT = 5.0  # seconds; only a pump that stopped working takes this long

    def __init__(self, proc: "subprocess.Popen", sync_w: int, ack_r: int, flag: mmap.mmap):
        self.proc, self._sync_w, self._ack_r, self._flag = proc, sync_w, ack_r, flag

    @classmethod
    def start(cls, pipes: list["_Pipe"]) -> "_Pump | None":
        """Start the pump between the capture pipes and new relay pipes (`pipe.r` becomes the
        relay). None if it cannot start: then the kernel reads the capture pipes itself."""
        import subprocess

        relays = [os.pipe() for _ in pipes]
        sync_r, sync_w = os.pipe()
        ack_r, ack_w = os.pipe()
        flag_fd = os.memfd_create("pykernel-fdpump", 0)
        os.ftruncate(flag_fd, 1)
        theirs = [pipes[0].capture, pipes[1].capture, relays[0][1], relays[1][1], sync_r, ack_w,
                  flag_fd]
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", os.path.join(os.path.dirname(__file__), "fdpump.py"),
                 *map(str, theirs)],
                pass_fds=theirs, stdin=subprocess.DEVNULL, stdout=pipes[0].saved,
                stderr=pipes[1].saved, start_new_session=True)
        except OSError:
            log.exception("could not start the fd pump; fds 1 and 2 are read in the kernel")
            for fd in (*[fd for pair in relays for fd in pair], sync_r, sync_w, ack_r, ack_w,
                       flag_fd):
                os.close(fd)
            return None
        flag = mmap.mmap(flag_fd, 1)
        for fd in theirs[2:]:
            os.close(fd)
        for pipe, (r, _) in zip(pipes, relays):
            os.set_blocking(r, False)
            pipe.r = r
        return cls(proc, sync_w, ack_r, flag)

    def holding(self) -> bool:
        """Whether the pump holds output it has not put into the relays yet."""
        return self._flag[0] != 0

    def sync(self, pipes: list["_Pipe"], read: Callable[["_Pipe"], None]) -> None:
        """Have the pump pass on everything written so far, reading the relays meanwhile."""
        try:
            os.write(self._sync_w, b"s")
        except OSError:
            return
        poller = select.poll()
        poller.register(self._ack_r, select.POLLIN)
        by_fd = {}
        for pipe in pipes:
            if not pipe.closed and pipe.r != pipe.capture:
                poller.register(pipe.r, select.POLLIN)
                by_fd[pipe.r] = pipe
        deadline = time.monotonic() + self.SYNC_TIMEOUT
        while True:
            left = deadline - time.monotonic()
            events = poller.poll(max(0, left) * 1000)
            if not events:
                log.warning("the fd pump did not answer within %.0fs", self.SYNC_TIMEOUT)
                return
            for fd, _ in events:
                if fd == self._ack_r:
                    os.read(self._ack_r, 64)  # all that came before it is in the relays now
                    return
                read(by_fd[fd])

    def stop(self) -> None:
        os.close(self._sync_w)  # the pump ends when it sees this end close
        os.close(self._ack_r)


class _Pipe:
    __slots__ = ("fd", "name", "capture", "r", "saved", "decoder", "closed", "thread")

    def __init__(self, fd: int, name: str, capture: int, saved: int):
        # `capture` is the read end of the pipe over `fd`; `r` is what the reader thread reads:
        # the pump's relay pipe, or `capture` itself without a pump.
        self.fd, self.name, self.capture, self.r, self.saved = fd, name, capture, capture, saved
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
