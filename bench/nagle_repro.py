"""Jupyter Server holds back a kernel's websocket frames for the client's delayed ACK (Nagle).

Minimal reproduction, standalone: it needs only jupyter_server (2.x), tornado and a kernel
(ipykernel's `python3` by default), and it touches no Jupyter setting of yours. It starts
`jupyter server` on 127.0.0.1 twice, stock and with the proposed one-line change
(`self.set_nodelay(True)` at the start of `KernelWebsocketHandler.open`, loaded from a temporary
module), runs `1+1` over the kernel websocket N times from a plain tornado client, and prints when
each of the cell's messages arrived, median over the runs:

    python bench/nagle_repro.py [--kernel python3] [-n 15]

On Linux the stock server delivers the cell's first message at once and every later one ~40 ms
later, when the client's delayed ACK releases it; with the change all arrive within a few ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from tornado.websocket import websocket_connect

# The proposed change, as a server extension so that a stock install can try it.
FIX = '''
from jupyter_server.services.kernels.websocket import KernelWebsocketHandler

_open = KernelWebsocketHandler.open

def open(self, *args, **kwargs):
    self.set_nodelay(True)  # the one line proposed for KernelWebsocketHandler.open
    return _open(self, *args, **kwargs)

def _jupyter_server_extension_points():
    return [{"module": "nagle_repro_fix"}]

def _load_jupyter_server_extension(serverapp):
    KernelWebsocketHandler.open = open
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`jupyter server` in a temporary root and config dir, with or without the fix."""

    def __init__(self, fixed: bool):
        self.tmp = Path(tempfile.mkdtemp(prefix="nagle-repro-"))
        self.port, self.token = free_port(), secrets.token_hex(12)
        # Any nodelay extension the environment enables is switched off, so "stock" is stock.
        extensions = {"nagle_repro_fix": fixed, "jupyter_server_nodelay": False}
        (self.tmp / "jupyter_server_config.json").write_text(
            json.dumps({"ServerApp": {"jpserver_extensions": extensions}}))
        (self.tmp / "nagle_repro_fix.py").write_text(FIX)
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(self.tmp),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(self.tmp), os.environ.get("PYTHONPATH")]))}
        argv = [sys.executable, "-m", "jupyter_server", "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}", f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={self.tmp}", "--ServerApp.open_browser=False",
                "--ServerApp.allow_root=True"]
        self.log = open(self.tmp / "server.log", "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.api("GET", "status")
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError((self.tmp / "server.log").read_text()) from None
                time.sleep(0.2)

    def api(self, method: str, path: str, body: dict | None = None):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def request(session: str, msg_type: str, content: dict) -> dict:
    header = {"msg_id": uuid.uuid4().hex, "session": session, "username": "repro", "version": "5.3",
              "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "msg_type": msg_type}
    return {"header": header, "parent_header": {}, "metadata": {}, "content": content,
            "channel": "shell", "buffers": []}


async def run_cell(ws, session: str, code: str) -> dict[str, float]:
    """Send an execute_request; {message: ms after sending} for each message it caused, until both
    the reply and status idle are in (either can come last: they travel on different channels)."""
    msg = request(session, "execute_request", {"code": code, "silent": False, "store_history": True,
                                               "user_expressions": {}, "allow_stdin": False})
    t0 = time.perf_counter()
    await ws.write_message(json.dumps(msg))
    arrivals = {}
    while "execute_reply" not in arrivals or "idle" not in arrivals:
        reply = json.loads(await asyncio.wait_for(ws.read_message(), 30))
        if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
            name = reply["content"]["execution_state"] if reply["msg_type"] == "status" else reply["msg_type"]
            arrivals[name] = (time.perf_counter() - t0) * 1000
    arrivals["done"] = max(arrivals.values())
    return arrivals


async def measure(server: Server, kernel: str, n: int) -> list[dict[str, float]]:
    kid = server.api("POST", "kernels", {"name": kernel})["id"]
    session = uuid.uuid4().hex
    ws = await websocket_connect(f"ws://127.0.0.1:{server.port}/api/kernels/{kid}/channels"
                                 f"?session_id={session}&token={server.token}")
    try:
        for _ in range(3):  # warm-up: the kernel's first cells import things
            await run_cell(ws, session, "1+1")
        return [await run_cell(ws, session, "1+1") for _ in range(n)]
    finally:
        ws.close()
        server.api("DELETE", f"kernels/{kid}")


def summary(runs: list[dict[str, float]]) -> str:
    """Median arrival of each message of the cell, in order, e.g. `busy 1.9 | execute_input 43.8`."""
    medians = {name: statistics.median(r[name] for r in runs) for name in runs[0] if name != "done"}
    return " | ".join(f"{name} {ms:.1f}" for name, ms in sorted(medians.items(), key=lambda kv: kv[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kernel", default="python3", help="kernelspec name (default: python3)")
    ap.add_argument("-n", type=int, default=15, help="cells to time (default: 15)")
    args = ap.parse_args()
    print(f"`1+1` on kernel {args.kernel}: ms after execute_request was sent, median of {args.n}")
    for fixed in (False, True):
        server = Server(fixed)
        try:
            runs = asyncio.run(measure(server, args.kernel, args.n))
        finally:
            server.stop()
        done = statistics.median(r["done"] for r in runs)
        label = "with set_nodelay(True)" if fixed else "stock jupyter_server  "
        print(f"{label}: reply and idle after {done:5.1f} ms   [{summary(runs)}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
