"""The protocol floor: a kernel that speaks the protocol and runs nothing.

Theory: what a Python kernel cannot beat on a given client is the cost of Python, pyzmq and the wire
format alone. This loop is that cost: one thread that reads shell and control without polling while
anything is queued (a poller only when nothing is), frames sent one `send` each, and per request
exactly the messages a real kernel sends (busy; execute_input and execute_reply for an execute; idle).
Code is never run, so there is no output, completion or inspection; anything it does not know gets
busy/idle and no reply. Heartbeat is a C-level echo in its own thread, as a real kernel's is.

It loads only pykernel/wire.py (through wireload), never the pykernel package, so nothing a kernel
module imports is counted against the floor. SIGINT is ignored: there is never anything to interrupt.
It exits on shutdown_request, or when the process that started it is gone.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading

import zmq

from wireload import wire

IMPLEMENTATION = {
    "status": "ok", "protocol_version": wire.PROTOCOL_VERSION, "implementation": "bench-floor",
    "implementation_version": "0", "banner": "protocol floor: runs no code", "help_links": [],
    "language_info": {"name": "python", "version": sys.version.split()[0], "mimetype": "text/x-python",
                      "file_extension": ".py"},
}


_MORE = int(zmq.SNDMORE)  # a plain int: enum flag arithmetic costs on every frame


def send(sock: zmq.Socket, frames: list) -> None:
    """Frame by frame with plain `send`: the cheapest way pyzmq offers to send a small multipart
    message (send_multipart adds per-frame overhead that a floor must not carry)."""
    last = len(frames) - 1
    for i, frame in enumerate(frames):
        sock.send(frame, _MORE if i < last else 0)


class Floor:
    def __init__(self, info: dict):
        self.session = wire.Session(info["key"].encode(), info.get("signature_scheme", "hmac-sha256"))
        self.topic = f"kernel.{self.session.session_id}.".encode()
        self.count = 0
        ctx = zmq.Context()
        self.shell = self._bind(ctx, zmq.ROUTER, info, "shell_port")
        self.control = self._bind(ctx, zmq.ROUTER, info, "control_port")
        self.stdin = self._bind(ctx, zmq.ROUTER, info, "stdin_port")
        self.iopub = self._bind(ctx, zmq.PUB, info, "iopub_port")
        hb = self._bind(zmq.Context(), zmq.ROUTER, info, "hb_port")
        threading.Thread(target=zmq.proxy, args=(hb, hb), daemon=True).start()

    @staticmethod
    def _bind(ctx: zmq.Context, kind: int, info: dict, port: str) -> zmq.Socket:
        sock = ctx.socket(kind)
        sock.linger = 0
        if info.get("transport", "tcp") == "ipc":
            sock.bind(f"ipc://{info['ip']}-{info[port]}")
        else:
            sock.bind(f"tcp://{info['ip']}:{info[port]}")
        return sock

    def publish(self, msg_type: str, content: dict, parent) -> None:
        topic = self.topic + msg_type.encode()
        send(self.iopub, self.session.serialize(msg_type, content, parent, identities=[topic]))

    def reply(self, sock: zmq.Socket, msg_type: str, content: dict, parent) -> None:
        send(sock, self.session.serialize(msg_type, content, parent))

    def handle(self, sock: zmq.Socket, msg) -> bool:
        """Answer one request; False when the kernel should stop."""
        self.publish("status", {"execution_state": "busy"}, msg)
        kind = msg.msg_type
        if kind == "execute_request":
            if not msg.content.get("silent", False):
                self.count += 1
                self.publish("execute_input", {"code": msg.content.get("code", ""),
                                               "execution_count": self.count}, msg)
            self.reply(sock, "execute_reply", {"status": "ok", "execution_count": self.count,
                                               "payload": [], "user_expressions": {}}, msg)
        elif kind == "kernel_info_request":
            self.reply(sock, "kernel_info_reply", IMPLEMENTATION, msg)
        elif kind == "interrupt_request":
            self.reply(sock, "interrupt_reply", {"status": "ok"}, msg)
        elif kind == "shutdown_request":
            self.reply(sock, "shutdown_reply", {"status": "ok", "restart": False}, msg)
        self.publish("status", {"execution_state": "idle"}, msg)
        return kind != "shutdown_request"

    def serve(self) -> None:
        """Read whatever is queued, control first, without polling; poll only when nothing is."""
        parent = os.getppid()
        poller = zmq.Poller()
        poller.register(self.control, zmq.POLLIN)
        poller.register(self.shell, zmq.POLLIN)
        self.publish("status", {"execution_state": "starting"}, None)
        socks = (self.control, self.shell)
        while True:
            handled = False
            for sock in socks:
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    continue
                handled = True
                try:
                    msg = self.session.deserialize(frames)
                except wire.ProtocolError:
                    continue
                if not self.handle(sock, msg):
                    return
            if not handled and not poller.poll(1000) and os.getppid() != parent:
                return


def main(argv: list) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with open(argv[argv.index("-f") + 1]) as f:
        info = json.load(f)
    Floor(info).serve()


if __name__ == "__main__":
    main(sys.argv)
