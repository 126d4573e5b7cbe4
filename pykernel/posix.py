"""POSIX plumbing shared by the kernel's I/O threads: wake-ups, non-blocking reads, child watching,
signals to process groups. Standard library only (no zmq), so any layer may use it.

Rules
- Every descriptor made here is non-blocking and not inherited by children.
- Nothing here raises for a peer that went away: a full wake-up pipe, a process group that is gone
  (ESRCH) or not ours (EPERM), a read that finds nothing. Those are the normal course of things for
  a kernel whose children come and go.
- `ChildWatch` prefers a pidfd (Linux 5.3+), which becomes readable when the child ends, so the
  watcher sleeps in poll(). Where there is none (older Linux, macOS) it has no descriptor, and the
  owner polls `ended()` at `FALLBACK_POLL` intervals instead.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import termios

#: Seconds between two looks at a child's state where no pidfd tells when it ends.
FALLBACK_POLL = 0.2


class Wakeup:
    """A pipe a thread polls beside its other descriptors, so another thread (or a signal
    handler) can wake it: `set` from anywhere, `clear` by the woken thread."""

    def __init__(self) -> None:
        self.r, self.w = os.pipe()
        for fd in (self.r, self.w):
            os.set_blocking(fd, False)

    def fileno(self) -> int:
        return self.r

    def set(self) -> None:
        try:
            os.write(self.w, b"x")
        except OSError:  # full: the reader has plenty to wake it already; closed: nobody to wake
            pass

    def clear(self) -> None:
        drain(self.r)

    def close(self) -> None:
        close_quietly(self.r, self.w)


def read_available(fd: int, limit: int = 1 << 16) -> tuple[bytes, bool]:
    """Read what a non-blocking `fd` holds now, up to about `limit` bytes: (data, at end of file)."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        try:
            data = os.read(fd, limit - size)
        except BlockingIOError:
            break
        if not data:
            return b"".join(chunks), True
        chunks.append(data)
        size += len(data)
    return b"".join(chunks), False


def drain(fd: int) -> None:
    """Read and forget everything a non-blocking `fd` holds (until EAGAIN or end of file)."""
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def unread(fd: int) -> int:
    """How many bytes wait to be read in pipe or FIFO `fd` (FIONREAD)."""
    buf = bytearray(4)
    fcntl.ioctl(fd, termios.FIONREAD, buf)
    return int.from_bytes(buf, "little")


def close_quietly(*fds: int | None) -> None:
    """Close each descriptor that is not None; one already closed is no error."""
    for fd in fds:
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


def kill(pid: int, sig: int) -> bool:
    """Send `sig` to process `pid`; False when it is gone or not ours to signal."""
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def killpg(pgid: int, sig: int) -> bool:
    """Send `sig` to process group `pgid`; False when the group is gone or not ours to signal."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def group_exists(pgid: int) -> bool:
    """Whether process group `pgid` still has a process (one we may not signal counts)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ChildWatch:
    """Tells when a child process has ended: a pidfd to poll where the system has them, else
    `ended()` asked at `FALLBACK_POLL` intervals (`fileno()` is then None)."""

    def __init__(self, proc: subprocess.Popen, use_pidfd: bool = True):
        self.proc = proc
        self._fd: int | None = None
        if use_pidfd:
            try:
                self._fd = os.pidfd_open(proc.pid)
            except (AttributeError, OSError):  # no pidfd_open here (macOS, Linux < 5.3)
                pass

    def fileno(self) -> int | None:
        return self._fd

    def ended(self, ready: set[int] | None = None) -> bool:
        """Whether the child has ended; `ready` is the set of descriptors poll() returned."""
        if self._fd is not None and ready is not None:
            return self._fd in ready
        return self.proc.poll() is not None

    def timeout(self) -> float | None:
        """The longest a poll() may sleep and still notice the end: None with a pidfd."""
        return None if self._fd is not None else FALLBACK_POLL

    def close(self) -> None:
        close_quietly(self._fd)
        self._fd = None
