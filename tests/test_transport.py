"""The transport against frontends that misbehave: one that dies while asked for input, and one
that stops reading iopub while a cell prints 100 MB."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import zmq

from corefixtures import TIMEOUT, endpoint, iopub_for, reply_for, running_kernel, stdout_of
from wrapfixtures import Session as WrapSession

# A frontend in a process of its own: it starts a cell that asks for input, says so, and waits to
# be killed.
ASKER = """
import sys
from jupyter_client import BlockingKernelClient
kc = BlockingKernelClient(connection_file=sys.argv[1])
kc.load_connection_file()
kc.start_channels()
kc.wait_for_ready(timeout=20)
msg_id = kc.execute(sys.argv[2], allow_stdin=True)
kc.get_stdin_msg(timeout=20)
print(msg_id, flush=True)
sys.stdin.read()
"""


def ask_and_die(connection_file: str, code: str) -> str:
    """Run `code` from a frontend process that is SIGKILLed once the input request reached it;
    return the request's msg_id."""
    p = subprocess.Popen([sys.executable, "-c", ASKER, connection_file, code],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        msg_id = p.stdout.readline().strip()
        assert msg_id, "the frontend process did not get its input request"
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdin.close()
        p.stdout.close()
    return msg_id


def error_of(kc, msg_id: str) -> dict:
    [error] = [m["content"] for m in iopub_for(kc, msg_id) if m["msg_type"] == "error"]
    return error


@pytest.mark.parametrize("kernel, code, ename", [
    ("pykernel", "input('name? ')", "EOFError"),
    ("echo", "input name?", "EOFError"),
])
def test_input_ends_when_the_asking_frontend_dies(kernel, code, ename):
    with running_kernel(kernel) as (km, kc):
        msg_id = ask_and_die(km.connection_file, code)
        # the cell ends (its output reaches the frontends that are left) ...
        assert error_of(kc, msg_id)["ename"] == ename
        # ... and the next cell runs
        reply = reply_for(kc, kc.execute("1" if kernel == "pykernel" else "next"))
        assert reply["content"]["status"] == "ok"


def test_wrapper_input_ends_when_the_asking_frontend_dies(kernel_dir):
    calc = WrapSession(kernel_dir, "calc")
    try:
        msg_id = ask_and_die(calc.km.connection_file, 'n = input "How many? "')
        error = error_of(calc.kc, msg_id)
        assert error["ename"] == "EOFError"
        assert calc.run("1 + 1").result == {"text/plain": "2"}
    finally:
        calc.close()


def test_bash_read_ends_when_the_asking_frontend_dies(kernel_dir):
    bash = WrapSession(kernel_dir, "bash")
    try:
        msg_id = ask_and_die(bash.km.connection_file, "read x; echo \"status $?\"")
        # `read` saw the end of its input: the cell ends, and the next one runs
        assert stdout_of(iopub_for(bash.kc, msg_id)) == "status 1\n"
        assert bash.run("echo next").stdout == "next\n"
    finally:
        bash.close()


# ---- bounded iopub ---------------------------------------------------------------------------------

MIB = 1 << 20
PRINT_100_MIB = "import sys\nline = 'x' * 1023 + '\\n'\nfor _ in range(100 * 1024):\n    sys.stdout.write(line)"


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (the peak RSS) of a process, in bytes."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(value.split()[0]) * 1024
    return out


def stalled_subscriber(info: dict) -> zmq.Socket:
    """An iopub subscriber that will not read: the smallest buffers zmq and the OS allow."""
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.rcvhwm = 1
    sub.rcvbuf = 4096
    sub.linger = 0
    sub.connect(endpoint(info, "iopub"))
    sub.subscribe(b"")
    return sub


def wait_welcome(kc) -> None:
    """Every subscriber sees each new subscriber's welcome: wait for the next one."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if msg["msg_type"] == "iopub_welcome":
            return
    raise AssertionError("no iopub_welcome")


NOTICE = ("[pykernel: a frontend stopped reading output; what was printed while it did not read "
          "was not sent to it]\n")


def test_a_stalled_subscriber_costs_bounded_memory_and_a_reader_loses_nothing():
    with running_kernel("pykernel", ["--KernelApp.iopub_stall_timeout=1"]) as (km, kc):
        pid = km.provisioner.process.pid
        iopub_for(kc, kc.execute("pass"))
        stalled = stalled_subscriber(km.get_connection_info())
        try:
            wait_welcome(kc)
            before = memory(pid)["VmRSS"]
            msg_id = kc.execute(PRINT_100_MIB)
            msgs = iopub_for(kc, msg_id, timeout=120)
            assert reply_for(kc, msg_id)["content"]["status"] == "ok"
            grown = memory(pid)["VmHWM"] - before
            # the reader got every byte, in order, and was told that another frontend missed some
            text = stdout_of(msgs)
            assert len(text) == 100 * MIB and text == ("x" * 1023 + "\n") * (100 * 1024)
            assert stdout_of(msgs, "stderr") == NOTICE
            # without a bound the kernel held it all for the stalled subscriber (+108 MiB here)
            assert grown < 60 * MIB, f"the kernel grew by {grown / MIB:.1f} MiB"
        finally:
            stalled.close()


def test_a_subscriber_that_reads_again_is_told_what_it_missed(tmp_path):
    flag = tmp_path / "seen"
    code = (f"{PRINT_100_MIB}\nimport os, time\n"
            f"while not os.path.exists({str(flag)!r}):\n    print('tick')\n    time.sleep(0.02)")
    with running_kernel("pykernel", ["--KernelApp.iopub_stall_timeout=1",
                                     "--KernelApp.iopub_hwm=4"]) as (km, kc):
        iopub_for(kc, kc.execute("pass"))
        stalled = stalled_subscriber(km.get_connection_info())
        try:
            wait_welcome(kc)
            msg_id = kc.execute(code)
            # the reader sees the ticks, which come after the 100 MiB: the stall is over by then
            wait_for_text(kc, msg_id, "tick\n")
            # the stalled subscriber reads again: once it gets ticks too, it is sent output again
            texts = []
            deadline = time.monotonic() + TIMEOUT
            while not texts or not texts[-1].startswith("[pykernel"):
                assert stalled.poll(max(0, int((deadline - time.monotonic()) * 1000)))
                frames = stalled.recv_multipart()
                if frames[0].endswith(b".stream"):
                    content = json.loads(frames[-1])
                    texts.append(content["text"])
                    if content["text"].startswith("tick"):
                        flag.touch()
            assert texts[-1] == NOTICE
            # it missed part of the 100 MiB
            assert len("".join(texts[:-1]).replace("tick\n", "")) < 100 * MIB
            assert reply_for(kc, msg_id)["content"]["status"] == "ok"
        finally:
            stalled.close()


def wait_for_text(kc, msg_id: str, text: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream" and \
                text in msg["content"]["text"]:
            return
    raise AssertionError(f"{text!r} never came")
