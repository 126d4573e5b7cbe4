"""Output written to fds 1 and 2 (child processes, os.write, C extensions), published as streams.

Theory of operation
- The path of a byte: fd 1 (or 2) is a pipe, as for any program whose output another reads, so
  `echo x > /dev/stderr` works (a socket there cannot be opened by name). A `cat` of the kernel's
  own (a relay, ~1.6 MB; spared when the user's children are ended) copies the pipe into a
  connection of the transport's `FdInbox`, which libzmq's I/O thread reads as it is written, with
  no GIL and no limit. So C code that writes while holding the GIL never waits on the kernel: a
  reader thread in the kernel could not empty a pipe until that write returned. One reader thread
  (`pykernel-fds`) turns what arrives into stream text, for the most recent execute.
- `drain` publishes, on the calling thread, everything written to fds 1/2 before it was called: the
  kernel calls it before each execute reply (and `before_text` when needed), so what a cell
  wrote is published before its `idle` and in order with its other output; later output still arrives (after idle),
  never lost. Usually that is a non-blocking receive, once `settled` has checked the whole path
  from its start: each pipe is empty, then each relay is blocked reading it (procs.WaitProbe), then
  the inbox has settled (FdInbox.settled), ~20 µs in all. Otherwise (output still on its way, or
  no /proc to read) a random marker is written into both pipes after the data and drain reads
  until both come back out; `FdText` takes them out of the text, also when one is split between
  two chunks.
- Order: the kernel calls `before_text` before it publishes anything (sys.stdout text, a display,
  an error), so that what was written to the fds before a `print` is published before it: it
  drains. A thread's text within QUICK_NS of its previous text skips that (no process can be
  started, write and be waited for in between), so a tight print loop pays a clock read per write
  and a drain (~30 µs when nothing is pending) only now and then. What the skip can miss: a write
  by a process started earlier that ends and is waited for within that window, or the thread's
  own os.write to fd 1/2 right between two prints. Without /proc (no `settled`) drains would
  write markers, too slow to run so often: then no drain is made before text.
- Whole lines: the reader publishes each stream up to its last line end and holds the rest back
  for the chunk that completes it, while more is on its way (not `settled`) and for at most HOLD;
  so lines that processes write at once (a pipe keeps each write of up to 4 KiB whole) do not
  reach the frontend cut into pieces with others between them. A drain publishes all of it.
- A relay that dies (someone killed it) is noticed by its pidfd; from then on the kernel reads that
  pipe itself, and says so in its log.
- The kernel's own log must not go into the capture (it would be published, or loop): log
  handlers writing to fd 2 are re-pointed at a copy of the original fd, and sys.__stdout__ /
  sys.__stderr__ become the originals (until the kernel makes them its streams: kernel.py).
- Everything that reads the inbox or a pipe holds `FdCapture._lock`: zmq sockets are not
  thread-safe, and one reader at a time keeps the order.
"""

from __future__ import annotations

import codecs
import faulthandler
import io
import logging
import os
import select
import shutil
import subprocess
import sys
import termios
import threading
import time
from typing import TYPE_CHECKING, Callable

from .. import procs
from ..transport import FdInbox, Wakeup, nothing_unread

if TYPE_CHECKING:
    from ..kernel import Kernel

log = logging.getLogger("pykernel")

# Written after the data to find where "everything written so far" ends; random, so that no output
# contains it by chance.
MARKER = b"\0pykernel-fd-mark:" + os.urandom(12).hex().encode()

# Text published this soon (ns) after the same thread's last text needs no look at the fds: no
# process can have been started, have written and been waited for in between.
QUICK_NS = 100_000

# How long (s) the reader holds back the start of a line while the rest of it may be on its way.
HOLD = 0.02


class FdText:
    """Bytes from an `FdInbox` (or, for a connection whose relay is gone, straight from its pipe)
    as text per stream, and the marker barrier. Not thread-safe: the caller holds a lock.

    `entries[i]` is where the bytes of connection i are written (a marker goes there too);
    `settled()` says whether everything written so far can be received now."""

    def __init__(self, inbox: FdInbox, names: list[str], entries: list[int],
                 publish: Callable[[str, str], None], settled: Callable[[], bool],
                 barrier_timeout: float = 5.0, check_sources: Callable[[], None] = lambda: None):
        self.inbox = inbox
        self._streams = [_Stream(name) for name in names]
        self._entries = entries
        self._publish = publish
        self._settled = settled
        self._check_sources = check_sources  # may make a connection `read_directly`
        self._barrier_timeout = barrier_timeout  # only a marker that got lost could take this long
        self.max_held = 1 << 16  # a longer unfinished line is published as it is
        self._direct: dict[int, int] = {}  # connection -> pipe read here

    def read_directly(self, i: int, pipe: int) -> None:
        """From now on, take connection i's bytes from `pipe` (after what the inbox holds)."""
        os.set_blocking(pipe, False)
        self._direct[i] = pipe

    def take(self) -> None:
        """Publish what has arrived, merging neighbouring chunks of one stream. Each stream's text
        after its last line end is held back for the chunk that completes the line (unless longer
        than `max_held`); the caller publishes it with `release` when no more is on its way."""
        received = self.inbox.recv_nowait()
        for i, pipe in self._direct.items():
            received += ((i, data) for data in _read_all(pipe))
        out: list[list] = []
        for i, data in received:
            text = self._streams[i].feed(data)
            if not text:
                continue
            if out and out[-1][0] == i:
                out[-1][1] += text
            else:
                out.append([i, text])
        for i, text in out:
            stream = self._streams[i]
            text = stream.text + text
            end = max(text.rfind("\n"), text.rfind("\r")) + 1
            if len(text) - end > self.max_held:
                end = len(text)
            stream.text = text[end:]
            if end:
                self._publish(stream.name, text[:end])

    def held_text(self) -> bool:
        return any(stream.text for stream in self._streams)

    def release(self) -> None:
        """Publish the text held back as the start of a line."""
        for stream in self._streams:
            if stream.text:
                text, stream.text = stream.text, ""
                self._publish(stream.name, text)

    def drain(self) -> None:
        """Publish everything written to the entries before this call."""
        if not self._settled():
            self.barrier()
        elif self._direct or self.inbox.has_news():
            self.take()
        self.release()

    def barrier(self) -> None:
        """Write a marker after the data at every entry and read until all came back. (A pipe
        read here directly needs none: reading it empty is enough, and writing into it while it
        is full would wait for ever, since it is read only under the lock held here.)"""
        for i, (stream, fd) in enumerate(zip(self._streams, self._entries)):
            if i in self._direct:
                continue
            try:
                os.write(fd, MARKER)
            except OSError:
                continue
            stream.markers_due += 1
        poller = select.poll()
        poller.register(self.inbox.fileno(), select.POLLIN)
        polled: set[int] = set()
        deadline = time.monotonic() + self._barrier_timeout
        while True:
            for pipe in set(self._direct.values()) - polled:
                poller.register(pipe, select.POLLIN)
                polled.add(pipe)
            self.take()
            if not any(s.markers_due for s in self._streams):
                return
            left = deadline - time.monotonic()
            if left <= 0:
                log.warning("fd output did not come through within %gs", self._barrier_timeout)
                for stream in self._streams:
                    stream.markers_due = 0
                return
            # now and then, see whether a relay ended meanwhile: its marker is then in its pipe
            poller.poll(min(left, 0.1) * 1000)
            self._check_sources()

    def finish(self) -> None:
        """Publish what was held back as the possible start of a marker, and the decoders' ends."""
        self.release()
        for stream in self._streams:
            text = stream.decoder.decode(stream.held, True)
            stream.held = b""
            if text:
                self._publish(stream.name, text)


class _Stream:
    """One connection: its stream name, its decoder and its part of the marker protocol."""

    __slots__ = ("name", "decoder", "markers_due", "held", "text")

    def __init__(self, name: str):
        self.name = name
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.markers_due = 0
        self.held = b""  # the end of the last chunk, if it may be the start of a marker
        self.text = ""  # decoded text after the last line end, waiting for the rest of its line

    def feed(self, data: bytes) -> str:
        """Text of `data`, markers taken out (counted off `markers_due`)."""
        if self.held:
            data, self.held = self.held + data, b""
        if MARKER[:1] in data:
            parts = data.split(MARKER)
            self.markers_due = max(0, self.markers_due - (len(parts) - 1))
            data = b"".join(parts)
            if self.markers_due:
                # a marker split between two chunks: keep what may be its start for the next one
                for n in range(min(len(MARKER) - 1, len(data)), 0, -1):
                    if MARKER.startswith(data[-n:]):
                        data, self.held = data[:-n], data[-n:]
                        break
        return self.decoder.decode(data)


def _read_all(fd: int) -> list[bytes]:
    chunks = []
    while True:
        try:
            data = os.read(fd, 1 << 16)
        except OSError:  # nothing more for now (BlockingIOError), or closed at teardown
            return chunks
        if not data:
            return chunks
        chunks.append(data)


class _Relay:
    """A pipe and the `cat` that copies it into one inbox connection."""

    def __init__(self, cat: str, connection: int, log_fd: int):
        self.r, w = os.pipe()
        try:
            self.proc = subprocess.Popen([cat], stdin=self.r, stdout=connection, stderr=log_fd,
                                         close_fds=True, start_new_session=True)
        except OSError:
            os.close(self.r)
            os.close(w)
            raise
        procs.spare(self.proc.pid)
        self.w = w  # what goes over fd 1 or 2; the kernel keeps it for markers
        self.probe: procs.WaitProbe | None = None
        try:
            self.pidfd: int | None = os.pidfd_open(self.proc.pid)
        except (AttributeError, OSError):
            self.pidfd = None
        self.alive = True

    def learn(self) -> None:
        self.probe = procs.WaitProbe.open(f"/proc/{self.proc.pid}")

    def settled(self) -> bool:
        """Everything written to the pipe so far has been copied on (or, once the relay is gone,
        can be read from the pipe)."""
        if not nothing_unread([self.r], termios.FIONREAD):
            return False
        return not self.alive or (self.probe is not None and self.probe.idle())

    def close(self) -> None:
        for fd in (self.w, self.r, self.pidfd):
            if fd is not None:
                os.close(fd)
        if self.probe is not None:
            self.probe.close()


def _find_cat() -> str:
    for path in ("/bin/cat", "/usr/bin/cat", shutil.which("cat")):
        if path and os.access(path, os.X_OK):
            return path
    raise OSError("no `cat` to relay fds 1 and 2")


class FdCapture:
    """fds 1 and 2 captured into `kernel.publish_stream`. See the module docstring."""

    def __init__(self, kernel: "Kernel", fallback_parent: Callable[[], dict]):
        # raises OSError if it cannot be set up: nothing is changed then
        cat = _find_cat()
        inbox = FdInbox(2)
        self._relays: list[_Relay] = []
        try:
            for connection in inbox.fds:
                self._relays.append(_Relay(cat, connection, sys.__stderr__.fileno()))
        except (OSError, ValueError, AttributeError):
            for relay in self._relays:
                relay.close()
            inbox.close()
            raise OSError("could not start the fd relays") from None
        for relay in self._relays:  # once both are started, so that they start side by side
            relay.learn()
        self._lock = threading.Lock()
        self._pidfds = {r.pidfd: i for i, r in enumerate(self._relays) if r.pidfd is not None}
        self._ended = select.poll()  # a relay's pidfd is readable once it has ended
        for fd in self._pidfds:
            self._ended.register(fd, select.POLLIN)
        self._generation = 0  # counts relays that ended: the reader thread's poll set changes
        self._held_since: float | None = None  # when the reader began to hold back a line's start
        self._text = FdText(inbox, ["stdout", "stderr"], [r.w for r in self._relays],
                            lambda name, text: kernel.streams.write(name, text, fallback_parent()),
                            self._settled, check_sources=self._check_relays)
        self._last_text: dict[int, int] = {}  # thread -> when it last published text (ns)
        # without /proc, every drain would write markers: too slow to run before each write
        self._can_settle = inbox.observable and all(r.probe is not None for r in self._relays)
        self._saved = []
        for fd, relay in zip((1, 2), self._relays):
            try:
                (sys.__stdout__ if fd == 1 else sys.__stderr__).flush()
            except (AttributeError, ValueError, OSError):
                pass
            self._saved.append(os.dup(fd))
            os.dup2(relay.w, fd)
        self._closed = False
        self._wakeup = Wakeup()
        self._thread = procs.start_internal_thread(self._read_loop, "pykernel-fds")
        self.original_stdout = _reopen(self._saved[0])
        self.original_stderr = _reopen(self._saved[1])
        _repoint_log_handlers(2, self.original_stderr)
        _repoint_log_handlers(1, self.original_stdout)
        sys.__stdout__, sys.__stderr__ = self.original_stdout, self.original_stderr
        try:  # a crash (segfault in an extension) leaves its Python traceback in the kernel's log
            faulthandler.enable(file=self.original_stderr)
        except (ValueError, OSError):
            pass

    def _settled(self) -> bool:
        # (lock held) upstream first: pipes and relays, then what the relays wrote into the inbox
        self._check_relays()
        return all(r.settled() for r in self._relays) and self._text.inbox.settled()

    def _check_relays(self) -> None:
        """(lock held) A relay that has ended: read its pipe in the kernel from now on."""
        for pidfd, _ in self._ended.poll(0) if self._pidfds else ():
            i = self._pidfds.pop(pidfd)
            relay = self._relays[i]
            self._ended.unregister(pidfd)
            relay.alive = False
            relay.proc.poll()
            log.warning("the relay of fd %d (pid %d) ended; that fd's pipe is read in the kernel "
                        "now", i + 1, relay.proc.pid)
            self._text.read_directly(i, relay.r)
            self._generation += 1
            self._wakeup.set()  # the reader thread polls that pipe from now on

    def _read_loop(self) -> None:
        poller, built = select.poll(), -1
        while True:
            with self._lock:
                if self._closed:
                    return
                self._check_relays()
                if built != self._generation:
                    poller, built = select.poll(), self._generation
                    for fd in (self._text.inbox.fileno(), self._wakeup.r, *self._pidfds,
                               *(r.r for r in self._relays if not r.alive)):
                        poller.register(fd, select.POLLIN)
                self._text.take()
                timeout = self._wait_for_line_end()
            poller.poll(timeout)
            self._wakeup.clear()

    def _wait_for_line_end(self) -> "int | None":
        """(lock held) Text after a stream's last line end waits for the rest of its line while
        more is on its way, for at most HOLD seconds; then it is published as it is. Returns how
        long to wait for news (ms), or None: until there is some."""
        if not self._text.held_text():
            self._held_since = None
            return None
        now = time.monotonic()
        if self._held_since is None:
            self._held_since = now
        left = self._held_since + HOLD - now
        if left > 0 and not self._settled():
            return int(left * 1000) + 1
        self._text.release()
        self._held_since = None
        return None

    def drain(self) -> None:
        """Publish everything already written to fds 1 and 2, in order with the reader thread."""
        with self._lock:
            if self._closed:
                return
            try:
                self._text.drain()
            except BaseException:  # (an interrupt) what is left must not wait for more news
                self._wakeup.set()
                raise

    def before_text(self) -> None:
        """Publish what was written to fds 1 and 2 so far, ahead of text about to be published
        (see "Order" in the module docstring)."""
        now, thread = time.perf_counter_ns(), threading.get_ident()
        if now - self._last_text.get(thread, 0) >= QUICK_NS and self._can_settle:
            self.drain()
            now = time.perf_counter_ns()
        self._last_text[thread] = now

    def close(self) -> None:
        """Put the original fds back and publish what is left."""
        self.drain()
        for fd, saved in zip((1, 2), self._saved):
            os.dup2(saved, fd)
        self.drain()
        with self._lock:
            self._closed = True
            self._wakeup.set()
            self._text.finish()
            for relay in self._relays:
                relay.close()  # with the last writer gone, the relay reads the end and exits
            self._text.inbox.close()


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
