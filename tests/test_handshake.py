"""The startup handshake (JEP 66): a kernel given a registration file binds its own ports, reports
them to the launcher with a signed message, and serves once the launcher acknowledges.

The launcher here is written from the spec (jupyter_client docs/messaging.rst, "Kernel startup
handshake"): a ROUTER on loopback that reads `[identity, <IDS|MSG>, signature, content]`, checks the
HMAC of the content frame, writes a connection file from the ports, and answers with a signed frame.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import uuid

import pytest
import zmq
from jupyter_client import BlockingKernelClient

from corefixtures import TIMEOUT, execute, finish, stdout_of, wait_pid_exit
from pykernel.handshake import Registration

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
KERNELS = {"echo": [sys.executable, os.path.join(TESTS, "echo_kernel.py")],
           "python": [sys.executable, "-m", "pykernel"]}
PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")


def sign(key: str, *frames: bytes) -> bytes:
    h = hmac.new(key.encode(), digestmod=hashlib.sha256)
    for f in frames:
        h.update(f)
    return h.hexdigest().encode()


class Launcher:
    """The launcher's side of the handshake, on a ROUTER bound by the OS to a loopback port."""

    def __init__(self, tmp_path, port_type=int, with_ip=True):
        self.key = str(uuid.uuid4())
        self.kernel_id = str(uuid.uuid4())
        self.ctx = zmq.Context()
        self.router = self.ctx.socket(zmq.ROUTER)
        self.router.linger = 0
        self.port = self.router.bind_to_random_port("tcp://127.0.0.1")
        reg = {"kernel_id": self.kernel_id, "transport": "tcp",
               "registration_port": port_type(self.port),
               "signature_scheme": "hmac-sha256", "key": self.key}
        if with_ip:
            reg["registration_ip"] = "127.0.0.1"
        self.path = tmp_path / "registration.json"
        self.path.write_text(json.dumps(reg))
        self.connection_file = tmp_path / "kernel.json"

    def start(self, kernel="echo", *extra) -> subprocess.Popen:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get(
            "PYTHONPATH")])))
        return subprocess.Popen([*KERNELS[kernel], "-f", str(self.path), *extra], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def receive(self) -> tuple[bytes, dict]:
        """The kernel's registration: checked against the spec, returned with its identity."""
        assert self.router.poll(TIMEOUT * 1000), "the kernel never registered"
        identity, delimiter, signature, content = self.router.recv_multipart()
        assert delimiter == b"<IDS|MSG>"
        assert hmac.compare_digest(signature, sign(self.key, content))
        data = json.loads(content)
        assert data["kernel_id"] == self.kernel_id
        assert set(data) == {"kernel_id", *PORTS}
        return identity, data

    def ack(self, identity: bytes, key: str | None = None) -> None:
        content = b'{"status": "ok"}'
        self.router.send_multipart([identity, b"<IDS|MSG>", sign(key or self.key, content),
                                    content])

    def write_connection_file(self, ports: dict) -> None:
        info = {name: int(ports[name]) for name in PORTS}
        info.update(transport="tcp", ip="127.0.0.1", key=self.key, signature_scheme="hmac-sha256")
        self.connection_file.write_text(json.dumps(info))

    def close(self) -> None:
        self.router.close(linger=0)
        self.ctx.term()


@pytest.fixture
def launcher(tmp_path):
    lau = Launcher(tmp_path)
    yield lau
    lau.close()


@pytest.mark.parametrize("kernel", ["echo", "python"])
def test_registration_round_trip(launcher, kernel):
    proc = launcher.start(kernel)
    try:
        identity, ports = launcher.receive()
        launcher.write_connection_file(ports)
        launcher.ack(identity)
        kc = BlockingKernelClient(connection_file=str(launcher.connection_file))
        kc.load_connection_file()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=TIMEOUT)
            reply, msgs = execute(kc, "print('registered')" if kernel == "python" else "registered")
            assert reply["content"]["status"] == "ok"
            assert stdout_of(msgs).strip() == "registered"
            info = kc.kernel_info(reply=True, timeout=TIMEOUT)["content"]
            assert info["protocol_version"] == "5.6"
            kc.shutdown()
        finally:
            kc.stop_channels()
        assert wait_pid_exit(proc.pid)
    finally:
        proc.kill()
        proc.communicate()


def test_no_ack_exits_cleanly(launcher):
    proc = launcher.start("echo", "--KernelApp.registration_timeout=1")
    launcher.receive()  # and never answer
    code, err = finish(proc)
    assert code != 0
    assert "registration failed" in err and "no acknowledgement" in err
    assert "Traceback" not in err


def test_ack_with_a_bad_signature_is_refused(launcher):
    proc = launcher.start("echo")
    identity, _ = launcher.receive()
    launcher.ack(identity, key="not the key")
    code, err = finish(proc)
    assert code != 0
    assert "registration failed" in err and "invalid signature" in err
    assert "Traceback" not in err


def test_unreachable_launcher(tmp_path):
    lau = Launcher(tmp_path)
    lau.close()  # nothing listens on the registration port any more
    proc = lau.start("echo", "--KernelApp.registration_timeout=1")
    code, err = finish(proc)
    assert code != 0
    assert f"no acknowledgement from the launcher at tcp://127.0.0.1:{lau.port}" in err


def test_port_as_string_and_no_registration_ip(tmp_path):
    lau = Launcher(tmp_path, port_type=str, with_ip=False)
    proc = lau.start("echo")
    try:
        identity, ports = lau.receive()
        assert all(ports[name].isdigit() for name in PORTS)
        lau.ack(identity)
    finally:
        proc.kill()
        proc.communicate()
        lau.close()


@pytest.mark.parametrize("data, expected", [
    ({"registration_port": 5}, ("127.0.0.1", 5, "127.0.0.1")),
    ({"registration_port": "5", "registration_ip": "127.0.0.2"}, ("127.0.0.2", 5, "127.0.0.2")),
    ({"registration_port": 5, "registration_ip": "10.0.0.1", "ip": "0.0.0.0"},
     ("10.0.0.1", 5, "0.0.0.0")),
])
def test_registration_file_variants(data, expected):
    reg = Registration.from_dict(data)
    assert (reg.registration_ip, reg.registration_port, reg.connection_info().ip) == expected


@pytest.mark.parametrize("data", [{"registration_port": "x"}, {"registration_port": None},
                                  {"registration_port": 70000},
                                  {"registration_port": 5, "transport": "udp"}])
def test_unusable_registration_file(data):
    with pytest.raises(ValueError):
        Registration.from_dict(data)


def test_a_connection_file_is_not_a_registration_file():
    assert Registration.is_registration({"registration_port": 1, "kernel_id": "k"})
    assert not Registration.is_registration({"shell_port": 1, "key": "k"})
