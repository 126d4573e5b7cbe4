"""The other hops between a user and a kernel: Kernel Gateway, Jupyter Server in front of one
(`--gateway-url`), and JupyterHub's proxy (configurable-http-proxy). Where does Nagle stall?

    python bench/hops.py --kg-path DIR [--chp PATH] [-n 15]

`--kg-path`: a directory holding jupyter_kernel_gateway (e.g. `pip install --target DIR --no-deps
jupyter_kernel_gateway`; its other dependencies are jupyter_server's); `--chp`: the
configurable-http-proxy executable (npm). Every hop is started on 127.0.0.1 by this script, with the
environment's `python3` kernel (ipykernel), and timed with bench/nagle_repro.py's client (plain
JSON frames: the gateway connection only speaks the legacy protocol). "KG + nodelay" is Kernel
Gateway with jupyter_server_nodelay's route patch applied to its web application: Kernel Gateway
loads no server extensions, so that takes a launcher (below) or the same one line upstream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tornado.websocket import websocket_connect  # noqa: E402

from bench.nagle_repro import free_port, run_cell  # noqa: E402

KG_LAUNCHER = """
import sys
from kernel_gateway.gatewayapp import KernelGatewayApp
import jupyter_server_nodelay

class NoDelayGateway(KernelGatewayApp):
    def init_webapp(self):
        super().init_webapp()
        jupyter_server_nodelay.patch_routes(self.web_app)

NoDelayGateway.launch_instance()
"""
TOKEN = uuid.uuid4().hex


class Proc:
    """A server process on 127.0.0.1:`port`, ready once `GET /api` answers."""

    def __init__(self, argv: list[str], port: int, env: dict, log: Path):
        self.port, self.log = port, open(log, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 180  # a busy machine starts a server slowly
        while True:
            try:
                api(port, "GET", "api")
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(log.read_text()[-3000:]) from None
                time.sleep(0.2)  # poll interval while the server starts

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def api(port: int, method: str, path: str, body: dict | None = None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read() or b"null")


def gateway(tmp: Path, kg_path: str, nodelay: bool) -> Proc:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [kg_path, os.environ.get("PYTHONPATH")]))}
    head = ["-c", KG_LAUNCHER] if nodelay else ["-m", "kernel_gateway"]
    argv = [sys.executable, *head, "--KernelGatewayApp.ip=127.0.0.1", f"--KernelGatewayApp.port={port}",
            f"--KernelGatewayApp.auth_token={TOKEN}"]
    return Proc(argv, port, env, tmp / f"kg-{nodelay}.log")


def server(tmp: Path, nodelay: bool, gateway_port: int | None = None) -> Proc:
    port, config = free_port(), tmp / f"config-{nodelay}-{gateway_port}"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"jpserver_extensions": {"jupyter_server_nodelay": nodelay}}}))
    argv = [sys.executable, "-m", "jupyter_server", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={tmp}",
            "--ServerApp.open_browser=False", "--ServerApp.allow_root=True"]
    if gateway_port:
        argv += [f"--gateway-url=http://127.0.0.1:{gateway_port}", f"--GatewayClient.auth_token={TOKEN}"]
    return Proc(argv, port, {**os.environ, "JUPYTER_CONFIG_DIR": str(config)}, config / "server.log")


def proxy(chp: str, tmp: Path, target: int) -> Proc:
    port = free_port()
    argv = [chp, "--ip", "127.0.0.1", "--port", str(port), "--api-ip", "127.0.0.1",
            "--api-port", str(free_port()), "--default-target", f"http://127.0.0.1:{target}"]
    return Proc(argv, port, {**os.environ, "CONFIGPROXY_AUTH_TOKEN": TOKEN}, tmp / f"chp-{target}.log")


async def cells(kernel_port: int, client_port: int, n: int) -> list[float]:
    """Start a kernel through `kernel_port`'s API, time `1+1` over `client_port`'s websocket."""
    kid = api(kernel_port, "POST", "api/kernels", {"name": "python3"})["id"]
    session = uuid.uuid4().hex
    ws = await websocket_connect(f"ws://127.0.0.1:{client_port}/api/kernels/{kid}/channels"
                                 f"?session_id={session}&token={TOKEN}")
    try:
        for _ in range(3):
            await run_cell(ws, session, "1+1")
        return [(await run_cell(ws, session, "1+1"))["done"] for _ in range(n)]
    finally:
        ws.close()
        api(kernel_port, "DELETE", f"api/kernels/{kid}")


def measure(label: str, procs: list[Proc], kernel_port: int, client_port: int, n: int, table: list):
    try:
        times = asyncio.run(cells(kernel_port, client_port, n))
        table.append((label, statistics.median(times)))
        print(f"{label:55} {statistics.median(times):6.1f} ms", flush=True)
    finally:
        for p in reversed(procs):
            p.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kg-path", required=True)
    ap.add_argument("--chp", help="configurable-http-proxy executable")
    ap.add_argument("-n", type=int, default=15)
    args = ap.parse_args()
    tmp, table = Path(tempfile.mkdtemp(prefix="pykernel-hops-")), []
    print("`1+1` execute_request -> reply and idle, median of", args.n)
    for kg_fix in (False, True):
        kg = gateway(tmp, args.kg_path, kg_fix)
        measure(f"Kernel Gateway alone{' + nodelay' if kg_fix else ''}", [kg], kg.port, kg.port, args.n, table)
    for srv_fix, kg_fix in ((False, False), (True, False), (True, True)):
        kg = gateway(tmp, args.kg_path, kg_fix)
        try:
            srv = server(tmp, srv_fix, kg.port)
        except BaseException:
            kg.stop()
            raise
        label = (f"Jupyter Server{' + nodelay' if srv_fix else ''} --gateway-url → "
                 f"Kernel Gateway{' + nodelay' if kg_fix else ''}")
        measure(label, [kg, srv], srv.port, srv.port, args.n, table)
    if args.chp:
        for srv_fix in (False, True):
            srv = server(tmp, srv_fix)
            try:
                chp = proxy(args.chp, tmp, srv.port)
            except BaseException:
                srv.stop()
                raise
            measure(f"configurable-http-proxy → Jupyter Server{' + nodelay' if srv_fix else ''}",
                    [srv, chp], srv.port, chp.port, args.n, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
