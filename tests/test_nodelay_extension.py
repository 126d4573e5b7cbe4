"""The jupyter_server_nodelay server extension (extensions/jupyter_server_nodelay).

Its routes are checked on a bare tornado Application; its effect is checked on a real server: a
`jupyter lab` process with the extension on or off, a kernel, a websocket client, and the server's
own end of that websocket read through pidfd_getfd (tests/sockprobe.py), which is where Nagle's
algorithm lives. No timing is involved.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
import socket
import subprocess
import sys
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import sockprobe

if importlib.util.find_spec("jupyter_server_nodelay") is None:
    pytest.skip("jupyter_server_nodelay is not installed (pip install -e extensions/jupyter_server_nodelay)",
                allow_module_level=True)

import jupyter_server_nodelay as nodelay  # noqa: E402
from jupyter_server.services.kernels.websocket import KernelWebsocketHandler  # noqa: E402
from tornado.web import Application, RequestHandler  # noqa: E402
from tornado.websocket import websocket_connect  # noqa: E402

from e2e.lab import LabServer  # noqa: E402

# Starting a JupyterLab server takes tens of seconds on a busy 2-CPU machine, and it happens inside
# the first test that needs it.
pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "extensions" / "jupyter_server_nodelay"
ARTIFACTS = ROOT / "test-artifacts"
KERNEL = "echo"  # any kernel shows it; this one starts fastest


# ---- the routes it changes ---------------------------------------------------------------------

class OtherHandler(RequestHandler):
    pass


class ExtendedKernelHandler(KernelWebsocketHandler):
    """What another extension might route kernels to: it must keep its own behaviour."""


def _targets(app: Application) -> dict[str, type]:
    return {rule.matcher.regex.pattern: rule.target for rule in nodelay._rules(app.default_router)
            if isinstance(rule.target, type)}


def test_kernel_websocket_routes_get_the_nodelay_handler():
    app = Application([(r"/api/kernels/(?P<kernel_id>\w+)/channels", KernelWebsocketHandler),
                       (r"/api/other", OtherHandler)])
    app.add_handlers(r".*$", [(r"/ext/kernels/(?P<kernel_id>\w+)/channels", ExtendedKernelHandler)])
    assert nodelay.patch_routes(app) == 2
    targets = _targets(app)
    kernels = targets[r"/api/kernels/(?P<kernel_id>\w+)/channels$"]
    extended = targets[r"/ext/kernels/(?P<kernel_id>\w+)/channels$"]
    assert issubclass(kernels, nodelay.NoDelayMixin) and issubclass(kernels, KernelWebsocketHandler)
    assert issubclass(extended, nodelay.NoDelayMixin) and issubclass(extended, ExtendedKernelHandler)
    assert targets[r"/api/other$"] is OtherHandler
    assert nodelay.patch_routes(app) == 0  # loading twice changes nothing more


def test_open_turns_nagle_off_before_the_handler_opens():
    calls = []

    class Handler:
        def set_nodelay(self, value):
            calls.append(("set_nodelay", value))

        def open(self, kernel_id):
            calls.append(("open", kernel_id))
            return "opened"

    patched = nodelay.nodelay_handler(Handler)
    assert patched.open(patched(), "k1") == "opened"
    assert calls == [("set_nodelay", True), ("open", "k1")]


def test_installing_the_wheel_enables_it(tmp_path):
    source = tmp_path / "source"  # a copy: building leaves build/ and *.egg-info behind
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(source)], check=True, capture_output=True)
    [wheel] = tmp_path.glob("jupyter_server_nodelay-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [config] = [n for n in names if n.endswith("etc/jupyter/jupyter_server_config.d/"
                                                    "jupyter_server_nodelay.json")]
        enabled = json.loads(archive.read(config))["ServerApp"]["jpserver_extensions"]
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert enabled == {"jupyter_server_nodelay": True}
    assert "License-Expression: BSD-3-Clause" in metadata


# ---- what a real server does ---------------------------------------------------------------------

@pytest.fixture(scope="module", params=[True, False], ids=["nodelay", "stock"])
def server(request):
    lab = LabServer(ARTIFACTS / f"nodelay-{request.param}.log", nodelay=request.param)
    lab.start()
    yield lab
    lab.stop()


@pytest.fixture
def kernel_id(server):
    kid = server.api("POST", "kernels", {"name": KERNEL})["id"]
    yield kid
    server.api("DELETE", f"kernels/{kid}")


def server_nodelay(server: LabServer, ws) -> bool:
    """TCP_NODELAY on the server's end of websocket `ws` (skips where the probe cannot run)."""
    peer = ws.protocol.stream.socket.getsockname()
    try:
        return sockprobe.nodelay(server.proc.pid, peer)
    except sockprobe.ProbeUnavailable as exc:
        pytest.skip(f"cannot read the server's socket options here: {exc}")


async def execute(ws, code: str) -> list[str]:
    """Run `code` over the kernel websocket; what it caused, in order of arrival, until both the
    reply and status idle are in (they travel on different channels: either may come first)."""
    session = uuid.uuid4().hex
    header = {"msg_id": uuid.uuid4().hex, "session": session, "username": "test", "version": "5.4",
              "date": "2026-01-01T00:00:00Z", "msg_type": "execute_request"}
    await ws.write_message(json.dumps({
        "header": header, "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                    "allow_stdin": False}}))
    seen = []
    while "execute_reply" not in seen or "idle" not in seen:
        msg = json.loads(await asyncio.wait_for(ws.read_message(), 30))
        if msg["parent_header"].get("msg_id") == header["msg_id"]:
            seen.append(msg["content"]["execution_state"] if msg["msg_type"] == "status"
                        else msg["msg_type"])
    return seen


def run(coro):
    """asyncio.run in a thread of its own: in a session that also ran the browser tests,
    Playwright's sync API keeps an event loop running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def close(ws) -> None:
    """Close `ws` and wait for the server's close frame, so no socket outlives the event loop."""
    ws.close()
    while await asyncio.wait_for(ws.read_message(), 30) is not None:
        pass


def test_kernel_websocket_nodelay_follows_the_extension(server, kernel_id):
    async def scenario():
        ws = await websocket_connect(server.url(f"api/kernels/{kernel_id}/channels",
                                                session_id=uuid.uuid4().hex).replace("http", "ws", 1))
        try:
            seen = await execute(ws, "hello")
            return server_nodelay(server, ws), seen
        finally:
            await close(ws)

    on, seen = run(scenario())
    assert on is server.nodelay
    # everything still arrives, and IOPub in the order the kernel sent it
    assert [m for m in seen if m != "execute_reply"] == ["busy", "execute_input", "stream", "idle"]


def test_other_websockets_keep_tornados_default(server):
    async def scenario():
        ws = await websocket_connect(server.url("api/events/subscribe").replace("http", "ws", 1))
        try:
            return server_nodelay(server, ws)
        finally:
            await close(ws)

    assert run(scenario()) is False


def test_the_server_log_says_when_it_is_on(server):
    assert (nodelay.LOADED in server.log_tail(1_000_000)) is server.nodelay


def test_probe_reads_a_socket_of_another_process():
    """The probe itself, on a child that sets TCP_NODELAY on one of two accepted sockets."""
    with subprocess.Popen([sys.executable, "-c", (
            "import socket, sys\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
            "print(s.getsockname()[1], flush=True)\n"
            "a, _ = s.accept(); b, _ = s.accept()\n"
            "b.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)\n"
            "print('ready', flush=True); sys.stdin.read()")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as child:
        port = int(child.stdout.readline())
        with socket.create_connection(("127.0.0.1", port)) as first, \
                socket.create_connection(("127.0.0.1", port)) as second:
            assert child.stdout.readline() == "ready\n"
            try:
                assert sockprobe.nodelay(child.pid, first.getsockname()) is False
                assert sockprobe.nodelay(child.pid, second.getsockname()) is True
            except sockprobe.ProbeUnavailable as exc:
                pytest.skip(f"cannot read another process's socket options here: {exc}")
            finally:
                child.stdin.close()
