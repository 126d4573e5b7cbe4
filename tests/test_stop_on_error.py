"""stop_on_error against a real kernel (the echo kernel): what was sent before a failed cell's error
reply is aborted; what a frontend sends once it has that reply always runs.

The reaction test is a race by nature (the next cell arrives while the kernel is still busy with the
failed one), so it is run many rounds, with a lean client on the shell socket alone (pykernel's own
wire code and a zmq DEALER), so that the client answers within microseconds as a fast frontend would.
"""

from __future__ import annotations

import time

import pytest
import zmq

from corefixtures import TIMEOUT, endpoint, reply_for, running_kernel, send
from pykernel.wire import Session

pytestmark = pytest.mark.timeout(60)

ROUNDS = 300


class ShellClient:
    """Execute requests on the shell socket, one reply awaited at a time."""

    def __init__(self, info: dict):
        self.session = Session(info["key"], info["signature_scheme"])
        self.socket = zmq.Context.instance().socket(zmq.DEALER)
        self.socket.linger = 0
        self.socket.connect(endpoint(info, "shell"))

    def execute(self, code: str, subshell_id: str | None = None) -> str:
        header = self.session.header("execute_request", subshell_id)
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                   "allow_stdin": False, "stop_on_error": True}
        self.socket.send_multipart(self.session.serialize("execute_request", content,
                                                          header=header))
        return header["msg_id"]

    def reply(self, msg_id: str) -> dict:
        deadline = time.monotonic() + TIMEOUT
        while True:
            left = deadline - time.monotonic()
            assert left > 0 and self.socket.poll(int(left * 1000) + 1), f"no reply to {msg_id}"
            msg = self.session.deserialize(self.socket.recv_multipart())
            if msg.parent_header.get("msg_id") == msg_id:
                return msg.content

    def close(self) -> None:
        self.socket.close()


def create_subshell(kc) -> str:
    msg_id = send(kc, "control", "create_subshell_request", {})
    return reply_for(kc, msg_id, channel="control")["content"]["subshell_id"]


@pytest.mark.parametrize("where", ["main shell", "main shell, routed", "subshell"])
def test_a_cell_sent_on_receipt_of_the_error_reply_runs(where):
    with running_kernel("echo") as (km, kc):
        sid = None
        if where != "main shell":
            sid = create_subshell(kc)  # the router thread reads the socket from now on
        client = ShellClient(km.get_connection_info())
        target = sid if where == "subshell" else None
        try:
            statuses = []
            for i in range(ROUNDS):
                assert client.reply(client.execute("error x", target))["status"] == "error"
                statuses.append(client.reply(client.execute(f"next {i}", target))["status"])
            not_run = [s for s in statuses if s != "ok"]
            assert not not_run, f"{len(not_run)} of {ROUNDS} cells sent after the error: {not_run}"
        finally:
            client.close()


def test_cells_pipelined_behind_a_failing_cell_are_aborted_with_a_router():
    """The failing cell waits for input; the next cells are sent meanwhile, then a request on a
    subshell: its reply proves the router has put the earlier ones in the main shell's queue."""
    with running_kernel("echo") as (km, kc):
        sid = create_subshell(kc)
        first = kc.execute("input go? ", allow_stdin=True)
        kc.get_stdin_msg(timeout=TIMEOUT)
        ids = [kc.execute("error x"), kc.execute("a"), kc.kernel_info(), kc.execute("b")]
        barrier = send(kc, "shell", "kernel_info_request", {}, header={"subshell_id": sid})
        reply_for(kc, barrier)
        kc.input("go")
        assert reply_for(kc, first)["content"]["status"] == "ok"
        replies = [reply_for(kc, i)["content"] for i in ids]
        assert [r["status"] for r in replies] == ["error", "aborted", "ok", "aborted"]
        assert reply_for(kc, kc.execute("after"))["content"]["status"] == "ok"
