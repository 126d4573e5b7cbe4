"""Remote launch, as Enterprise Gateway and gateway_provisioners do it (pykernel/remote.py).

The receiving side is gateway_provisioners' own ResponseManager: its RSA key pair, its response
socket and its decryption of the kernel's payload, run on an asyncio loop as in the server. The comm
port requests (`{"signum": n}`, `{"shutdown": 1}`: one JSON object per TCP connection) are sent the
way its RemoteProvisionerBase sends them, written here from that format.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest
from jupyter_client import BlockingKernelClient

from corefixtures import TIMEOUT, execute, finish, reply_for, stdout_of, wait_pid_exit
from pykernel import remote

# The response manager reads these when imported: loopback only, as every server in the tests.
os.environ.setdefault("GP_RESPONSE_IP", "127.0.0.1")
os.environ.setdefault("GP_RESPONSE_PORT", str(20000 + os.getpid() % 20000))
response_manager = pytest.importorskip(
    "gateway_provisioners.response_manager",
    reason="gateway_provisioners (the engine whose receiving code these tests use) is missing")

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
KERNELS = {"echo": [sys.executable, os.path.join(TESTS, "echo_kernel.py")],
           "python": [sys.executable, "-m", "pykernel"],
           "bash": [sys.executable, "-m", "pykernel_bash", "--BashKernel.rcfile="]}
PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
RANGE = (41000 + os.getpid() % 1000 * 20, 41000 + os.getpid() % 1000 * 20 + 199)


class Engine:
    """gateway_provisioners' ResponseManager on its own asyncio loop, driven step by step."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.rm = self.loop.run_until_complete(self._make())

    @staticmethod
    async def _make():
        return response_manager.ResponseManager()

    def launch(self, kernel: str, *argv: str, spelling: str = "") -> tuple[str, subprocess.Popen]:
        kernel_id = str(uuid.uuid4())
        self.rm.register_event(kernel_id)
        args = {"kernel-id": kernel_id, "response-address": self.rm.response_address,
                "public-key": self.rm.public_key, "port-range": f"{RANGE[0]}..{RANGE[1]}"}
        flat = [x for k, v in args.items() for x in (f"--{spelling}{k}", v)]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get(
            "PYTHONPATH")])))
        proc = subprocess.Popen([*KERNELS[kernel], *flat, "--ip", "127.0.0.1", *argv], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return kernel_id, proc

    def connection_info(self, kernel_id: str, proc: subprocess.Popen) -> dict:
        """Wait, as the provisioner does, for the decrypted connection info of `kernel_id`."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                return self.loop.run_until_complete(self.rm.get_connection_info(kernel_id))
            except asyncio.TimeoutError:
                assert proc.poll() is None, proc.communicate()[1]
        pytest.fail("no connection info within the deadline")

    def close(self):
        sock = self.rm._response_socket  # the engine drops it without closing it
        self.rm.stop_response_manager()
        if sock is not None:
            sock.close()
        self.loop.run_until_complete(asyncio.sleep(0))
        self.loop.close()
        asyncio.set_event_loop(None)


@pytest.fixture
def engine():
    eng = Engine()
    yield eng
    eng.close()


def comm_request(port: int, request: dict) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.sendall(json.dumps(request).encode())


def client_for(info: dict) -> BlockingKernelClient:
    kc = BlockingKernelClient()
    kc.load_connection_info({**info, "ip": "127.0.0.1"})
    kc.start_channels()
    kc.wait_for_ready(timeout=TIMEOUT)
    return kc


@pytest.mark.parametrize("kernel, code, out", [
    ("echo", "remote", "remote"),
    ("python", "print('remote')", "remote"),
    ("bash", "echo remote", "remote"),
])
def test_remote_launch_round_trip(engine, kernel, code, out):
    kernel_id, proc = engine.launch(kernel)
    try:
        info = engine.connection_info(kernel_id, proc)
        assert info["kernel_id"] == kernel_id
        assert info["pid"] == proc.pid and info["pgid"] == os.getpgid(proc.pid)
        for name in (*PORTS, "comm_port"):
            assert RANGE[0] <= int(info[name]) <= RANGE[1], name
        assert info["key"] and info["signature_scheme"] == "hmac-sha256"
        kc = client_for(info)
        try:
            reply, msgs = execute(kc, code)
            assert reply["content"]["status"] == "ok"
            assert stdout_of(msgs).strip() == out
            comm_request(info["comm_port"], {"signum": 0})  # the engine's liveness poll
            assert execute(kc, code)[0]["content"]["status"] == "ok"
            comm_request(info["comm_port"], {"shutdown": 1})
            assert wait_pid_exit(proc.pid)
        finally:
            kc.stop_channels()
    finally:
        proc.kill()
        proc.communicate()


def test_interrupt_through_the_comm_port(engine):
    kernel_id, proc = engine.launch("echo")
    try:
        info = engine.connection_info(kernel_id, proc)
        kc = client_for(info)
        try:
            msg_id = kc.execute("sleep 30")
            while True:  # the cell has started
                msg = kc.get_iopub_msg(timeout=TIMEOUT)
                if (msg["parent_header"].get("msg_id") == msg_id
                        and msg["msg_type"] == "execute_input"):
                    break
            comm_request(info["comm_port"], {"signum": 2})
            reply = reply_for(kc, msg_id)["content"]
            assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
        finally:
            kc.stop_channels()
        comm_request(info["comm_port"], {"shutdown": 1})
        assert wait_pid_exit(proc.pid)
    finally:
        proc.kill()
        proc.communicate()


def test_deprecated_spellings_and_spark_options(engine):
    kernel_id, proc = engine.launch(
        "echo", "--RemoteProcessProxy.spark-context-initialization-mode", "none",
        "--cluster-type=spark", spelling="RemoteProcessProxy.")
    try:
        info = engine.connection_info(kernel_id, proc)
        assert info["kernel_id"] == kernel_id
        comm_request(info["comm_port"], {"shutdown": 1})
        code, err = finish(proc)
        assert code == 0
        assert "ignoring --spark-context-initialization-mode none" in err
        assert "ignoring --cluster-type spark" in err
    finally:
        proc.kill()
        proc.communicate()


def test_unreachable_response_address(engine):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [*KERNELS["echo"], "--kernel-id", "k", "--response-address", f"127.0.0.1:{port}",
         "--public-key", engine.rm.public_key, "--ip", "127.0.0.1"],
        env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    code, err = finish(proc)
    assert code != 0
    assert f"remote launch failed, exiting: cannot send the connection info to 127.0.0.1:{port}" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["--kernel-id", "k", "--response-address", "127.0.0.1:1"], "needs --public-key"),
    (["--kernel-id", "k", "--response-address", "nowhere", "--public-key", "x"],
     "must be IP:PORT"),
    (["--kernel-id", "k", "--response-address", "127.0.0.1:1", "--public-key", "bm90IGEga2V5"],
     "not a base64 RSA public key"),
])
def test_bad_remote_arguments_are_clear_errors(argv, message):
    proc = subprocess.run([*KERNELS["echo"], *argv, "--ip", "127.0.0.1"], capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=ROOT), timeout=TIMEOUT)
    assert proc.returncode != 0
    assert message in proc.stderr and "Traceback" not in proc.stderr


# ---- the argument table -----------------------------------------------------------------------------

@pytest.mark.parametrize("argv, expected, rest", [
    (["-f", "x"], None, ["-f", "x"]),
    (["--kernel-id", "a", "--debug"], ("a", "", None, []), ["--debug"]),
    (["--RemoteProcessProxy.kernel-id=a", "--port-range", "0..0"], ("a", "", None, []), []),
    (["--kernel-id", "a", "--port-range=100..200", "--response-address", "h:1"],
     ("a", "h:1", (100, 200), []), []),
    (["--kernel-id", "a", "--spark-context-initialization-mode", "lazy", "--cluster-type",
      "--x"], ("a", "", None, ["--spark-context-initialization-mode lazy", "--cluster-type"]),
     ["--x"]),
])
def test_split_args(argv, expected, rest):
    opts, left = remote.split_args(argv)
    assert left == rest
    if expected is None:
        assert opts is None
    else:
        assert (opts.kernel_id, opts.response_address, opts.port_range, opts.ignored) == expected


@pytest.mark.parametrize("text", ["1..", "a..b", "200..100", "0..70000"])
def test_bad_port_range(text):
    with pytest.raises(remote.RemoteLaunchError):
        remote.port_range(text)
