"""Read a socket option of a TCP connection that another process holds.

The server side of a websocket lives in the server's process, out of a test's reach. Linux's
pidfd_getfd(2) (5.6+) copies a file descriptor of another process into ours; the copy is the same
socket, so getsockopt on it answers for the server's socket. Allowed for a child process of ours (or
with CAP_SYS_PTRACE); anything else raises ProbeUnavailable with the reason.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket

SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture (unified syscall table)


class ProbeUnavailable(Exception):
    """This system does not let us copy the other process's descriptors."""


def _getfd(pidfd: int, fd: int) -> int | None:
    """Our copy of the other process's `fd`, or None if it closed it meanwhile."""
    libc = ctypes.CDLL(None, use_errno=True)
    copy = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
    if copy >= 0:
        return copy
    err = ctypes.get_errno()
    if err == errno.EBADF:
        return None
    raise ProbeUnavailable(f"pidfd_getfd(2) failed: {os.strerror(err)}")


def _sockets(pid: int) -> list[int]:
    """The descriptor numbers of `pid` that are sockets."""
    found = []
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                found.append(int(name))
        except FileNotFoundError:  # closed meanwhile
            pass
    return found


def tcp_option(pid: int, peer: tuple[str, int], level: int, option: int) -> int:
    """getsockopt(level, option) of the socket in process `pid` connected to `peer` (host, port)."""
    if not hasattr(os, "pidfd_open"):
        raise ProbeUnavailable("os.pidfd_open is missing (Linux 5.3+ and Python 3.9+ needed)")
    pidfd = os.pidfd_open(pid)
    try:
        for fd in _sockets(pid):
            copy = _getfd(pidfd, fd)
            if copy is None:
                continue
            with socket.socket(fileno=copy) as sock:
                if (sock.family, sock.type) == (socket.AF_INET, socket.SOCK_STREAM) \
                        and _peer(sock) == peer:
                    return sock.getsockopt(level, option)
    finally:
        os.close(pidfd)
    raise LookupError(f"process {pid} holds no TCP socket connected to {peer}")


def _peer(sock: socket.socket):
    try:
        return sock.getpeername()
    except OSError:  # a listening socket
        return None


def nodelay(pid: int, peer: tuple[str, int]) -> bool:
    """Whether Nagle's algorithm is off on `pid`'s side of its connection to `peer`."""
    return bool(tcp_option(pid, peer, socket.IPPROTO_TCP, socket.TCP_NODELAY))
