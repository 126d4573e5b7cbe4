"""The only module that imports zmq: connection files, the five sockets, and who may touch them.

Theory of operation
- One owner per socket. zmq sockets are not thread-safe, so every socket has a rule:
  * shell (ROUTER): owned by one thread at a time, the *shell reader* (the main shell thread, or the
    subshell router while subshells exist). Other threads hand their replies to `send_shell`, which
    sends directly when called on the owner and otherwise queues the frames and wakes the owner.
  * control (ROUTER): owned by the control thread; everything on it is sent from there.
  * iopub (XPUB): any thread publishes, under a lock; there is no publishing thread and no queue, so a
    message costs one `send` and no thread hop. Subscriptions are read under the same lock by whichever
    thread notices them (the control thread watches the socket's fd), and answered with `iopub_welcome`.
  * stdin (ROUTER): used under a lock by the thread asking for input, for the whole exchange.
  * heartbeat: its own zmq context and a C-level `zmq.proxy` echo in its own thread, so it answers
    while Python code holds the GIL.
- This module never decodes a message beyond what the wire layer does and never decides what a message
  means: it moves frames. The kernel core above it decides.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import secrets
import socket
import threading
import uuid
from dataclasses import asdict, dataclass, field
from typing import Callable

import zmq

from . import procs
from .wire import Message, ProtocolError, Session

log = logging.getLogger("pykernel")

PORT_NAMES = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
_MORE = int(zmq.SNDMORE)
_ZERO_COPY = 1 << 16  # below this, copying a frame is cheaper than tracking a zero-copy one


def send_frames(sock: zmq.Socket, frames: list) -> None:
    """send_multipart without its per-frame overhead (enum flag arithmetic, Frame objects for small
    parts): about four times faster for the small messages that make up most kernel traffic."""
    send = sock.send
    last = len(frames) - 1
    for i, f in enumerate(frames):
        flags = _MORE if i < last else 0
        if len(f) < _ZERO_COPY:
            send(f, flags)
        else:
            send(f, flags, copy=False)


@dataclass
class ConnectionInfo:
    """The content of a Jupyter connection file."""

    transport: str = "tcp"
    ip: str = "127.0.0.1"
    shell_port: int = 0
    iopub_port: int = 0
    stdin_port: int = 0
    control_port: int = 0
    hb_port: int = 0
    key: str = ""
    signature_scheme: str = "hmac-sha256"
    kernel_name: str = ""
    curve_publickey: str | None = None
    curve_secretkey: str | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def read(cls, path: str) -> "ConnectionInfo":
        with open(path) as f:
            data = json.load(f)
        known = {k: data.pop(k) for k in list(data) if k in cls.__dataclass_fields__ and k != "extra"}
        info = cls(**known, extra=data)
        if info.transport not in ("tcp", "ipc"):
            raise ValueError(f"{path}: transport must be 'tcp' or 'ipc', not {info.transport!r}")
        return info

    @classmethod
    def new(cls, ip: str = "127.0.0.1", transport: str = "tcp") -> "ConnectionInfo":
        """Fresh info with a random key; ports stay 0 and are chosen when the sockets bind."""
        return cls(transport=transport, ip=ip, key=str(uuid.uuid4()))

    def write(self, path: str) -> None:
        data = {k: v for k, v in asdict(self).items() if k != "extra" and v is not None}
        data.update(self.extra)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)

    def url(self, port_name: str) -> str:
        port = getattr(self, port_name)
        if self.transport == "ipc":
            return f"ipc://{self.ip}-{port}"
        return f"tcp://{_bracket(self.ip)}:{port}"


def _bracket(ip: str) -> str:
    return f"[{ip}]" if ":" in ip and not ip.startswith("[") else ip


def _bind(sock: zmq.Socket, info: ConnectionInfo, port_name: str) -> None:
    port = getattr(info, port_name)
    if info.transport == "tcp":
        if ":" in info.ip:
            sock.ipv6 = True
        if port <= 0:
            port = sock.bind_to_random_port(f"tcp://{_bracket(info.ip)}")
            setattr(info, port_name, port)
        else:
            sock.bind(info.url(port_name))
    else:
        if port <= 0:
            port = 1
            while os.path.exists(f"{info.ip}-{port}"):
                port += 1
            setattr(info, port_name, port)
        sock.bind(info.url(port_name))


class Wakeup:
    """A pipe a thread can poll beside its sockets, so another thread can wake it."""

    def __init__(self) -> None:
        self.r, self.w = os.pipe()
        os.set_blocking(self.r, False)
        os.set_blocking(self.w, False)

    def set(self) -> None:
        try:
            os.write(self.w, b"x")
        except BlockingIOError:  # the pipe is full: the reader has plenty to wake it already
            pass

    def clear(self) -> None:
        try:
            while os.read(self.r, 4096):
                pass
        except BlockingIOError:
            pass


class Transport:
    """Binds the kernel's sockets and moves frames. Messages in, messages out; nothing more."""

    def __init__(self, info: ConnectionInfo, session: Session):
        self.info = info
        self.session = session
        self.ctx = zmq.Context()
        self.shell = self._socket(zmq.ROUTER, "shell_port")
        self.control = self._socket(zmq.ROUTER, "control_port")
        self.stdin = self._socket(zmq.ROUTER, "stdin_port")
        self.stdin.router_mandatory = True  # asking a frontend that is gone fails at once
        self.iopub = self._socket(zmq.XPUB, "iopub_port", verbose=True)
        self._iopub_lock = threading.Lock()
        self._stdin_lock = threading.Lock()
        self._iopub_fd = self.iopub.getsockopt(zmq.FD)
        self._shell_owner: int | None = None
        self._shell_outbox: queue.SimpleQueue = queue.SimpleQueue()
        self.shell_wakeup = Wakeup()
        self.control_wakeup = Wakeup()
        self._hb_ctx = zmq.Context()
        self._hb = self._socket(zmq.ROUTER, "hb_port", ctx=self._hb_ctx)
        self._hb_thread = procs.start_internal_thread(self._heartbeat, "pykernel-heartbeat")

    def _socket(self, kind: int, port_name: str, ctx: zmq.Context | None = None,
                verbose: bool = False) -> zmq.Socket:
        sock = (ctx or self.ctx).socket(kind)
        sock.linger = 1000
        if kind == zmq.XPUB:
            sock.xpub_verbose = verbose  # a welcome for every subscriber, not only the first
            # A slow subscriber must not make us drop output: see `publish`.
            sock.sndhwm = 0
        if kind == zmq.ROUTER:
            sock.router_handover = True  # a reconnecting frontend with the same identity takes over
        if self.info.curve_secretkey:
            sock.curve_server = True
            sock.curve_secretkey = self.info.curve_secretkey.encode("ascii")
            sock.curve_publickey = self.info.curve_publickey.encode("ascii")
        _bind(sock, self.info, port_name)
        return sock

    def _heartbeat(self) -> None:
        try:
            zmq.proxy(self._hb, self._hb)
        except zmq.ContextTerminated:
            pass
        except zmq.ZMQError as e:  # pragma: no cover - only on teardown races
            log.debug("heartbeat stopped: %s", e)

    # ---- receiving -------------------------------------------------------------------------------

    def decode(self, frames: list, channel: str) -> Message | None:
        """Decode, or log and drop. Never raises for a peer's bad bytes."""
        try:
            return self.session.deserialize(frames)
        except ProtocolError as e:
            log.warning("dropped a message on %s: %s", channel, e)
            return None

    def claim_shell(self) -> None:
        """Make the calling thread the shell socket's owner (its only reader and sender)."""
        self._shell_owner = threading.get_ident()

    def shell_poller(self) -> Callable[[int | None], list[Message] | None]:
        """A receive function for the shell owner: waits up to `timeout` ms for shell messages or a
        wakeup; sends queued replies from other threads; returns the messages received (possibly
        none), or None when woken with nothing to read."""
        poller = zmq.Poller()
        poller.register(self.shell, zmq.POLLIN)
        poller.register(self.shell_wakeup.r, zmq.POLLIN)
        shell, wake_fd = self.shell, self.shell_wakeup.r

        def poll(timeout: int | None = None) -> list[Message] | None:
            events = dict(poller.poll(timeout))
            if wake_fd in events:
                self.shell_wakeup.clear()
                self._flush_shell_outbox()
            if shell not in events:
                return None
            out = []
            while shell.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                msg = self.decode(shell.recv_multipart(), "shell")
                if msg is not None:
                    out.append(msg)
            return out

        return poll

    def recv_shell_nowait(self) -> list[Message]:
        """Everything already waiting on the shell socket (owner only)."""
        out = []
        while True:
            try:
                frames = self.shell.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return out
            msg = self.decode(frames, "shell")
            if msg is not None:
                out.append(msg)

    # ---- sending ---------------------------------------------------------------------------------

    def send_shell(self, frames: list) -> None:
        if threading.get_ident() == self._shell_owner:
            self._flush_shell_outbox()
            send_frames(self.shell, frames)
        else:
            self._shell_outbox.put(frames)
            self.shell_wakeup.set()

    def _flush_shell_outbox(self) -> None:
        while True:
            try:
                frames = self._shell_outbox.get_nowait()
            except queue.Empty:
                return
            send_frames(self.shell, frames)

    def send_control(self, frames: list) -> None:
        send_frames(self.control, frames)

    def publish(self, frames: list) -> None:
        """Publish on iopub from any thread. The send high-water mark is unlimited, so a subscriber
        that reads slowly makes the kernel buffer rather than drop; the kernel's stream coalescing
        keeps the number of messages (and so that buffer) small."""
        with self._iopub_lock:
            send_frames(self.iopub, frames)
            if self.iopub.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                self._read_subscriptions()

    def _read_subscriptions(self) -> None:
        # called with the iopub lock held
        while True:
            try:
                event = self.iopub.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            if event[:1] == b"\x01":
                topic = event[1:].decode("utf-8", "replace")
                frames = self.session.serialize("iopub_welcome", {"subscription": topic})
                send_frames(self.iopub, frames)

    def check_subscriptions(self) -> None:
        with self._iopub_lock:
            if self.iopub.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                self._read_subscriptions()

    # ---- control ---------------------------------------------------------------------------------

    def control_poller(self) -> Callable[[int | None], list[Message] | None]:
        """A receive function for the control thread; also answers iopub subscriptions."""
        poller = zmq.Poller()
        poller.register(self.control, zmq.POLLIN)
        poller.register(self._iopub_fd, zmq.POLLIN)
        poller.register(self.control_wakeup.r, zmq.POLLIN)
        control, wake_fd, iopub_fd = self.control, self.control_wakeup.r, self._iopub_fd

        def poll(timeout: int | None = None) -> list[Message] | None:
            events = dict(poller.poll(timeout))
            if iopub_fd in events:
                self.check_subscriptions()
            if wake_fd in events:
                self.control_wakeup.clear()
            out = []
            while control.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                msg = self.decode(control.recv_multipart(), "control")
                if msg is not None:
                    out.append(msg)
            return out or None

        return poll

    # ---- stdin -----------------------------------------------------------------------------------

    def stdin_exchange(self, frames: list, accept: Callable[[Message], bool]) -> Message:
        """Send an input_request and wait for the reply `accept` takes. Interruptible: the wait is a
        poll with a timeout, so a KeyboardInterrupt raised by a signal handler comes through.
        Raises EOFError when the frontend's stdin socket is not connected."""
        with self._stdin_lock:
            # Replies to a request that was abandoned (interrupted) are stale: drop them.
            while True:
                try:
                    self.stdin.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
            try:
                send_frames(self.stdin, frames)
            except zmq.ZMQError as e:
                if e.errno != zmq.EHOSTUNREACH:
                    raise
                raise EOFError("the frontend that asked for input is no longer connected") from None
            while True:
                if not self.stdin.poll(100):
                    continue
                msg = self.decode(self.stdin.recv_multipart(), "stdin")
                if msg is not None and accept(msg):
                    return msg

    # ---- teardown --------------------------------------------------------------------------------

    def close(self) -> None:
        for sock in (self.shell, self.control, self.stdin):
            sock.close(linger=0)
        with self._iopub_lock:
            self.iopub.close(linger=1000)  # let the last status/shutdown messages out
        self.ctx.term()
        self._hb_ctx.destroy(linger=0)


def free_port(ip: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def random_key() -> str:
    return secrets.token_hex(16)
