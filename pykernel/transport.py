"""The only module that imports zmq: connection files, the five sockets, and who may touch them.

Theory of operation
- One owner per socket. zmq sockets are not thread-safe, so every socket has a rule:
  * shell (ROUTER): owned by one thread at a time, the *shell reader* (the main shell thread, or the
    subshell router while subshells exist). Other threads hand their replies to `send_shell`, which
    sends directly when called on the owner and otherwise queues the frames and wakes the owner.
  * control (ROUTER): owned by the control thread; everything on it is sent from there.
  * iopub (XPUB): any thread publishes, under a lock; there is no publishing thread and no queue, so a
    message costs one `send` and no thread hop. Subscriptions are read under the same lock by whichever
    thread notices them (the control thread watches the socket's fd), and answered with `iopub_welcome`;
    the first one sets `subscribed`, which the kernel waits for before serving shell.
  * stdin (ROUTER): used under a lock by the thread asking for input, for the whole exchange. The
    wait ends with EOFError when the asking frontend's shell connection closes (a killed frontend
    blocks no cell): see `stdin_exchange`. The shell socket's monitor socket (connections accepted
    and closed) is read by the control thread.
  * heartbeat: its own zmq context and a C-level `zmq.proxy` echo in its own thread, so it answers
    while Python code holds the GIL.
  * `FdInbox` (STREAM): raw bytes written to file descriptors, used under its user's lock. See there.
- This module never decodes a message beyond what the wire layer does and never decides what a message
  means: it moves frames. The kernel core above it decides. Bad messages are logged through
  `DropLog`: the first at once, then a count, so a flood of them does not flood the log.
- No ROUTER lets a second connection take over a routing identity in use (ROUTER_HANDOVER off).

Bounded iopub
- The problem: a subscriber that stops reading (a suspended laptop, a stuck proxy) while a cell
  prints 100 MB made the kernel queue all of it for that subscriber, in the kernel's memory, when
  the send high-water mark was 0 (no limit): +108 MiB of peak RSS measured.
- What zmq offers: an XPUB at its SNDHWM (counted in messages, per subscriber) drops for that
  subscriber, and the sender cannot tell; with XPUB_NODROP it refuses the whole message (EAGAIN)
  while any subscriber's queue is full, and does not say whose. POLLOUT on an XPUB is always set, so
  the only way to wait is a send with SNDTIMEO (libzmq wakes it when a queue drains).
- What pykernel does: SNDHWM `iopub_hwm` (32) and XPUB_NODROP. A send that finds a queue full
  waits, in slices of 50 ms with the lock let go in between, so output slows down to the pace of
  the slowest subscriber that reads, and a subscriber that reads loses nothing. A queue that stays
  full for `iopub_stall_timeout` (5 s) belongs to a subscriber that stalled: that one message is
  sent without NODROP. zmq drops it for the full queue and, from then on, skips that queue without
  waiting until its subscriber has read part of it (then it gets output again). Its queue is the
  only one full at that moment: the others had the whole wait to drain theirs. `stalls` counts
  these; the kernel core ends such a request with a notice on stderr (kernel.STALL_NOTICE), which
  every subscriber that reads by then shows in the cell, the one that fell behind included.
- The bound, measured (tests/test_transport.py: 100 MiB printed in 1 KiB lines, one subscriber that
  never reads, one that reads): peak RSS +20 MiB with iopub_hwm 8, +36 MiB with 32, +111 MiB with
  128 (everything fits in the queue before the stall is seen), +108 MiB with no limit. Stream
  messages are at most 1 MiB (streams.py splits bigger text) and zmq keeps one copy of a message
  for all the queues it is in, so a stalled subscriber holds at most about `iopub_hwm` MiB of
  printed output. A rich display message is not split: a stalled subscriber may hold `iopub_hwm`
  of them.
- The price: while a queue is full every publisher waits, the control thread's busy/idle
  included, for up to `iopub_stall_timeout` once per stall. Without a stalled subscriber the queues
  do not fill: see bench/RESULTS.md for the flood and large-output figures.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import logging
import os
import queue
import secrets
import select
import socket
import struct
import tempfile
import termios
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Callable

import zmq

from . import procs
from .wire import MalformedMessage, Message, ProtocolError, Session

log = logging.getLogger("pykernel")

PORT_NAMES = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
_MORE = int(zmq.SNDMORE)
_NOBLOCK = int(zmq.NOBLOCK)
_ZERO_COPY = 1 << 16  # below this, copying a frame is cheaper than tracking a zero-copy one
_SHELL_EVENTS = zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED
_WAIT_SLICE_MS = 50  # a publisher waiting for a full subscriber lets other threads in this often

#: Defaults of the bounded iopub (KernelApp.iopub_hwm, .iopub_stall_timeout): see the docstring.
IOPUB_HWM = 32
IOPUB_STALL_TIMEOUT = 5.0


def send_frames(sock: zmq.Socket, frames: list, first: int = 0) -> None:
    """send_multipart without its per-frame overhead (enum flag arithmetic, Frame objects for small
    parts): about four times faster for the small messages that make up most kernel traffic.
    `first` (NOBLOCK) applies to the first frame; zmq takes the rest of a message it accepted."""
    send = sock.send
    last = len(frames) - 1
    for i, f in enumerate(frames):
        flags = (_MORE if i < last else 0) | (first if i == 0 else 0)
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
        os.fchmod(fd, 0o600)  # also when the file existed: it holds the key
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)

    def url(self, port_name: str) -> str:
        port = getattr(self, port_name)
        if self.transport == "ipc":
            return f"ipc://{self.ip}-{port}"
        return f"tcp://{_bracket(self.ip)}:{port}"


def is_loopback(info: ConnectionInfo) -> bool:
    """Whether only this machine can reach the kernel's ports (ipc is a local file)."""
    if info.transport == "ipc" or info.ip == "localhost":
        return True
    try:
        return ipaddress.ip_address(info.ip.strip("[]")).is_loopback
    except ValueError:  # a host name, "*", "": assume it may be reached from elsewhere
        return False


REFUSE_UNSIGNED = (
    "refusing to start: the connection file's key is empty, so messages are not signed, and "
    "{ip} can be reached from other machines: anyone who reaches its ports could run code. "
    "Put a random key in the connection file (jupyter_client writes one), or bind a loopback "
    "address (--ip=127.0.0.1).")
WARN_UNSIGNED = (
    "the connection file's key is empty: messages are not signed, and anyone on this machine "
    "who can reach the kernel's ports can run code. Put a random key in the connection file.")
WARN_PLAINTEXT = (
    "{ip} can be reached from other machines, and without CurveZMQ keys in the connection file "
    "(curve_publickey, curve_secretkey) the traffic is not encrypted: code, output and input, "
    "passwords included, can be read on the network. Add Curve keys, or bind 127.0.0.1 and "
    "connect through an SSH tunnel.")


def security_check(info: ConnectionInfo) -> tuple[str | None, list[str]]:
    """(why the kernel must not start with `info`, or None; warnings to log)."""
    local = is_loopback(info)
    if not info.key and not local:
        return REFUSE_UNSIGNED.format(ip=info.ip), []
    warnings = []
    if not info.key:
        warnings.append(WARN_UNSIGNED)
    if not local and not info.curve_secretkey:
        warnings.append(WARN_PLAINTEXT.format(ip=info.ip))
    return None, warnings


def _bracket(ip: str) -> str:
    return f"[{ip}]" if ":" in ip and not ip.startswith("[") else ip


def _bind(sock: zmq.Socket, info: ConnectionInfo, port_name: str,
          port_range: tuple[int, int] | None = None) -> None:
    port = getattr(info, port_name)
    if info.transport == "tcp":
        if ":" in info.ip:
            sock.ipv6 = True
        if port <= 0:
            # the OS's choice (port 0), or bind-or-retry inside the range: no pick-then-bind race
            low, high = port_range or (None, None)
            port = (sock.bind_to_random_port(f"tcp://{_bracket(info.ip)}") if low is None else
                    sock.bind_to_random_port(f"tcp://{_bracket(info.ip)}", low, high + 1))
            setattr(info, port_name, port)
        else:
            sock.bind(info.url(port_name))
    else:
        if port <= 0:
            port = 1
            while os.path.exists(f"{info.ip}-{port}"):
                port += 1
            setattr(info, port_name, port)
        # Created 0600: on ipc, file permissions decide who may connect at all.
        mask = os.umask(0o177)
        try:
            sock.bind(info.url(port_name))
        finally:
            os.umask(mask)


class DropLog:
    """Logs bad messages without letting a flood of them flood the log: the first at once, then
    at most one line per `interval` seconds saying how many more came and the last reason (and
    one at `flush`, for those still untold)."""

    def __init__(self, interval: float = 10.0):
        self.interval = interval
        self._untold = 0
        self._last: tuple[str, str] | None = None
        self._logged_at: float | None = None
        self._lock = threading.Lock()

    def note(self, channel: str, reason: str) -> None:
        with self._lock:
            now = time.monotonic()
            if self._logged_at is None:
                self._logged_at = now
                log.warning("dropped a message on %s: %s", channel, reason)
                return
            self._untold += 1
            self._last = (channel, reason)
            if now - self._logged_at >= self.interval:
                self._logged_at = now
                self._tell()

    def flush(self) -> None:
        with self._lock:
            self._tell()

    def _tell(self) -> None:
        if self._untold and self._last is not None:
            log.warning("dropped %d more messages; the last on %s: %s", self._untold, *self._last)
            self._untold = 0


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

    def __init__(self, info: ConnectionInfo, session: Session,
                 port_range: tuple[int, int] | None = None, iopub_hwm: int = IOPUB_HWM,
                 iopub_stall_timeout: float = IOPUB_STALL_TIMEOUT):
        """Bind the sockets: on the ports in `info`, and where those are 0 on ports the OS
        chooses, or inside `port_range` (inclusive) when given. `info` gets the ports bound."""
        self.info = info
        self.port_range = port_range
        self.session = session
        self.iopub_hwm = iopub_hwm
        self.iopub_stall_timeout = iopub_stall_timeout
        self.stalls = 0  # iopub subscribers found stalled (see publish); the kernel tells them
        self.drops = DropLog()
        self.ctx = zmq.Context()
        self.shell = self._socket(zmq.ROUTER, "shell_port")
        self.control = self._socket(zmq.ROUTER, "control_port")
        self.stdin = self._socket(zmq.ROUTER, "stdin_port")
        self.stdin.router_mandatory = True  # asking a frontend that is gone fails at once
        # ... and one that goes while asked is seen going: see `stdin_exchange`
        self._shell_events = self.shell.get_monitor_socket(_SHELL_EVENTS)
        self._gone: set[int] = set()  # shell connections (fds) closed since they were accepted
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
        # Set at the first iopub subscription: until then, output would be published to nobody.
        self.subscribed = threading.Event()
        self.bound_at = time.monotonic()

    def _socket(self, kind: int, port_name: str, ctx: zmq.Context | None = None,
                verbose: bool = False) -> zmq.Socket:
        sock = (ctx or self.ctx).socket(kind)
        sock.linger = 1000
        if kind == zmq.XPUB:
            sock.xpub_verbose = verbose  # a welcome for every subscriber, not only the first
            # Bounded queues that make the sender wait instead of dropping: see `publish`.
            sock.sndhwm = self.iopub_hwm
            sock.xpub_nodrop = True
            sock.sndtimeo = _WAIT_SLICE_MS
        # ROUTER_HANDOVER stays off: a second connection with a routing identity that is in use
        # (iopub shows every frontend's) is ignored instead of taking its messages over.
        if self.info.curve_secretkey:
            sock.curve_server = True
            sock.curve_secretkey = self.info.curve_secretkey.encode("ascii")
            sock.curve_publickey = self.info.curve_publickey.encode("ascii")
        _bind(sock, self.info, port_name, self.port_range)
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
        """Decode, or log and drop. Never raises for a peer's bad bytes. A signed message with a
        good header and bad content comes back with `problem` set, for the kernel to answer."""
        try:
            return self.session.deserialize(frames)
        except MalformedMessage as e:
            self.drops.note(channel, str(e))
            e.message.problem = str(e)
            return e.message
        except ProtocolError as e:
            self.drops.note(channel, str(e))
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
                msg = self._recv_shell(0)
                if msg is not None:
                    out.append(msg)
            return out

        return poll

    def recv_shell_nowait(self) -> list[Message]:
        """Everything already waiting on the shell socket (owner only)."""
        out = []
        while True:
            try:
                msg = self._recv_shell(_NOBLOCK)
            except zmq.Again:
                return out
            if msg is not None:
                out.append(msg)

    def _recv_shell(self, flags: int) -> Message | None:
        """One shell message, with `peer` set to the connection (fd) it came on."""
        first = self.shell.recv(flags, copy=False)
        frames = [first.bytes]
        while self.shell.getsockopt(zmq.RCVMORE):
            frames.append(self.shell.recv())
        msg = self.decode(frames, "shell")
        if msg is not None:
            msg.peer = first.get(zmq.SRCFD)
        return msg

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
        """Publish on iopub from any thread. Waits while a subscriber's queue is full, at most
        `iopub_stall_timeout` seconds: see the module's docstring, "Bounded iopub"."""
        deadline = None
        while True:
            with self._iopub_lock:
                late = deadline is not None and time.monotonic() >= deadline
                if self._send_iopub(frames, late):
                    if self.iopub.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                        self._read_subscriptions()
                    return
            # Nothing of the message was sent: other threads may use the socket meanwhile.
            if deadline is None:
                deadline = time.monotonic() + self.iopub_stall_timeout

    def _send_iopub(self, frames: list, late: bool) -> bool:
        """One attempt, with the iopub lock held. False: a subscriber's queue stayed full for one
        slice of the wait, and nothing was sent."""
        try:
            send_frames(self.iopub, frames)  # waits for at most one slice (SNDTIMEO)
            return True
        except zmq.Again:
            if not late:
                return False
        log.warning("an iopub subscriber has read nothing for %.1f s; it misses output until it "
                    "reads again", self.iopub_stall_timeout)
        self._send_lossy(frames)
        self.stalls += 1
        return True

    def _send_lossy(self, frames: list) -> None:
        """Send to every subscriber with room. zmq drops the message for a full queue and skips
        that queue from then on, with no wait, until its subscriber has read some of it."""
        self.iopub.xpub_nodrop = False
        try:
            send_frames(self.iopub, frames)
        finally:
            self.iopub.xpub_nodrop = True

    def _read_subscriptions(self) -> None:
        # called with the iopub lock held
        while True:
            try:
                event = self.iopub.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            if event[:1] == b"\x01":
                self.subscribed.set()
                topic = event[1:].decode("utf-8", "replace")
                frames = self.session.serialize("iopub_welcome", {"subscription": topic})
                try:
                    send_frames(self.iopub, frames, _NOBLOCK)
                except zmq.Again:  # someone else's queue is full; the new subscriber's is not
                    self._send_lossy(frames)

    def check_subscriptions(self) -> None:
        with self._iopub_lock:
            if self.iopub.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                self._read_subscriptions()

    # ---- control ---------------------------------------------------------------------------------

    def control_poller(self) -> Callable[[int | None], list[Message] | None]:
        """A receive function for the control thread; also answers iopub subscriptions and keeps
        track of closed shell connections."""
        poller = zmq.Poller()
        poller.register(self.control, zmq.POLLIN)
        poller.register(self._iopub_fd, zmq.POLLIN)
        poller.register(self.control_wakeup.r, zmq.POLLIN)
        poller.register(self._shell_events, zmq.POLLIN)
        control, wake_fd, iopub_fd = self.control, self.control_wakeup.r, self._iopub_fd
        shell_events = self._shell_events

        def poll(timeout: int | None = None) -> list[Message] | None:
            events = dict(poller.poll(timeout))
            if iopub_fd in events:
                self.check_subscriptions()
            if shell_events in events:
                self._note_shell_events()
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

    def _note_shell_events(self) -> None:
        # control thread: the monitor socket is read here only
        while True:
            try:
                event = self._shell_events.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            kind, fd = struct.unpack("=HI", event[0][:6])
            if kind == zmq.EVENT_ACCEPTED:
                self._gone.discard(fd)
            elif kind == zmq.EVENT_DISCONNECTED:
                self._gone.add(fd)

    def stdin_exchange(self, frames: list, accept: Callable[[Message], bool],
                       peer: int = -1) -> Message:
        """Send an input_request and wait for the reply `accept` takes. Interruptible: the wait is a
        poll with a timeout, so a KeyboardInterrupt raised by a signal handler comes through.
        Raises EOFError when the frontend's stdin socket is not connected, or when its shell
        connection `peer` (the request's) closes during the wait: the frontend is gone.

        Why the shell connection: zmq tells which connection a message came on (its fd) and when a
        connection closes (a monitor event with the fd), but not which routing identity a closed
        connection had; ROUTER_NOTIFY, which would, is a draft API that released libzmq builds
        lack. A frontend that dies closes all its connections, shell and stdin alike."""
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
                    if peer in self._gone:
                        raise EOFError("the frontend that asked for input has disconnected")
                    continue
                msg = self.decode(self.stdin.recv_multipart(), "stdin")
                if msg is not None and not msg.problem and accept(msg):
                    return msg

    # ---- teardown --------------------------------------------------------------------------------

    def close(self) -> None:
        self.drops.flush()
        self.shell.disable_monitor()
        self._shell_events.close(linger=0)
        for sock in (self.shell, self.control, self.stdin):
            sock.close(linger=0)
        with self._iopub_lock:
            self.iopub.close(linger=1000)  # let the last status/shutdown messages out
        self.ctx.term()
        self._hb_ctx.destroy(linger=0)


class FdInbox:
    """Unix sockets whose bytes libzmq reads as they are written, with no GIL: what is written into
    them (by the kernel's fd relays, see python/fdcapture.py) never waits for a Python reader,
    however much it is and whatever holds the GIL.

    - `fds[i]` is the client end of connection i; whatever is written to it (or to an fd dup'ed from
      it) arrives as `(i, bytes)` from `recv_nowait`. libzmq's I/O thread, in a context of its own,
      reads every connection at once into the socket's queue, which has no limit (the receive
      high-water mark is 0).
    - Only this user can connect: the socket is bound in a private directory, which is removed once
      the connections are made.
    - `settled()` answers "has libzmq taken in everything written so far?" without a round trip:
      nothing is left unread in any connection (SIOCOUTQ of the client end is 0), and then the
      context's I/O thread is blocked in its poll call (procs.WaitProbe). It read the last bytes
      while running, and it polls again only once what it read is queued: so all is receivable.
      Where that cannot be read it answers False, and the caller falls back to a marker written
      after the data.
    - Not thread-safe: one thread at a time (the caller's lock); `fileno()` may be polled by another.
    """

    def __init__(self, connections: int, setup_timeout: float = 10.0):
        tasks = _tasks()
        self._ctx = zmq.Context(io_threads=1)
        self._sock = self._ctx.socket(zmq.STREAM)
        self._sock.rcvhwm = 0
        self._sock.linger = 0
        self._sock.rcvtimeo = int(setup_timeout * 1000)
        self._index: dict[bytes, int] = {}
        self.fds: list[int] = []
        self._io_thread: procs.WaitProbe | None = None
        folder = tempfile.mkdtemp(prefix="pykernel-")
        path = os.path.join(folder, "fds")
        try:
            self._sock.bind(f"ipc://{path}")
            for i in range(connections):
                client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                client.connect(path)
                self.fds.append(client.detach())
                # one connection at a time, so that the notice (routing id, b"") names this one
                routing_id, _ = self._sock.recv_multipart()
                self._index[routing_id] = i
        except (zmq.ZMQError, OSError):
            self.close()
            raise OSError("could not connect the fd inbox") from None
        finally:
            if os.path.exists(path):
                os.unlink(path)
            os.rmdir(folder)
        self._sock.rcvtimeo = -1
        self._io_thread = _io_thread_probe(tasks)
        self._news = select.poll()
        self._news.register(self.fileno(), select.POLLIN)
        self.recv_nowait()  # until the queue is found empty: from now on, news signals the fd

    def fileno(self) -> int:
        """An fd that becomes readable when the socket has news (zmq's ZMQ_FD)."""
        return self._sock.getsockopt(zmq.FD)

    def has_news(self) -> bool:
        """Whether `recv_nowait` may return something. zmq signals ZMQ_FD when a queue it had
        found empty gets a message, so after a `recv_nowait` that ran to its end, an fd that is
        not readable means there is nothing to receive (about 1 µs, a tenth of a failed recv)."""
        return bool(self._news.poll(0))

    def recv_nowait(self) -> list[tuple[int, bytes]]:
        """Everything received so far, in order, as (connection index, bytes)."""
        out = []
        recv, index = self._sock.recv, self._index
        while True:
            try:
                routing_id = recv(_NOBLOCK)
                data = recv(_NOBLOCK)
            except zmq.Again:
                return out
            i = index.get(routing_id)
            if data and i is not None:  # b"": a connect/disconnect notice
                out.append((i, data))

    @property
    def observable(self) -> bool:
        """Whether `settled` can ever answer True here (it needs /proc to see the I/O thread)."""
        return self._io_thread is not None

    def settled(self) -> bool:
        """True if everything written to `fds` before this call can be received now."""
        if self._io_thread is None:
            return False
        return nothing_unread(self.fds) and self._io_thread.idle()

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []
        if self._io_thread is not None:
            self._io_thread.close()
        self._sock.close(linger=0)
        self._ctx.term()


def _io_thread_probe(before: set[str]) -> "procs.WaitProbe | None":
    """A probe of the libzmq I/O thread started since the task list `before` was read."""
    found = []
    for tid in _tasks() - before:
        try:
            with open(f"/proc/self/task/{tid}/comm", "rb") as f:
                if f.read().startswith(b"ZMQbg/IO"):
                    found.append(tid)
        except OSError:
            pass
    return procs.WaitProbe.open(f"/proc/self/task/{found[0]}") if len(found) == 1 else None


def nothing_unread(fds: list[int], request: int = termios.TIOCOUTQ,
                   buf: bytearray = bytearray(4)) -> bool:
    """Whether ioctl `request` reports 0 bytes for every fd in `fds`: with TIOCOUTQ (SIOCOUTQ, the
    same request on Linux) the peer of a socket has read all that was written to it; with FIONREAD
    nothing is left to read in a pipe. False where it cannot tell."""
    try:
        for fd in fds:
            fcntl.ioctl(fd, request, buf, True)
            if buf != b"\0\0\0\0":
                return False
    except OSError:
        return False
    return True


def _tasks() -> set[str]:
    try:
        return set(os.listdir("/proc/self/task"))
    except OSError:
        return set()


def free_port(ip: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def random_key() -> str:
    return secrets.token_hex(16)
