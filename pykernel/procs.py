"""The kernel's child processes and threads: find them, interrupt them, end them, see them wait.

Linux exposes each task's children in /proc/<pid>/task/<tid>/children; where that file is missing we
scan /proc/*/stat for parent ids. No dependency (psutil) is needed for this. `WaitProbe` reads where
a task is blocked (/proc/<...>/syscall). Helper processes of the kernel's own are `spare`d: ending
the user's children leaves them alone.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any, Callable

from . import posix

#: Signals a frontend sends the kernel. The kernel's own threads block them, so that the kernel
#: gets them on its main thread, where Python runs signal handlers: a signal the kernel takes on
#: another thread would not wake a main thread that is waiting in a system call.
FRONTEND_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def start_internal_thread(target: Callable[..., Any], name: str, args: tuple = ()) -> threading.Thread:
    """Start a daemon thread of the kernel's own (one that never runs user code nor starts
    processes) with FRONTEND_SIGNALS blocked from its first instruction on."""
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    old = signal.pthread_sigmask(signal.SIG_BLOCK, FRONTEND_SIGNALS)  # the new thread inherits it
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return thread


class WaitProbe:
    """Which system call a thread or process is blocked in, from Linux's /proc/<...>/syscall, and
    whether that is the one it waits in when it has nothing to do (learned at `open`).

    The file names the call while the task sleeps in it, and still does while the task is being
    woken (it has not run yet). So "it is in its idle call" proves that the task finished with an
    input only together with a check, made before, that the input was already taken from its
    queue: taking it needed the task to run, and it blocks in its idle call again only when done.
    """

    def __init__(self, fd: int, idle_call: bytes):
        self._fd, self._idle = fd, idle_call + b" "

    @classmethod
    def open(cls, task: str, attempts: int = 2500) -> "WaitProbe | None":
        """A probe of `task` (e.g. /proc/self/task/<tid> or /proc/<pid>), which must be about to
        wait for input: its idle call is the one it is seen in five times in a row. None where
        /proc cannot tell (not Linux, or not allowed)."""
        try:
            fd = os.open(f"{task}/syscall", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        last, same = b"", 0
        for _ in range(attempts):
            call = _call(fd)
            same = same + 1 if call == last and call.isdigit() else 1
            last = call
            if same == 5:
                return cls(fd, call)
            time.sleep(0.0002)  # it is still starting
        os.close(fd)
        return None

    def idle(self) -> bool:
        try:
            return os.pread(self._fd, 32, 0).startswith(self._idle)
        except OSError:
            return False

    def close(self) -> None:
        os.close(self._fd)


def _call(fd: int) -> bytes:
    try:  # "<number> <args...>" while blocked in a call, "running" or "-1 ..." otherwise
        return os.pread(fd, 64, 0).split(maxsplit=1)[0]
    except (OSError, IndexError):
        return b""


def stat(pid: int, proc: str = "/proc") -> tuple[str, int, int] | None:
    """(state, ppid, pgid) of a process, or None if it is gone. `proc` is where procfs is."""
    try:
        with open(f"{proc}/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()
    return fields[0].decode(), int(fields[1]), int(fields[2])


def _children_of(pid: int, proc: str) -> list[int]:
    try:
        tasks = os.listdir(f"{proc}/{pid}/task")
    except OSError:
        return []
    out: list[int] = []
    for tid in tasks:
        try:
            with open(f"{proc}/{pid}/task/{tid}/children") as f:
                out.extend(int(p) for p in f.read().split())
        except FileNotFoundError:
            return _scan_children(pid, proc)
        except OSError:
            continue
    return out


def _scan_children(pid: int, proc: str) -> list[int]:
    out = []
    for name in os.listdir(proc):
        if name.isdigit():
            st = stat(int(name), proc)
            if st is not None and st[1] == pid:
                out.append(int(name))
    return out


def descendants(pid: int | None = None, proc: str = "/proc") -> list[int]:
    """All living descendants of `pid` (default: this process), parents before children; none
    where `proc` (procfs) cannot be read."""
    todo, out = [pid or os.getpid()], []
    while todo:
        for child in _children_of(todo.pop(), proc):
            out.append(child)
            todo.append(child)
    return out


def alive(pid: int) -> bool:
    st = stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def signal_children(sig: int) -> None:
    """Send `sig` to the descendants in this process's group, as a terminal or `killpg` would."""
    pgid = os.getpgid(0)
    for pid in descendants():
        st = stat(pid)
        if st is not None and st[2] == pgid:
            posix.kill(pid, sig)


_SPARED: set[int] = set()


def spare(pid: int) -> None:
    """Leave process `pid` (a helper of the kernel's own) alone in `terminate_children`."""
    _SPARED.add(pid)


def terminate_children(grace: float = 1.0) -> None:
    """End every descendant but the spared: SIGTERM, then SIGKILL whatever is still alive after
    `grace` seconds."""
    pids = [p for p in descendants() if p not in _SPARED]
    for pid in pids:
        posix.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pids and time.monotonic() < deadline:
        _reap()
        pids = [p for p in pids if alive(p)]
        if pids:
            time.sleep(0.01)
    for pid in pids:
        posix.kill(pid, signal.SIGKILL)
    _reap()


def _reap() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass
