"""Remote launch: the contract of Enterprise Gateway's and gateway_provisioners' kernel launchers.

Those engines start a kernel on another host (a pod, a container, a YARN container, over ssh) with

    --kernel-id ID --response-address IP:PORT --public-key KEY [--port-range LOW..HIGH]

(older kernelspecs spell them `--RemoteProcessProxy.kernel-id` and so on) and wait for the kernel to
tell them where it is. pykernel plays the launcher's part itself, in the kernel process:
- it binds its five sockets on the OS's choice of port, or inside the port range (bind, and on
  EADDRINUSE try another port: never pick-then-bind), on 0.0.0.0 unless `--ip` says otherwise;
- it binds a TCP *comm port* (inside the range too), the engines' channel to the kernel's process;
- it sends the connection info, with `pid`, `pgid`, `comm_port` and `kernel_id` added, to the
  response address, encrypted as the engines' response managers decrypt it ("version 1"): the JSON
  is padded (PKCS#7) and encrypted with a fresh 16-byte AES key in ECB mode, the AES key is
  encrypted with the engine's RSA public key (PKCS#1 v1.5; the key comes as base64 DER), and
  `{"version": 1, "key": b64(rsa(aes_key)), "conn_info": b64(aes(json))}` is sent base64-encoded,
  then the connection is closed;
- it serves the comm port on a thread: one JSON request per connection, read to EOF.
  `{"signum": 0}` is the engines' liveness poll (answered by accepting), `{"signum": 2}` interrupts
  like an interrupt_request, any other signal is sent to this process, `{"shutdown": 1}` stops the
  kernel.
Spark options the engines' kernelspecs pass to ipykernel's launcher (`--spark-context-
initialization-mode`, `--cluster-type`, `--kernel-class-name`) mean nothing here: they are dropped
with a log line. The crypto comes from pycryptodomex, the package the engines themselves use
(`pip install 'jupyter-pykernel[remote]'`).
"""

from __future__ import annotations

import base64
import errno
import json
import logging
import os
import random
import signal
import socket
from dataclasses import dataclass, field
from typing import Callable, Sequence

log = logging.getLogger("pykernel")

OPTIONS = ("kernel-id", "response-address", "public-key", "port-range")
IGNORED = ("spark-context-initialization-mode", "cluster-type", "kernel-class-name")
_DEPRECATED_PREFIX = "RemoteProcessProxy."
LAUNCHER_VERSION = 1


class RemoteLaunchError(Exception):
    """Remote launch cannot go on: bad arguments, no crypto package, an unreachable engine."""


@dataclass
class RemoteOptions:
    kernel_id: str = ""
    response_address: str = ""
    public_key: str = ""
    port_range: tuple[int, int] | None = None
    ignored: list[str] = field(default_factory=list)

    def check(self) -> None:
        for name in ("kernel_id", "response_address", "public_key"):
            if not getattr(self, name):
                raise RemoteLaunchError(f"remote launch needs --{name.replace('_', '-')}")
        response_address(self.response_address)


def split_args(argv: Sequence[str]) -> tuple[RemoteOptions | None, list[str]]:
    """Take the engines' options out of `argv`: (options or None if there are none, the rest)."""
    opts, rest, i = RemoteOptions(), [], 0
    found = False
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
        name = name[len(_DEPRECATED_PREFIX):] if name.startswith(_DEPRECATED_PREFIX) else name
        if name not in OPTIONS + IGNORED:
            rest.append(arg)
            i += 1
            continue
        if not eq and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            value, i = argv[i + 1], i + 1
        i += 1
        if name in IGNORED:
            opts.ignored.append(f"--{name} {value}".strip())
            continue
        found = True
        if name == "port-range":
            opts.port_range = port_range(value)
        else:
            setattr(opts, name.replace("-", "_"), value)
    return (opts if found else None), rest


def port_range(text: str) -> tuple[int, int] | None:
    """`LOW..HIGH` as a pair, or None for no range (`0..0`, or empty)."""
    if not text:
        return None
    try:
        low, high = (int(p) for p in text.split(".."))
    except ValueError:
        raise RemoteLaunchError(f"--port-range must be LOW..HIGH, not {text!r}") from None
    if low == high == 0:
        return None
    if not 0 < low <= high < 65536:
        raise RemoteLaunchError(f"--port-range {text!r} is not a range of TCP ports")
    return low, high


def response_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise RemoteLaunchError(f"--response-address must be IP:PORT, not {text!r}")
    return host.strip("[]"), int(port)


def bind_in_range(sock: socket.socket, ip: str, ports: tuple[int, int] | None,
                  tries: int = 100) -> int:
    """Bind `sock` to a free port in `ports` (any port if None); return it."""
    if ports is None:
        sock.bind((ip, 0))
        return sock.getsockname()[1]
    for _ in range(tries):
        port = random.randint(*ports)
        try:
            sock.bind((ip, port))
            return port
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                raise
    raise RemoteLaunchError(f"no free port in {ports[0]}..{ports[1]} after {tries} tries")


def encrypt(payload: bytes, public_key: str) -> bytes:
    """The engines' version-1 response: see the module docstring."""
    try:
        from Cryptodome.Cipher import AES, PKCS1_v1_5
        from Cryptodome.PublicKey import RSA
        from Cryptodome.Random import get_random_bytes
        from Cryptodome.Util.Padding import pad
    except ImportError:
        raise RemoteLaunchError("remote launch needs pycryptodomex: "
                                "pip install 'jupyter-pykernel[remote]'") from None
    try:
        rsa = RSA.import_key(base64.b64decode(public_key))
    except (ValueError, IndexError, TypeError) as e:
        raise RemoteLaunchError(f"--public-key is not a base64 RSA public key: {e}") from None
    aes_key = get_random_bytes(16)
    conn_info = AES.new(aes_key, AES.MODE_ECB).encrypt(pad(payload, 16))
    wrapped = PKCS1_v1_5.new(rsa).encrypt(aes_key)
    body = {"version": LAUNCHER_VERSION, "key": base64.b64encode(wrapped).decode(),
            "conn_info": base64.b64encode(conn_info).decode()}
    return base64.b64encode(json.dumps(body).encode())


def send_response(opts: RemoteOptions, conn_info: dict, timeout: float = 30.0) -> None:
    """Send the encrypted connection info to the engine's response address."""
    data = encrypt(json.dumps(conn_info).encode(), opts.public_key)
    address = response_address(opts.response_address)
    try:
        with socket.create_connection(address, timeout=timeout) as s:
            s.sendall(data)
    except OSError as e:
        raise RemoteLaunchError(f"cannot send the connection info to "
                                f"{opts.response_address}: {e}") from None


class CommPort:
    """The engines' comm port: a TCP listener served by a thread of its own."""

    def __init__(self, ip: str, ports: tuple[int, int] | None):
        self.sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.port = bind_in_range(self.sock, ip, ports)
            self.sock.listen(8)
        except BaseException:
            self.sock.close()
            raise

    def serve(self, interrupt: Callable[[], None], stop: Callable[[], None]) -> None:
        """Answer requests until shutdown or until the socket is closed."""
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed by `close`
                return
            request = _read_request(conn)
            if request is None:
                continue
            if "signum" in request:
                _signal(request["signum"], interrupt)
            if request.get("shutdown"):
                log.info("the engine asked for shutdown on the comm port")
                stop()
                return

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in accept
        except OSError:
            pass
        self.sock.close()


def _read_request(conn: socket.socket) -> dict | None:
    chunks = []
    with conn:
        conn.settimeout(10.0)  # a peer that connects and never closes must not stall the port
        try:
            while chunk := conn.recv(4096):
                chunks.append(chunk)
        except OSError as e:
            log.warning("comm port: dropped a request: %s", e)
            return None
    if not chunks:
        return None
    try:
        request = json.loads(b"".join(chunks))
    except ValueError:
        log.warning("comm port: dropped a request that is not JSON: %.100r", b"".join(chunks))
        return None
    if not isinstance(request, dict):
        log.warning("comm port: dropped a request that is not an object: %.100r", request)
        return None
    return request


def _signal(signum, interrupt: Callable[[], None]) -> None:
    try:
        signum = int(signum)
    except (TypeError, ValueError):
        log.warning("comm port: signum must be a number, not %r", signum)
        return
    if signum == 0:
        return  # the engines' liveness poll: answering the connection was the answer
    log.info("comm port: signal %d", signum)
    if signum == signal.SIGINT:
        interrupt()
        return
    try:
        os.kill(os.getpid(), signum)
    except (OSError, ValueError) as e:
        log.warning("comm port: cannot send signal %d: %s", signum, e)
