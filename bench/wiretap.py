"""When each kernel websocket frame crossed the loopback interface, from the kernel's own clock.

A message's time on the wire splits what the page waits for into the server's part (kernel's
header date -> frame on the wire: the relay, and any Nagle hold-back) and the browser's part (frame
on the wire -> the page's handler ran). The tap is an AF_PACKET socket on `lo` (root only, Linux)
with kernel timestamps (SO_TIMESTAMPNS), so a late-scheduled reader thread does not skew them.
It follows websocket connections of one server port from their `101 Switching Protocols` on and
decodes JupyterLab's v1 framing (bench/kernelws.py) in both directions.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time

from bench import kernelws

ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = 35
PACKET_OUTGOING = 4  # each loopback packet is seen twice, outgoing and incoming: keep one


class Wiretap(threading.Thread):
    """Records `(wall seconds, "out" | "in", name, msg_id, parent msg_id)` per kernel message;
    "out" is server to browser."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port = port
        self.frames: list[tuple] = []
        self._streams: dict[tuple, bytearray] = {}
        self._halt = threading.Event()
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.bind(("lo", 0))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.settimeout(0.2)

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                data, anc, _, addr = self.sock.recvmsg(262144, socket.CMSG_SPACE(16))
            except TimeoutError:
                continue
            if addr[2] != PACKET_OUTGOING:
                continue
            stamp = [d for level, kind, d in anc if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS]
            if stamp:
                sec, nsec = struct.unpack("qq", stamp[0][:16])
                self._packet(data, sec + nsec / 1e9)

    def seen(self, msg_id: str | None, patience: float = 10.0) -> float | None:
        """Wall-clock ms at which the frame of message `msg_id` went from server to browser. The
        page has seen it, so it crossed the wire; the reader thread may still be behind."""
        deadline = time.monotonic() + patience
        while msg_id is not None:
            for when, direction, _, frame_id, _ in reversed(self.frames):
                if direction == "out" and frame_id == msg_id:
                    return when * 1000
            if time.monotonic() > deadline:
                return None
            time.sleep(0.01)  # poll interval while the reader catches up
        return None

    def stop(self) -> None:
        self._halt.set()
        self.join(5)
        self.sock.close()

    def _packet(self, data: bytes, when: float) -> None:
        if len(data) < 34 or data[12:14] != b"\x08\x00":  # Ethernet header, then IPv4 only
            return
        ip = data[14:]
        if ip[9] != socket.IPPROTO_TCP:
            return
        tcp = ip[(ip[0] & 0x0F) * 4:]
        sport, dport = struct.unpack("!HH", tcp[:4])
        if self.port not in (sport, dport):
            return
        payload = bytes(tcp[(tcp[12] >> 4) * 4:])
        if payload:
            self._feed((sport, dport), "out" if sport == self.port else "in", payload, when)

    def _feed(self, key: tuple, direction: str, payload: bytes, when: float) -> None:
        if direction == "out" and payload.startswith(b"HTTP/1.1 101"):
            head, _, rest = payload.partition(b"\r\n\r\n")
            self._streams[key] = bytearray(rest)
            self._streams[key[::-1]] = bytearray()
        elif key in self._streams:
            self._streams[key] += payload
        else:
            return
        buf = self._streams[key]
        while (frame := _take_frame(buf)) is not None:
            self._record(direction, frame, when)

    def _record(self, direction: str, frame: bytes, when: float) -> None:
        try:
            _, parts = kernelws.unpack(frame)
            header, parent, content = (json.loads(parts[i]) for i in (0, 1, 3))
        except (ValueError, IndexError):
            return  # not a v1 kernel message (another websocket)
        name = header.get("msg_type")
        if name == "status":
            name = content.get("execution_state")
        self.frames.append((when, direction, name, header.get("msg_id"), parent.get("msg_id")))


def _take_frame(buf: bytearray) -> bytes | None:
    """Remove one complete binary websocket frame's payload from `buf` (None: need more bytes);
    other frames (text, ping, close) are removed and skipped as b""."""
    while True:
        if len(buf) < 2:
            return None
        opcode, masked, length, at = buf[0] & 0x0F, buf[1] & 0x80, buf[1] & 0x7F, 2
        if length == 126:
            if len(buf) < 4:
                return None
            length, at = struct.unpack("!H", buf[2:4])[0], 4
        elif length == 127:
            if len(buf) < 10:
                return None
            length, at = struct.unpack("!Q", buf[2:10])[0], 10
        mask = bytes(buf[at:at + 4]) if masked else None
        at += 4 if masked else 0
        if len(buf) < at + length:
            return None
        body = bytes(buf[at:at + length])
        del buf[:at + length]
        if mask:
            body = bytes(b ^ mask[i % 4] for i, b in enumerate(body))
        if opcode == 2:
            return body
