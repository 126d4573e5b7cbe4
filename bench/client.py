"""One lean Jupyter client for every kernel: raw pyzmq plus pykernel's wire layer.

Theory of operation
- The client must cost the same for every kernel and as little as it can, so it is one thread and one
  poller: no jupyter_client Session, no ZMQStream, no event loop. Its only work per message is what
  `pykernel.wire` does (verify the HMAC, parse four JSON dicts), identical for all kernels.
- Launch follows jupyter_client: the kernelspec's argv with `{connection_file}` filled in and a bare
  `python`/`python3`/`python3.X` replaced by the environment's interpreter, the spec's env merged in,
  `JPY_PARENT_PID` set, a new session (so the kernel leads its own process group, which is what signal-mode
  interrupts target). The environment's bin directory goes first on PATH, as in an activated venv.
- Sockets are a frontend's: DEALER shell and control, SUB iopub. The iopub receive high-water mark stays at
  zmq's default, as at a jupyter_client frontend, so output a kernel drops is dropped here too. Requests
  get an unlimited send queue so a burst never blocks the client while a kernel's output piles up.
  Reconnect interval is 10 ms rather than 100 ms so startup figures carry less of the client's retry clock.
- Every request is a `Pending` keyed by msg_id; replies and iopub messages are matched by parent msg_id,
  anything else is dropped. Every wait has a deadline: `TimeoutError`, or `KernelDied` when the process
  is gone. Callers restart the kernel after either.
- Decoding is wire's Signer (constant-time HMAC check, replay history) and wire's Message, but JSON is
  parsed leniently: a `null` where a dict belongs is read as `{}`, as jupyter_client reads it. akernel 0.4
  sends `metadata: null`, which `Session.deserialize` (rightly strict for a kernel) refuses.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import zmq

from .wireload import wire

Message, ProtocolError, Session = wire.Message, wire.ProtocolError, wire.Session

_PYTHON_NAME = re.compile(r"python(\d+(\.\d+)?)?$")
OUTPUT_TYPES = frozenset({"stream", "display_data", "execute_result", "error", "update_display_data"})


class KernelDied(RuntimeError):
    """The kernel process exited while the client was waiting on it."""


class LaunchError(RuntimeError):
    """The kernel could not be started or never answered kernel_info."""


@dataclass
class KernelSpec:
    name: str
    argv: list
    env: dict
    language: str
    interrupt_mode: str
    display_name: str
    resource_dir: Path

    @classmethod
    def find(cls, name: str, kernel_dirs: list) -> "KernelSpec | None":
        """The spec called `name` in the first of `kernel_dirs` (directories named `kernels`) holding it."""
        for d in kernel_dirs:
            path = Path(d) / name / "kernel.json"
            if path.is_file():
                raw = json.loads(path.read_text())
                return cls(name, raw["argv"], raw.get("env", {}), raw.get("language", ""),
                           raw.get("interrupt_mode", "signal"), raw.get("display_name", name),
                           path.parent)
        return None


@dataclass
class Pending:
    """One request in flight and what has come back for it. Times are perf_counter seconds."""

    msg_id: str
    t_sent: float
    want_idle: bool = True
    on_iopub: Callable[[float, Message], None] | None = None
    reply: Message | None = None
    t_reply: float | None = None
    t_idle: float | None = None
    t_first_output: float | None = None
    outputs: int = 0

    @property
    def done(self) -> bool:
        return self.reply is not None and (self.t_idle is not None or not self.want_idle)

    @property
    def t_done(self) -> float:
        return max(self.t_reply or 0.0, self.t_idle or 0.0)


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Kernel:
    """A kernel process started from a spec, and the sockets that talk to it."""

    def __init__(self, spec: KernelSpec, python: str, workdir: Path, bindir: str | None = None):
        self.spec, self.python, self.workdir, self.bindir = spec, python, Path(workdir), bindir
        self.proc: subprocess.Popen | None = None
        self.t_launch = 0.0
        self._pending: dict[str, Pending] = {}
        self._ctx = zmq.Context.instance()

    # -- process -------------------------------------------------------------------------------------
    def _connection(self) -> Path:
        ports = free_ports(5)
        info = dict(zip(("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"), ports),
                    transport="tcp", ip="127.0.0.1", key=uuid.uuid4().hex,
                    signature_scheme="hmac-sha256", kernel_name=self.spec.name)
        self.info = info
        path = self.workdir / f"kernel-{self.spec.name}-{uuid.uuid4().hex[:8]}.json"
        path.write_text(json.dumps(info))
        return path

    def _argv(self, conn: Path) -> list:
        argv = [a.replace("{connection_file}", str(conn)).replace("{resource_dir}",
                str(self.spec.resource_dir)) for a in self.spec.argv]
        if _PYTHON_NAME.match(argv[0]):
            argv[0] = self.python
        return argv

    def _env(self) -> dict:
        env = dict(os.environ)
        if self.bindir:
            env["PATH"] = self.bindir + os.pathsep + env.get("PATH", "")
        env.update(self.spec.env)
        env["JPY_PARENT_PID"] = str(os.getpid())
        return env

    def start(self) -> None:
        """Write the connection file, connect the sockets and start the process; returns at once."""
        conn = self._connection()
        self.log_path = conn.with_suffix(".log")
        self.session = Session(self.info["key"].encode(), self.info["signature_scheme"],
                               username="bench")
        self._connect()
        log = open(self.log_path, "wb")
        self.t_launch = time.perf_counter()
        try:
            self.proc = subprocess.Popen(self._argv(conn), env=self._env(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir,
                                         start_new_session=True)
        except OSError as e:
            raise LaunchError(f"cannot start {self.spec.argv[0]!r}: {e}") from None
        finally:
            log.close()

    def _connect(self) -> None:
        url = "tcp://127.0.0.1:%d"
        self.shell = self._socket(zmq.DEALER, url % self.info["shell_port"])
        self.control = self._socket(zmq.DEALER, url % self.info["control_port"])
        self.iopub = self._socket(zmq.SUB, url % self.info["iopub_port"])
        self.iopub.setsockopt(zmq.SUBSCRIBE, b"")
        self.poller = zmq.Poller()
        for s in (self.shell, self.control, self.iopub):
            self.poller.register(s, zmq.POLLIN)

    def _socket(self, kind: int, url: str) -> zmq.Socket:
        s = self._ctx.socket(kind)
        s.linger = 0
        s.setsockopt(zmq.RECONNECT_IVL, 10)
        if kind == zmq.DEALER:
            s.sndhwm = 0
        s.connect(url)
        return s

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 6) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])

    def interrupt(self) -> None:
        """Interrupt as the spec says: SIGINT to the process group, or interrupt_request on control."""
        if self.spec.interrupt_mode == "message":
            self.send("interrupt_request", {}, channel="control", want_idle=False)
        else:
            os.killpg(self.pid, signal.SIGINT)

    def close(self, grace: float = 3.0) -> None:
        """Ask for shutdown, then terminate and kill the whole process group."""
        if self.alive():
            try:
                self.send("shutdown_request", {"restart": False}, channel="control", want_idle=False)
                self.proc.wait(grace)
            except (subprocess.TimeoutExpired, zmq.ZMQError):
                pass
        for sig, wait in ((signal.SIGTERM, 1.0), (signal.SIGKILL, 1.0)):
            try:
                os.killpg(self.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                pass
        for s in (self.shell, self.control, self.iopub):
            s.close(0)

    # -- messages ------------------------------------------------------------------------------------
    def send(self, msg_type: str, content: dict, channel: str = "shell", want_idle: bool = True,
             on_iopub: Callable | None = None) -> Pending:
        header = self.session.header(msg_type)
        frames = self.session.serialize(msg_type, content, header=header)
        p = Pending(header["msg_id"], time.perf_counter(), want_idle, on_iopub)
        self._pending[p.msg_id] = p
        getattr(self, channel).send_multipart(frames)
        return p

    def wait(self, pendings: list, timeout: float, forget: bool = True) -> None:
        """Receive until every pending is done; TimeoutError or KernelDied otherwise. With `forget`
        (the default) their later messages are dropped afterwards, whatever the outcome."""
        try:
            self.pump(lambda: all(p.done for p in pendings), timeout)
        except TimeoutError:
            replies = sum(p.reply is not None for p in pendings)
            idles = sum(p.t_idle is not None for p in pendings)
            raise TimeoutError(f"{replies} of {len(pendings)} replies and {idles} idle statuses "
                               f"within {timeout:g} s") from None
        finally:
            if forget:
                self.forget(pendings)

    def forget(self, pendings: list) -> None:
        """Drop whatever still arrives for these requests."""
        for p in pendings:
            self._pending.pop(p.msg_id, None)

    def pump(self, until: Callable[[], bool], timeout: float) -> None:
        """Receive and dispatch messages until `until()` is true."""
        deadline = time.perf_counter() + timeout
        while not until():
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"no complete answer within {timeout:g} s")
            if not self._receive(min(left, 0.2)) and not self.alive():
                raise KernelDied(f"exit code {self.proc.returncode}: {self.log_tail()}")

    def request(self, msg_type: str, content: dict, timeout: float, channel: str = "shell",
                want_idle: bool = True, on_iopub: Callable | None = None) -> Pending:
        p = self.send(msg_type, content, channel, want_idle, on_iopub)
        self.wait([p], timeout)
        return p

    def execute(self, code: str, timeout: float, on_iopub: Callable | None = None) -> Pending:
        return self.request("execute_request", execute_content(code), timeout, on_iopub=on_iopub)

    def _receive(self, timeout: float) -> bool:
        """Handle everything readable within `timeout` seconds; False if nothing came."""
        ready = dict(self.poller.poll(int(timeout * 1000)))
        for sock in ready:
            while True:
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                t = time.perf_counter()
                try:
                    msg = decode(self.session, frames)
                except (ProtocolError, ValueError, KeyError, AttributeError):
                    continue
                p = self._pending.get(msg.parent_header.get("msg_id", ""))
                if p is not None:
                    self._dispatch(p, t, msg, sock is self.iopub)
        return bool(ready)

    @staticmethod
    def _dispatch(p: Pending, t: float, msg: Message, iopub: bool) -> None:
        if not iopub:
            p.reply, p.t_reply = msg, t
            return
        kind = msg.msg_type
        if kind == "status" and msg.content.get("execution_state") == "idle":
            p.t_idle = t
        elif kind in OUTPUT_TYPES:
            p.outputs += 1
            if p.t_first_output is None:
                p.t_first_output = t
        if p.on_iopub is not None:
            p.on_iopub(t, msg)


def execute_content(code: str) -> dict:
    return {"code": code, "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True}


def decode(session: Session, frames: list) -> Message:
    """Verify a received frame list with the session's signer and parse it, reading null dicts as {}."""
    i = frames.index(wire.DELIMITER)
    parts = frames[i + 2:i + 6]
    if len(parts) < 4:
        raise ProtocolError("too few frames")
    session.signer.verify(frames[i + 1], parts)
    header, parent, metadata, content = (json.loads(p) or {} for p in parts)
    header["msg_type"]  # a message without a type is not one
    return Message(header, parent, metadata, content, list(frames[i + 6:]), list(frames[:i]))
