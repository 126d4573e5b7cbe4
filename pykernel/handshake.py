"""The kernel side of the startup handshake (protocol 5.6, JEP 66): registration files.

A launcher that wants the kernel to choose its own ports gives it a *registration file* instead of a
connection file:

    {"kernel_id": ..., "transport": "tcp", "registration_ip": ..., "registration_port": ...,
     "signature_scheme": "hmac-sha256", "key": ...}

The kernel binds its five sockets on ports the OS chooses (so no other process can take a port
between choosing and binding), connects a DEALER to the registration address and sends one signed
frame of content, `[b"<IDS|MSG>", signature, content]`, where content is
`{"kernel_id", "shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"}` and the
signature is the HMAC of that one frame. The launcher answers with a signed frame of its own (the
content is up to the launcher: xeus's sends `ACK`); once its signature checks out, the kernel
serves. No answer within the timeout, or a wrong signature, is a `HandshakeError`: the app logs it
and exits with a non-zero status instead of serving ports nobody knows about.

Tolerated variants: ports may be ints or strings (the spec writes them as strings, xeus sends
strings); `registration_ip` may be missing (loopback), and an `ip` field, when present, is where the
kernel binds its own sockets (otherwise the registration address). Ports are sent as strings, as
the spec shows; launchers that read them as ints get numeric strings they can convert.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import zmq

from .transport import PORT_NAMES, ConnectionInfo, _bracket
from .wire import DELIMITER, ProtocolError, Signer

log = logging.getLogger("pykernel")


class HandshakeError(Exception):
    """The registration did not complete: no acknowledgement, or one that is not signed right."""


@dataclass
class Registration:
    """The content of a registration file."""

    kernel_id: str
    registration_ip: str = "127.0.0.1"
    registration_port: int = 0
    transport: str = "tcp"
    key: str = ""
    signature_scheme: str = "hmac-sha256"
    ip: str = ""  # where the kernel binds; the registration ip when empty

    @staticmethod
    def is_registration(data: dict) -> bool:
        return "registration_port" in data and "shell_port" not in data

    @classmethod
    def from_dict(cls, data: dict, path: str = "registration file") -> "Registration":
        """Read the fields, accepting ports as ints or strings. Raises ValueError when unusable."""
        try:
            port = int(data["registration_port"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: registration_port must be a port number, "
                             f"not {data.get('registration_port')!r}") from None
        reg = cls(kernel_id=str(data.get("kernel_id", "")),
                  registration_ip=str(data.get("registration_ip") or "127.0.0.1"),
                  registration_port=port, transport=str(data.get("transport", "tcp")),
                  key=str(data.get("key", "")),
                  signature_scheme=str(data.get("signature_scheme") or "hmac-sha256"),
                  ip=str(data.get("ip") or ""))
        if reg.transport not in ("tcp", "ipc"):
            raise ValueError(f"{path}: transport must be 'tcp' or 'ipc', not {reg.transport!r}")
        if not 0 < port < 65536 and reg.transport == "tcp":
            raise ValueError(f"{path}: registration_port {port} is not a TCP port")
        return reg

    @property
    def url(self) -> str:
        if self.transport == "ipc":
            return f"ipc://{self.registration_ip}-{self.registration_port}"
        return f"tcp://{_bracket(self.registration_ip)}:{self.registration_port}"

    def connection_info(self) -> ConnectionInfo:
        """Connection info with ports 0, to be bound by the OS, and this registration's key."""
        return ConnectionInfo(transport=self.transport, ip=self.ip or self.registration_ip,
                              key=self.key, signature_scheme=self.signature_scheme)


def read_file(path: str) -> dict:
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    return data


def registration_content(reg: Registration, info: ConnectionInfo) -> bytes:
    content = {"kernel_id": reg.kernel_id}
    content.update({name: str(getattr(info, name)) for name in PORT_NAMES})
    return json.dumps(content).encode()


def register(reg: Registration, info: ConnectionInfo, timeout: float = 10.0) -> bytes:
    """Tell the launcher at `reg.url` the ports in `info` (already bound) and wait up to `timeout`
    seconds for its signed acknowledgement, whose content is returned. Raises HandshakeError."""
    signer = Signer(reg.key.encode(), reg.signature_scheme)
    content = registration_content(reg, info)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    try:
        try:
            if ":" in reg.registration_ip:
                sock.ipv6 = True
            sock.connect(reg.url)
        except zmq.ZMQError as e:
            raise HandshakeError(f"cannot connect to the launcher at {reg.url}: {e}") from None
        sock.send_multipart([DELIMITER, signer.sign([content]), content])
        if not sock.poll(int(timeout * 1000)):
            raise HandshakeError(f"no acknowledgement from the launcher at {reg.url} "
                                 f"within {timeout:g}s")
        return _check_ack(sock.recv_multipart(), signer, reg.url)
    finally:
        sock.close(linger=0)
        ctx.term()


def _check_ack(frames: list[bytes], signer: Signer, url: str) -> bytes:
    if DELIMITER not in frames:
        raise HandshakeError(f"the acknowledgement from {url} is not a signed message")
    rest = frames[frames.index(DELIMITER) + 1:]
    if not rest:
        raise HandshakeError(f"the acknowledgement from {url} has no signature")
    try:
        signer.verify(rest[0], rest[1:])
    except ProtocolError as e:
        raise HandshakeError(f"the acknowledgement from {url} is rejected: {e}") from None
    return b"".join(rest[1:])
