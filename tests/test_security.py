"""Safe defaults: what the kernel refuses, what it warns about, who may read its files, and who
may take a frontend's place on stdin."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
import zmq

from corefixtures import TIMEOUT, endpoint, reply_for, running_kernel
from pykernel.transport import ConnectionInfo, security_check

TESTS = os.path.dirname(os.path.abspath(__file__))
ECHO = [sys.executable, os.path.join(TESTS, "echo_kernel.py")]

REFUSAL = (
    "refusing to start: the connection file's key is empty, so messages are not signed, and "
    "{ip} can be reached from other machines: anyone who reaches its ports could run code. "
    "Put a random key in the connection file (jupyter_client writes one), or bind a loopback "
    "address (--ip=127.0.0.1).")
UNSIGNED = (
    "the connection file's key is empty: messages are not signed, and anyone on this machine "
    "who can reach the kernel's ports can run code. Put a random key in the connection file.")
PLAINTEXT = (
    "{ip} can be reached from other machines, and without CurveZMQ keys in the connection file "
    "(curve_publickey, curve_secretkey) the traffic is not encrypted: code, output and input, "
    "passwords included, can be read on the network. Add Curve keys, or bind 127.0.0.1 and "
    "connect through an SSH tunnel.")


def connection_file(tmp_path, **fields) -> str:
    path = tmp_path / "kernel.json"
    info = {"transport": "tcp", "ip": "127.0.0.1", "key": "", "signature_scheme": "hmac-sha256",
            **{p: 0 for p in ("shell_port", "iopub_port", "stdin_port", "control_port",
                              "hb_port")}}
    info.update(fields)
    path.write_text(json.dumps(info))
    return str(path)


def logged(stderr: str) -> list[str]:
    """The messages of the kernel's log lines ("[pykernel LEVEL time] message")."""
    return [line.split("] ", 1)[1] for line in stderr.splitlines() if line.startswith("[pykernel")]


def test_empty_key_on_a_reachable_address_is_refused(tmp_path):
    # refused before anything is bound: no port is opened on 0.0.0.0
    path = connection_file(tmp_path, ip="0.0.0.0")
    out = subprocess.run([*ECHO, "-f", path], capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 2
    assert logged(out.stderr) == [REFUSAL.format(ip="0.0.0.0")]


def test_traffic_in_clear_to_other_machines_is_warned_about(tmp_path):
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: the warning comes before the bind,
    # and the bind then fails, so nothing listens beyond loopback
    path = connection_file(tmp_path, ip="192.0.2.1", key="k")
    out = subprocess.run([*ECHO, "-f", path], capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode != 0
    assert logged(out.stderr)[0] == PLAINTEXT.format(ip="192.0.2.1")


def test_empty_key_on_loopback_starts_with_a_warning(tmp_path):
    path = connection_file(tmp_path)
    p = subprocess.Popen([*ECHO, "-f", path], stderr=subprocess.PIPE, text=True)
    try:
        assert logged(p.stderr.readline()) == [UNSIGNED]
        assert p.poll() is None  # and it runs
    finally:
        p.terminate()
        p.wait(TIMEOUT)
        p.stderr.close()


@pytest.mark.parametrize("ip, key, curve, refused, warnings", [
    ("127.0.0.1", "k", None, False, []),
    ("::1", "k", None, False, []),
    ("localhost", "", None, False, [UNSIGNED]),
    ("0.0.0.0", "", None, True, []),
    ("0.0.0.0", "k", None, False, [PLAINTEXT.format(ip="0.0.0.0")]),
    ("0.0.0.0", "k", "secret", False, []),
    ("10.1.2.3", "", "secret", True, []),
    ("*", "k", None, False, [PLAINTEXT.format(ip="*")]),
])
def test_security_check_table(ip, key, curve, refused, warnings):
    info = ConnectionInfo(ip=ip, key=key, curve_secretkey=curve)
    refusal, said = security_check(info)
    assert (refusal is not None) == refused
    assert said == warnings


def test_ipc_with_an_empty_key_is_local():
    assert security_check(ConnectionInfo(transport="ipc", ip="/tmp/x", key="")) == (None, [UNSIGNED])


def test_connection_file_and_ipc_sockets_are_private(tmp_path):
    os.umask(0o022)  # what most users have: files readable by all unless the kernel says otherwise
    with running_kernel("echo", transport="ipc", ip=str(tmp_path / "k")) as (km, kc):
        info = km.get_connection_info()
        sockets = [f"{info['ip']}-{info[p]}" for p in ("shell_port", "iopub_port", "stdin_port",
                                                       "control_port", "hb_port")]
        for path in sockets:
            mode = os.stat(path).st_mode
            assert stat.S_ISSOCK(mode) and mode & 0o777 == 0o600, path


def test_an_existing_connection_file_is_rewritten_private(tmp_path):
    path = tmp_path / "c.json"
    path.write_text("{}")
    os.chmod(path, 0o644)
    ConnectionInfo.new().write(str(path))
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_a_second_connection_cannot_take_over_a_stdin_identity(echo):
    km, kc = echo
    info = km.get_connection_info()
    thief = zmq.Context.instance().socket(zmq.DEALER)
    thief.identity = kc.session.bsession  # the frontend's identity, which iopub shows to everyone
    thief.linger = 0
    monitor = thief.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
    try:
        thief.connect(endpoint(info, "stdin"))
        assert monitor.poll(TIMEOUT * 1000), "the second connection was not made"
        msg_id = kc.execute("input secret?", allow_stdin=True)
        request = kc.get_stdin_msg(timeout=TIMEOUT)
        assert request["content"]["prompt"] == "secret?"
        kc.input("mine")
        assert reply_for(kc, msg_id)["content"]["status"] == "ok"
        assert not thief.poll(0)
    finally:
        thief.disable_monitor()
        monitor.close(linger=0)
        thief.close()
