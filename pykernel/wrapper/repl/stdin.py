"""The stdin watch: when a cell's program wants input, and handing it the answer.

Theory of operation
- A cell's stdin is the `in` FIFO of the REPL's directory, held open (read-write, so that opens
  never block and readers never see end of file by accident) by the kernel during the run.
- The kernel learns that input is wanted in two ways: a `read` record (sent by a language's own
  input command, with the prompt and whether to hide the answer), or, for any other program, a
  process of the child's tree blocked in read(2) on that FIFO. The second is looked for once the
  cell has been quiet for `QUIET` seconds, then at growing intervals up to `SLOWEST`; any output
  or record starts the count again.
- Blocked readers: Linux shows, in /proc/PID/task/TID/syscall, the system call a thread is blocked
  in and its arguments; a thread blocked in read(2) (or readv, pread) whose descriptor argument
  refers to the FIFO is waiting for input from it. Nothing is guessed from output or prompts.
  Elsewhere (or where procfs is missing or hides these files) nobody is ever seen blocked, and
  input is only asked for when the program says so itself.
- One question at a time: while one is open, or while the answer to the last one is still unread
  in the FIFO, nothing more is asked.
- The answer is written into the FIFO; when there is none (the frontend has no stdin, or the wait
  was interrupted) the kernel closes its end and the reader, and every later one, gets end of file.
"""

from __future__ import annotations

import logging
import os
import platform
import time

from ... import posix, procs

log = logging.getLogger("pykernel")

QUIET = 0.005  # seconds of silence before looking for a blocked reader
SLOWEST = 0.1  # the longest wait between two looks

# read, pread64, readv, preadv, preadv2 per architecture (the numbers are the kernel's ABI)
_READ_CALLS = {
    "x86_64": {0, 17, 19, 295, 327},
    "aarch64": {63, 65, 67, 69, 286},
    "arm64": {63, 65, 67, 69, 286},
    "riscv64": {63, 65, 67, 69, 286},
}.get(platform.machine(), set())


def supported(proc: str = "/proc") -> bool:
    """Whether blocked readers can be seen here (Linux with its syscall files in `proc`)."""
    return bool(_READ_CALLS) and os.path.exists(f"{proc}/self/syscall")


def file_id(path_or_fd: str | int) -> tuple[int, int]:
    st = os.stat(path_or_fd)
    return st.st_dev, st.st_ino


def _blocked_on(pid: int, tid: str, target: tuple[int, int], proc: str) -> bool:
    try:
        with open(f"{proc}/{pid}/task/{tid}/syscall", "rb") as f:
            fields = f.read().split()
        if len(fields) < 2 or not fields[0].isdigit() or int(fields[0]) not in _READ_CALLS:
            return False
        return file_id(f"{proc}/{pid}/fd/{int(fields[1], 16)}") == target
    except (OSError, ValueError):  # gone, not ours to look at, or no such descriptor any more
        return False


def blocked_reading(root: int, target: tuple[int, int], proc: str = "/proc") -> bool:
    """Is `root`, or a process below it, blocked reading the file identified by `target`?"""
    for pid in (root, *procs.descendants(root, proc)):
        try:
            tids = os.listdir(f"{proc}/{pid}/task")
        except OSError:
            continue
        if any(_blocked_on(pid, tid, target, proc) for tid in tids):
            return True
    return False


class StdinWatch:
    """The stdin of one run: the kernel's end of the FIFO, and when to look for a reader.
    Not thread-safe: the REPL's lock guards it."""

    def __init__(self, path: str | None, target: tuple[int, int], proc: str = "/proc"):
        self.fd = None if path is None else os.open(path, os.O_RDWR | os.O_NONBLOCK)
        self.pending = False  # a question is open
        self._target, self._proc = target, proc
        self._looking = supported(proc)
        self.last_activity = self._last_look = time.monotonic()
        self._looked = False  # looked for a reader since the last activity
        self._backoff = QUIET

    def activity(self) -> None:
        """The run printed or said something: it is not (yet) waiting."""
        self.last_activity = time.monotonic()
        self._looked = False
        self._backoff = QUIET

    def due(self) -> float | None:
        """When to look for a blocked reader next (monotonic time), or None: not now."""
        if self.fd is None or self.pending or not self._looking:
            return None
        if not self._looked:
            return min(self.last_activity + QUIET, self._last_look + SLOWEST)
        return self._last_look + self._backoff

    def look(self, root: int) -> bool:
        """If it is time, look below `root` for a reader; True when one is blocked."""
        due = self.due()
        now = time.monotonic()
        if due is None or now < due:
            return False
        self._backoff = min(self._backoff * 2, SLOWEST) if self._looked else QUIET * 2
        self._looked, self._last_look = True, now
        return blocked_reading(root, self._target, self._proc)

    def ask(self) -> bool:
        """Open a question, unless one is open or the last answer is still unread; True if opened."""
        if self.fd is None or self.pending or posix.unread(self.fd):
            return False
        self.pending = True
        return True

    def answer(self, text: str | None) -> None:
        """Hand the reader a line, or end of file (None), and close the question."""
        if self.fd is not None:
            if text is None:
                self.close()
            else:
                write_some(self.fd, (text + "\n").encode())
        self.pending = False
        self.activity()

    def close(self) -> None:
        posix.close_quietly(self.fd)
        self.fd = None


def write_some(fd: int, data: bytes) -> None:
    """Write what a non-blocking pipe takes now; say what it did not."""
    try:
        written = os.write(fd, data)
    except OSError as e:
        log.warning("could not write to the interpreter: %s", e)
        return
    if written < len(data):
        log.warning("the interpreter's input is full; %d bytes dropped", len(data) - written)
