"""Which processes are blocked reading a given file: how a kernel sees that a program wants input.

Linux shows, in /proc/PID/task/TID/syscall, the system call a thread is blocked in and its arguments;
a thread blocked in read(2) (or readv, pread) whose file descriptor argument refers to the file in
question is waiting for input from it. Nothing is guessed from output or prompts. Elsewhere (or if
/proc hides these files) `blocked_reading` answers False and input is only asked for when the
program says so itself.
"""

from __future__ import annotations

import os
import platform

from .. import procs

# read, pread64, readv, preadv, preadv2 per architecture (the numbers are the kernel's ABI)
_READ_CALLS = {
    "x86_64": {0, 17, 19, 295, 327},
    "aarch64": {63, 65, 67, 69, 286},
    "arm64": {63, 65, 67, 69, 286},
    "riscv64": {63, 65, 67, 69, 286},
}.get(platform.machine(), set())

SUPPORTED = bool(_READ_CALLS) and os.path.exists("/proc/self/syscall")


def file_id(path_or_fd: str | int) -> tuple[int, int]:
    st = os.stat(path_or_fd)
    return st.st_dev, st.st_ino


def _blocked_on(pid: int, tid: str, target: tuple[int, int]) -> bool:
    try:
        with open(f"/proc/{pid}/task/{tid}/syscall", "rb") as f:
            fields = f.read().split()
        if len(fields) < 2 or not fields[0].isdigit() or int(fields[0]) not in _READ_CALLS:
            return False
        return file_id(f"/proc/{pid}/fd/{int(fields[1], 16)}") == target
    except (OSError, ValueError):  # gone, not ours to look at, or no such descriptor any more
        return False


def blocked_reading(root: int, target: tuple[int, int]) -> bool:
    """Is `root`, or a process below it, blocked reading the file identified by `target`?"""
    if not SUPPORTED:
        return False
    for pid in (root, *procs.descendants(root)):
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        if any(_blocked_on(pid, tid, target) for tid in tids):
            return True
    return False
