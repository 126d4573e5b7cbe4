"""The I/O thread of one interpreter child: its output, its records, its end.

Theory of operation
- One thread per child reads everything as it comes: stdout and stderr (two pipes, read
  separately, decoded as UTF-8 with replacement) go to the host's `deliver`, in order; records
  from the `ctl` FIFO go through the record codec to the host's `handle`.
- Before acting on a record it drains what the output pipes already hold, so output written
  before a record is delivered before it. Draining is bounded, so that a busy background writer
  cannot hold the thread there.
- The thread sleeps in poll() on those descriptors, a wake-up pipe (to look at new state at once)
  and the child's pidfd, with the timeout set by the nearest deadline the host's watches have
  (`due`); at each turn the host's `tick` acts on what is due.
- The child's end is seen on its pidfd, not on EOF of its pipes, which background jobs holding
  them would delay forever. Without pidfds, the child's state is polled (posix.FALLBACK_POLL).
  At the end, what the pipes and the FIFO still hold is delivered first, then `ended`.
"""

from __future__ import annotations

import codecs
import logging
import os
import select
import subprocess
import threading
import time
from typing import Protocol

from ... import posix
from .records import RecordError, RecordParser

log = logging.getLogger("pykernel")


class Host(Protocol):
    def deliver(self, stream: str, text: str) -> None: ...
    def handle(self, record: list[str]) -> None: ...
    def due(self) -> float | None: ...
    def tick(self, child: "Child") -> None: ...
    def ended(self, child: "Child", exit_code: int) -> None: ...


class Child:
    """A started interpreter: its process, the pipe to its stdin, and its two output pipes."""

    def __init__(self, proc: subprocess.Popen, cmd: int, out: int, err: int, pidfd: bool = True):
        self.proc, self.cmd = proc, cmd
        self.streams = {out: "stdout", err: "stderr"}
        self.decoders = {fd: codecs.getincrementaldecoder("utf-8")("replace") for fd in (out, err)}
        self.watch = posix.ChildWatch(proc, pidfd)
        self.thread: threading.Thread | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, text: str) -> None:
        """Write all of `text` to the child's stdin; a child that is gone is no error here (its
        end is reported by the I/O thread)."""
        data = text.encode()
        try:
            while data:
                data = data[os.write(self.cmd, data):]
        except OSError as e:
            log.debug("could not write to the interpreter: %s", e)

    def close(self) -> None:
        posix.close_quietly(self.cmd, *self.decoders)
        self.watch.close()


class IoLoop:
    """Runs the I/O thread of `child` for `host`."""

    def __init__(self, child: Child, host: Host, ctl: int, parser: RecordParser,
                 wakeup: posix.Wakeup):
        self.child, self.host, self.ctl, self.parser, self.wakeup = child, host, ctl, parser, wakeup

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, daemon=True,
                                  name=f"pykernel-repl-{self.child.pid}")
        self.child.thread = thread
        thread.start()
        return thread

    def _run(self) -> None:
        child = self.child
        poller = select.poll()
        for fd in (*child.streams, self.ctl, self.wakeup.fileno(), child.watch.fileno()):
            if fd is not None:
                poller.register(fd, select.POLLIN)
        try:
            while True:
                ready = {fd for fd, _ in poller.poll(self._timeout())}
                for fd in list(child.streams):
                    if fd in ready and not self._read_output(fd):
                        poller.unregister(fd)
                        del child.streams[fd]
                if self.wakeup.fileno() in ready:
                    self.wakeup.clear()
                if self.ctl in ready:
                    self._read_records()
                if child.watch.ended(ready):
                    break
                self.host.tick(child)
        except Exception:
            log.exception("the interpreter's I/O thread failed")
        self._end()

    def _timeout(self) -> int | None:
        """Milliseconds until the nearest deadline (None: none, sleep until something happens)."""
        dues = [self.host.due()]
        fallback = self.child.watch.timeout()
        if fallback is not None:
            dues.append(time.monotonic() + fallback)
        nearest = min((d for d in dues if d is not None), default=None)
        return None if nearest is None else max(0, int((nearest - time.monotonic()) * 1000) + 1)

    def _read_output(self, fd: int, limit: int = 1 << 16) -> bool:
        """Deliver what `fd` holds; False at its end of file."""
        try:
            data = os.read(fd, limit)
        except BlockingIOError:
            return True
        if not data:
            return False
        text = self.child.decoders[fd].decode(data)
        if text:
            self.host.deliver(self.child.streams[fd], text)
        return True

    def _drain_output(self) -> None:
        for fd in list(self.child.streams):
            for _ in range(64):  # bounded: a busy background writer must not hold us here
                try:
                    if posix.unread(fd) == 0 or not self._read_output(fd):
                        break
                except OSError:
                    break

    def _read_records(self) -> None:
        while True:
            data, _ = posix.read_available(self.ctl)
            if not data:
                break
            self.parser.feed(data)
        while True:
            try:
                record = self.parser.next()
            except RecordError as e:
                log.warning("unreadable record from the interpreter: %s", e)
                continue
            if record is None:
                return
            self._drain_output()
            self.host.handle(record)

    def _end(self) -> None:
        child = self.child
        try:
            self._drain_output()
            self._read_records()
        except OSError:
            pass
        for fd, decoder in child.decoders.items():
            tail = decoder.decode(b"", final=True)
            if tail and fd in child.streams:
                self.host.deliver(child.streams[fd], tail)
        code = child.proc.wait()
        self.host.ended(child, 128 - code if code < 0 else code)
        child.close()
