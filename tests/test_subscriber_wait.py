"""The first shell request waits for a first iopub subscriber (or `subscriber_wait` after binding).

A client that keeps its sockets across a restart reconnects them to the new kernel in no particular
order: its execute_request may arrive before its iopub subscription, and the cell's output would be
published to nobody. Raw sockets here, so the order is the test's to choose.
"""

from __future__ import annotations

import contextlib

import zmq
from jupyter_client import KernelManager

from corefixtures import TIMEOUT, endpoint
from pykernel.wire import Session


@contextlib.contextmanager
def raw_kernel(*argv):
    """The echo kernel and a Session with its key, plus a function making connected sockets."""
    km = KernelManager(kernel_name="echo")
    km.start_kernel(extra_arguments=list(argv))
    info = km.get_connection_info()
    ctx = zmq.Context()
    socks = []

    def socket(kind: int, port_name: str) -> zmq.Socket:
        sock = ctx.socket(kind)
        sock.linger = 0
        if kind == zmq.SUB:
            sock.subscribe(b"")
        sock.connect(endpoint(info, port_name.removesuffix("_port")))
        socks.append(sock)
        return sock

    try:
        yield Session(info["key"]), socket  # jupyter_client gives the key as bytes
    finally:
        for sock in socks:
            sock.close(linger=0)
        ctx.term()
        km.shutdown_kernel(now=True)


def recv(sock: zmq.Socket, session: Session):
    assert sock.poll(TIMEOUT * 1000), "no message within the deadline"
    return session.deserialize(sock.recv_multipart())


def reply(sock: zmq.Socket, session: Session, msg_type: str, content: dict):
    frames = session.serialize(msg_type, content)
    sock.send_multipart(frames)
    msg = recv(sock, session)
    assert msg.msg_type == msg_type.replace("_request", "_reply")
    return msg


def test_output_of_a_request_sent_before_the_subscription_is_not_lost():
    # a generous bound, so the kernel's start-up time on a loaded machine cannot use it all up
    with raw_kernel("--EchoKernel.subscriber_wait=30") as (session, socket):
        control = socket(zmq.DEALER, "control_port")
        reply(control, session, "kernel_info_request", {})  # the kernel is up and serving
        shell = socket(zmq.DEALER, "shell_port")
        execute = session.serialize("execute_request", {"code": "first cell", "silent": False})
        shell.send_multipart(execute)
        # The kernel has the request about now; control still answers while shell is held.
        reply(control, session, "kernel_info_request", {})
        iopub = socket(zmq.SUB, "iopub_port")
        msg_id = session.deserialize(execute).msg_id
        texts = []
        while True:
            msg = recv(iopub, session)
            if msg.parent_header.get("msg_id") != msg_id:
                continue
            if msg.msg_type == "stream":
                texts.append(msg.content["text"])
            if msg.msg_type == "status" and msg.content["execution_state"] == "idle":
                break
        assert "".join(texts).strip() == "first cell"
        assert recv(shell, session).content["status"] == "ok"


def test_without_any_subscriber_the_kernel_answers_after_the_bound():
    with raw_kernel("--EchoKernel.subscriber_wait=0.5") as (session, socket):
        shell = socket(zmq.DEALER, "shell_port")
        msg = reply(shell, session, "execute_request", {"code": "nobody listens", "silent": False})
        assert msg.content["status"] == "ok"
