"""Correctly signed requests with bad content get an error reply naming the problem; what cannot be
attributed to a request is logged once with a count, not once per message."""

from __future__ import annotations

import json
import subprocess

import pytest
import zmq
from jupyter_client import KernelManager

from corefixtures import TIMEOUT, endpoint, execute
from pykernel.wire import DELIMITER, Session


def raw_request(session: Session, msg_type: str, content: bytes) -> list[bytes]:
    """A correctly signed request whose content frame is `content`, whatever it holds."""
    parts = [json.dumps(session.header(msg_type)).encode(), b"{}", b"{}", content]
    return [DELIMITER, session.signer.sign(parts), *parts]


@pytest.fixture
def dealer(echo):
    km, kc = echo
    info = km.get_connection_info()
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(endpoint(info, "shell"))
    yield sock, Session(info["key"]), kc
    sock.close()


def reply_to(sock, session: Session, frames: list[bytes]) -> dict:
    sock.send_multipart(frames)
    assert sock.poll(TIMEOUT * 1000), "no reply"
    msg = session.deserialize(sock.recv_multipart())
    return {"msg_type": msg.msg_type, "parent": msg.parent_header, **msg.content}


@pytest.mark.parametrize("content, problem", [
    (b'["code", "1"]', "content is a JSON list, not an object"),
    (b"[" * 100_000 + b"]" * 100_000, "content is nested too deeply to parse"),
    (b'{"code": "caf\xe9"}', "content is not valid UTF-8 (invalid continuation byte at byte 13)"),
])
def test_bad_content_gets_an_error_reply_naming_the_problem(dealer, content, problem):
    sock, session, kc = dealer
    frames = raw_request(session, "execute_request", content)
    reply = reply_to(sock, session, frames)
    assert reply["msg_type"] == "execute_reply"
    assert reply["parent"] == json.loads(frames[2])
    assert reply["status"] == "error" and reply["ename"] == "BadRequest"
    assert reply["evalue"] == f"execute_request: {problem}"
    # and the kernel goes on
    assert execute(kc, "still here")[0]["content"]["status"] == "ok"


def test_bad_content_of_other_requests_too(dealer):
    sock, session, kc = dealer
    reply = reply_to(sock, session, raw_request(session, "complete_request", b"7"))
    assert reply["msg_type"] == "complete_reply" and reply["status"] == "error"
    assert reply["evalue"] == "complete_request: content is a JSON int, not an object"


def test_unattributable_messages_are_logged_once_with_a_count(tmp_path):
    err_path = tmp_path / "err"
    km = KernelManager(kernel_name="echo")
    with open(err_path, "w") as err:
        km.start_kernel(stderr=err, stdout=subprocess.DEVNULL)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=TIMEOUT)
        info = km.get_connection_info()
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(endpoint(info, "shell"))
        for i in range(200):
            sock.send_multipart([DELIMITER, b"bad signature", b"{}", b"{}", b"{}", b"{}"])
        # one connection's messages are read in order: once this is answered, the 200 were read
        session = Session(info["key"])
        assert reply_to(sock, session, session.serialize("kernel_info_request", {}))["status"] \
            == "ok"
        sock.close()
        kc.stop_channels()
    finally:
        km.shutdown_kernel(now=False)  # an orderly exit writes the count still owed
    lines = [line.split("] ", 1)[1] for line in err_path.read_text().splitlines()
             if line.startswith("[pykernel WARNING")]
    assert lines == ["dropped a message on shell: invalid signature",
                     "dropped 199 more messages; the last on shell: invalid signature"]
