"""The kernel core over real zmq, driven by jupyter_client, through the echo language (no IPython)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import zmq
from jupyter_client import BlockingKernelClient
from jupyter_client.session import Session as JupyterSession

from corefixtures import (TIMEOUT, _next_for, endpoint, execute, iopub_for, kernel_manager, pid_alive,
                          reply_for, running_kernel, send, stdout_of, wait_pid_exit)
from pykernel import procs
from pykernel.wire import Session

TESTS = os.path.dirname(os.path.abspath(__file__))


def types(msgs):
    return [m["msg_type"] if m["msg_type"] != "status" else m["content"]["execution_state"]
            for m in msgs]


def test_kernel_info(echo):
    _, kc = echo
    info = kc.kernel_info(reply=True, timeout=TIMEOUT)["content"]
    assert info["status"] == "ok"
    assert info["protocol_version"] == "5.6"
    assert info["implementation"] == "echo"
    assert info["language_info"]["name"] == "echo"
    assert "kernel subshells" in info["supported_features"]
    assert info["debugger"] is False


def test_execute_messages_in_order(echo):
    _, kc = echo
    reply, msgs = execute(kc, "hello")
    assert reply["content"] == {"status": "ok", "execution_count": 1, "user_expressions": {},
                                "payload": []}
    assert types(msgs) == ["busy", "execute_input", "stream", "idle"]
    assert msgs[1]["content"] == {"code": "hello", "execution_count": 1}
    assert stdout_of(msgs) == "hello"
    assert execute(kc, "again")[0]["content"]["execution_count"] == 2


def test_silent_and_store_history_leave_the_count(echo):
    _, kc = echo
    reply, msgs = execute(kc, "quiet", silent=True)
    assert types(msgs) == ["busy", "idle"]
    assert reply["content"]["execution_count"] == 0
    assert execute(kc, "x", store_history=False)[0]["content"]["execution_count"] == 0
    assert execute(kc, "y")[0]["content"]["execution_count"] == 1


def test_error_reply(echo):
    _, kc = echo
    reply, msgs = execute(kc, "error boom")
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "EchoError"
    assert types(msgs) == ["busy", "execute_input", "error", "idle"]


def test_every_request_gets_busy_and_idle(echo):
    _, kc = echo
    ids = [kc.complete("sl", 2), kc.is_complete("x"), kc.inspect("x", 1), kc.history(),
           kc.comm_info(), kc.kernel_info()]
    for msg_id in ids:
        assert types(iopub_for(kc, msg_id)) == ["busy", "idle"]
        status = reply_for(kc, msg_id)["content"]["status"]
        assert status == ("complete" if msg_id == ids[1] else "ok")


def test_complete_and_is_complete(echo):
    _, kc = echo
    reply = reply_for(kc, kc.complete("echo sl", 7))["content"]
    assert reply["matches"] == ["sleep"] and (reply["cursor_start"], reply["cursor_end"]) == (5, 7)
    assert reply_for(kc, kc.is_complete("a\\"))["content"] == {"status": "incomplete", "indent": ""}


def test_cursor_past_end_and_in_code_points(echo):
    _, kc = echo
    reply = reply_for(kc, kc.complete("é sl", 999))["content"]
    assert reply["status"] == "ok" and reply["cursor_end"] == 4  # code points, clamped
    reply = reply_for(kc, kc.complete("x", -5))["content"]
    assert reply["status"] == "ok" and reply["cursor_end"] == 0


@pytest.mark.parametrize("msg_type,content,field", [
    ("execute_request", {"code": 5}, "code"),
    ("execute_request", {}, "code"),
    ("execute_request", {"code": "x", "silent": "yes"}, "silent"),
    ("complete_request", {"code": "x", "cursor_pos": "1"}, "cursor_pos"),
    ("inspect_request", {"code": None, "cursor_pos": 0}, "code"),
    ("history_request", {"hist_access_type": "sideways"}, "hist_access_type"),
    ("is_complete_request", {"code": ["x"]}, "code"),
])
def test_malformed_content_gets_an_error_reply(echo, msg_type, content, field):
    _, kc = echo
    msg_id = send(kc, "shell", msg_type, content)
    reply = reply_for(kc, msg_id)
    assert reply["msg_type"] == msg_type.replace("_request", "_reply")
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "BadRequest"
    assert field in reply["content"]["evalue"]
    assert execute(kc, "still here")[0]["content"]["status"] == "ok"


def test_unknown_request_gets_an_error_reply(echo):
    _, kc = echo
    reply = reply_for(kc, send(kc, "shell", "teleport_request", {}))
    assert reply["msg_type"] == "teleport_reply"
    assert reply["content"]["status"] == "error"


def test_huge_payload(echo):
    _, kc = echo
    code = "x" * (20 << 20)
    reply, msgs = execute(kc, code, timeout=60)
    assert reply["content"]["status"] == "ok"
    assert stdout_of(msgs) == code


def test_stream_burst_is_coalesced_and_complete(echo):
    _, kc = echo
    reply, msgs = execute(kc, "lines 100000", timeout=60)
    text = stdout_of(msgs)
    assert text == "".join(f"{i}\n" for i in range(100000))
    streams = [m for m in msgs if m["msg_type"] == "stream"]
    assert len(streams) < 1000


def test_stdin(echo):
    _, kc = echo
    msg_id = kc.execute("input name? ", allow_stdin=True)
    req = kc.get_stdin_msg(timeout=TIMEOUT)
    assert req["msg_type"] == "input_request"
    assert req["content"] == {"prompt": "name? ", "password": False}
    assert req["parent_header"]["msg_id"] == msg_id
    kc.input("Ada")
    assert reply_for(kc, msg_id)["content"]["status"] == "ok"
    assert stdout_of(iopub_for(kc, msg_id)) == "Ada\n"


def test_stdin_refused_when_not_allowed(echo):
    _, kc = echo
    reply, _ = execute(kc, "input name? ", allow_stdin=False)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "StdinNotAllowed"


# ---- stop_on_error ---------------------------------------------------------------------------------

def test_stop_on_error_aborts_pipelined_executes(echo):
    _, kc = echo
    failing = kc.execute("sleep 0.5")  # the rest are surely queued behind it
    ids = [kc.execute("error x"), kc.execute("a"), kc.kernel_info(), kc.execute("b")]
    assert reply_for(kc, failing)["content"]["status"] == "ok"
    replies = [reply_for(kc, i)["content"] for i in ids]
    assert replies[0]["status"] == "error"
    assert replies[1] == {"status": "aborted"}
    assert replies[2]["status"] == "ok" and "protocol_version" in replies[2]  # not an execute
    assert replies[3] == {"status": "aborted"}
    assert execute(kc, "after")[0]["content"]["status"] == "ok"


def test_stop_on_error_false_runs_the_rest(echo):
    _, kc = echo
    ids = [kc.execute("error x", stop_on_error=False), kc.execute("a")]
    assert [reply_for(kc, i)["content"]["status"] for i in ids] == ["error", "ok"]


def test_aborted_requests_get_busy_and_idle(echo):
    _, kc = echo
    # behind a sleeping cell, so both are surely queued when the error happens
    kc.execute("sleep 0.3")
    first, second = kc.execute("error x"), kc.execute("a")
    assert reply_for(kc, second)["content"]["status"] == "aborted"
    assert types(iopub_for(kc, second)) == ["busy", "idle"]


# ---- bad input on the wire ------------------------------------------------------------------------

def test_forged_unsigned_replayed_and_garbage_are_dropped():
    with running_kernel("echo") as (km, kc):
        info = km.get_connection_info()
        ctx = zmq.Context.instance()
        raw = ctx.socket(zmq.DEALER)
        raw.connect(endpoint(info, "shell"))
        good = Session(info["key"])
        forged = Session(b"not-the-key")
        unsigned = Session(b"")
        signed = good.serialize("execute_request", {"code": "signed"})
        raw.send_multipart([b"garbage"])
        raw.send_multipart([b"<IDS|MSG>", b"sig", b"{", b"}", b"{}", b"{}"])
        raw.send_multipart(forged.serialize("execute_request", {"code": "forged"}))
        raw.send_multipart(unsigned.serialize("execute_request", {"code": "unsigned"}))
        raw.send_multipart(signed)
        raw.send_multipart(signed)  # a replay
        raw.send_multipart(good.serialize("kernel_info_request", {}))
        replies = []
        while len(replies) < 2:
            assert raw.poll(TIMEOUT * 1000)
            replies.append(good.deserialize(raw.recv_multipart()))
        assert [r.msg_type for r in replies] == ["execute_reply", "kernel_info_reply"]
        assert not raw.poll(200)  # nothing else was answered
        raw.close(linger=0)
        assert execute(kc, "alive")[0]["content"]["status"] == "ok"


def test_bad_messages_are_logged(tmp_path):
    log = open(tmp_path / "kernel.log", "w")
    km = kernel_manager("echo")
    km.start_kernel(stderr=log)
    try:
        info = km.get_connection_info()
        raw = zmq.Context.instance().socket(zmq.DEALER)
        raw.connect(endpoint(info, "control"))
        raw.send_multipart(Session(b"wrong").serialize("kernel_info_request", {}))
        raw.send_multipart(Session(info["key"]).serialize("kernel_info_request", {}))
        assert raw.poll(TIMEOUT * 1000)
        raw.close(linger=0)
    finally:
        km.shutdown_kernel(now=True)
        log.close()
    assert "dropped a message on control: invalid signature" in (tmp_path / "kernel.log").read_text()


def test_frontend_that_vanishes_mid_request():
    with running_kernel("echo") as (km, kc):
        # a different frontend: its own session, so its own zmq identity
        gone = km.client(session=JupyterSession(key=km.session.key))
        gone.start_channels(hb=False)  # no heartbeat thread racing its own stop
        gone.execute("sleep 0.3")
        gone.execute("input who? ", allow_stdin=True, stop_on_error=False)
        gone.stop_channels()
        # the input request to the vanished frontend fails at once instead of waiting forever
        assert execute(kc, "still serving")[0]["content"]["status"] == "ok"


# ---- iopub ----------------------------------------------------------------------------------------

def test_iopub_welcome_on_subscription(echo):
    km, _ = echo
    info = km.get_connection_info()
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.connect(endpoint(info, "iopub"))
    sub.subscribe(b"")
    assert sub.poll(TIMEOUT * 1000)
    msg = Session(info["key"]).deserialize(sub.recv_multipart())
    sub.close(linger=0)
    assert msg.msg_type == "iopub_welcome"
    assert msg.content == {"subscription": ""}
    assert msg.parent_header == {}


def test_starting_status_is_published_once():
    km = kernel_manager("echo")
    km.start_kernel()
    try:
        info = km.get_connection_info()
        sub = zmq.Context.instance().socket(zmq.SUB)
        sub.connect(endpoint(info, "iopub"))
        sub.subscribe(b"")
        # The kernel may have published `starting` before we subscribed; what we must never see is a
        # second one. Ask for kernel_info and read iopub up to its idle.
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=TIMEOUT)
        kc.stop_channels()
        session = Session(info["key"])
        seen = []
        while sub.poll(500):
            m = session.deserialize(sub.recv_multipart())
            seen.append(m.content.get("execution_state"))
        sub.close(linger=0)
        assert seen.count("starting") <= 1
    finally:
        km.shutdown_kernel(now=True)


# ---- control, heartbeat, subshells -----------------------------------------------------------------

def test_control_answers_while_shell_is_busy(echo):
    _, kc = echo
    busy = kc.execute("sleep 3")
    info_id = send(kc, "control", "kernel_info_request", {})
    info = reply_for(kc, info_id, channel="control")
    assert info["content"]["status"] == "ok"
    # the long cell is still running: its reply has not come
    assert kc.shell_channel.msg_ready() is False
    assert reply_for(kc, busy)["content"]["status"] == "ok"


def test_heartbeat_answers_during_cpu_bound_cell(echo):
    km, kc = echo
    info = km.get_connection_info()
    busy = kc.execute("spin 2")
    hb = zmq.Context.instance().socket(zmq.REQ)
    hb.connect(endpoint(info, "hb"))
    for i in range(3):
        hb.send(b"ping %d" % i)
        assert hb.poll(1500), "no heartbeat while the cell holds the GIL"
        assert hb.recv() == b"ping %d" % i
    hb.close(linger=0)
    assert not kc.shell_channel.msg_ready()
    assert reply_for(kc, busy)["content"]["status"] == "ok"


def create_subshell(kc) -> str:
    reply = reply_for(kc, send(kc, "control", "create_subshell_request", {}), channel="control")
    assert reply["content"]["status"] == "ok"
    return reply["content"]["subshell_id"]


def test_subshell_runs_while_main_shell_is_busy(echo):
    _, kc = echo
    sid = create_subshell(kc)
    busy = kc.execute("sleep 3")
    on_sub = send(kc, "shell", "execute_request", {"code": "from the subshell"},
                  header={"subshell_id": sid})
    reply = reply_for(kc, on_sub)
    assert reply["content"]["status"] == "ok"
    assert reply["header"]["subshell_id"] == sid
    assert not kc.shell_channel.msg_ready()  # main is still sleeping
    out = iopub_for(kc, on_sub)
    assert stdout_of(out) == "from the subshell"
    assert all(m["header"].get("subshell_id") == sid for m in out)
    assert reply_for(kc, busy)["content"]["status"] == "ok"


def test_subshell_created_while_main_is_busy(echo):
    _, kc = echo
    busy = kc.execute("sleep 2")
    sid = create_subshell(kc)
    on_sub = send(kc, "shell", "kernel_info_request", {}, header={"subshell_id": sid})
    assert reply_for(kc, on_sub)["content"]["status"] == "ok"
    assert not kc.shell_channel.msg_ready()
    assert reply_for(kc, busy)["content"]["status"] == "ok"


def test_subshell_requests_run_in_order(echo):
    _, kc = echo
    sid = create_subshell(kc)
    ids = [send(kc, "shell", "execute_request", {"code": f"n{i}"}, header={"subshell_id": sid})
           for i in range(20)]
    counts = [reply_for(kc, i)["content"]["execution_count"] for i in ids]
    assert counts == sorted(counts)


def test_subshell_list_and_delete(echo):
    _, kc = echo
    a, b = create_subshell(kc), create_subshell(kc)
    listed = reply_for(kc, send(kc, "control", "list_subshell_request", {}), channel="control")
    assert sorted(listed["content"]["subshell_id"]) == sorted([a, b])
    for sid in (a, b):
        r = reply_for(kc, send(kc, "control", "delete_subshell_request", {"subshell_id": sid}),
                      channel="control")
        assert r["content"]["status"] == "ok"
    r = reply_for(kc, send(kc, "control", "delete_subshell_request", {"subshell_id": a}),
                  channel="control")
    assert r["content"]["status"] == "error"
    listed = reply_for(kc, send(kc, "control", "list_subshell_request", {}), channel="control")
    assert listed["content"]["subshell_id"] == []
    # back to direct mode: the main shell still works, and a new subshell works too
    assert execute(kc, "main again")[0]["content"]["status"] == "ok"
    c = create_subshell(kc)
    r = reply_for(kc, send(kc, "shell", "execute_request", {"code": "c"}, header={"subshell_id": c}))
    assert r["content"]["status"] == "ok"
    assert execute(kc, "main once more")[0]["content"]["status"] == "ok"


def test_unknown_subshell_gets_an_error_reply(echo):
    _, kc = echo
    r = reply_for(kc, send(kc, "shell", "execute_request", {"code": "x"},
                           header={"subshell_id": "nope"}))
    assert r["content"]["status"] == "error"
    assert r["content"]["ename"] == "SubshellNotFound"


def test_usage_request(echo):
    _, kc = echo
    first = reply_for(kc, send(kc, "control", "usage_request", {}), channel="control")
    assert first["msg_type"] == "usage_reply"
    reply_for(kc, kc.execute("spin 0.3"))
    c = reply_for(kc, send(kc, "control", "usage_request", {}), channel="control")["content"]
    assert c["pid"] > 0 and c["cpu_count"] >= 1
    assert c["kernel_cpu"] > 0  # it just spun
    assert 10 << 20 < c["kernel_memory"] < 1 << 30
    vm = c["host_virtual_memory"]
    assert 0 < vm["available"] <= vm["total"] and 0 <= vm["percent"] <= 100


# ---- interrupt -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["echo", "echo-message"])
def test_interrupt_stops_the_running_cell_only(name):
    with running_kernel(name) as (km, kc):
        if name == "echo-message":  # idle: ignored (wait for the reply: control is asynchronous)
            reply_for(kc, send(kc, "control", "interrupt_request", {}), channel="control")
        else:
            km.interrupt_kernel()
        assert execute(kc, "idle interrupt ignored")[0]["content"]["status"] == "ok"
        msg_id = kc.execute("sleep 30")
        assert types(iopub_for_first(kc, msg_id, "execute_input"))
        km.interrupt_kernel()
        reply = reply_for(kc, msg_id)["content"]
        assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
        assert execute(kc, "after")[0]["content"]["status"] == "ok"


def running_command(pid: int, name: str) -> bool:
    """Whether a descendant of pid is running the program `name`."""
    for child in procs.descendants(pid):
        try:
            with open(f"/proc/{child}/comm") as f:
                if f.read().strip() == name:
                    return True
        except OSError:
            pass
    return False


def iopub_for_first(kc, msg_id, msg_type):
    """Read iopub until the first `msg_type` of msg_id: the cell has started."""
    out = []
    deadline = time.monotonic() + TIMEOUT
    while True:
        out.append(_next_for(kc, "iopub", msg_id, deadline))
        if out[-1]["msg_type"] == msg_type:
            return out


@pytest.mark.parametrize("name", ["echo", "echo-message"])
def test_interrupt_reaches_child_processes(name):
    """os.system ignores SIGINT in the kernel while its child runs: only a signal to the child can
    end the cell. Signal mode gets that from the process-group signal, message mode from the kernel
    signalling its children."""
    with running_kernel(name) as (km, kc):
        msg_id = kc.execute("system sleep 60")
        iopub_for_first(kc, msg_id, "execute_input")
        # Wait until `sleep` itself runs: a signal that lands between the fork and the child's reset
        # of SIGINT (which os.system ignores in the parent) would be lost, and the cell run 60 s.
        pid = km.provisioner.process.pid
        deadline = time.monotonic() + TIMEOUT
        while not running_command(pid, "sleep") and time.monotonic() < deadline:
            time.sleep(0.01)
        km.interrupt_kernel()
        reply = reply_for(kc, msg_id, timeout=30)["content"]
        out = stdout_of(iopub_for(kc, msg_id))
        assert reply["status"] == "ok" and out.startswith("status ") and out != "status 0\n"


def test_interrupt_blocked_in_input():
    with running_kernel("echo-message") as (km, kc):
        msg_id = kc.execute("input waiting ", allow_stdin=True)
        kc.get_stdin_msg(timeout=TIMEOUT)
        km.interrupt_kernel()
        assert reply_for(kc, msg_id)["content"]["ename"] == "KeyboardInterrupt"
        assert execute(kc, "after")[0]["content"]["status"] == "ok"


# ---- shutdown and lifetime -------------------------------------------------------------------------

def test_shutdown_with_live_child_exits_promptly_and_kills_the_child():
    with running_kernel("echo") as (km, kc):
        reply, msgs = execute(kc, "child")
        child = int(stdout_of(msgs))
        assert pid_alive(child)
        pid = km.provisioner.process.pid
        r = reply_for(kc, send(kc, "control", "shutdown_request", {"restart": False}),
                      channel="control")
        assert r["content"] == {"status": "ok", "restart": False}
        # exits on its own, with status 0: not killed by the client after its grace period
        assert km.provisioner.process.wait(timeout=km.shutdown_wait_time) == 0
        assert wait_pid_exit(child, 5) and not pid_alive(child)
        assert not pid_alive(pid)


def test_shutdown_while_a_cell_runs():
    with running_kernel("echo") as (km, kc):
        kc.execute("sleep 60")
        r = reply_for(kc, send(kc, "control", "shutdown_request", {"restart": True}),
                      channel="control")
        assert r["content"] == {"status": "ok", "restart": True}
        assert km.provisioner.process.wait(timeout=km.shutdown_wait_time) == 0


def test_shutdown_reply_is_broadcast_on_iopub(echo):
    _, kc = echo
    msg_id = send(kc, "control", "shutdown_request", {"restart": False})
    msgs = iopub_for(kc, msg_id)
    assert "shutdown_reply" in types(msgs)


def test_restart_through_jupyter_client(echo):
    km, kc = echo
    old = km.provisioner.process.pid
    km.restart_kernel()
    assert km.provisioner.process.pid != old
    kc.wait_for_ready(timeout=TIMEOUT)
    assert execute(kc, "new")[0]["content"]["execution_count"] == 1


def test_kernel_exits_when_its_parent_dies(tmp_path):
    cf = tmp_path / "kernel.json"
    launcher = (
        "import os, subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, sys.argv[1], '-f', sys.argv[2]],"
        " env=dict(os.environ, JPY_PARENT_PID=str(os.getpid())))\n"
        "print(p.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", launcher, os.path.join(TESTS, "echo_kernel.py"),
                               str(cf)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    kernel_pid = int(parent.stdout.readline())
    kc = BlockingKernelClient(connection_file=str(cf), context=zmq.Context.instance())
    _wait_for_file(cf, kernel_pid)
    kc.load_connection_file()
    kc.start_channels()
    kc.wait_for_ready(timeout=TIMEOUT)
    kc.stop_channels()
    parent.kill()
    parent.wait()
    parent.stdin.close()
    parent.stdout.close()
    assert wait_pid_exit(kernel_pid, 10), "the kernel outlived its parent"


def _wait_for_file(path, pid):
    # the kernel writes its connection file before it serves; inotify would be overkill here
    deadline = time.monotonic() + TIMEOUT
    while not (path.exists() and path.stat().st_size) and time.monotonic() < deadline:
        assert pid_alive(pid)
        time.sleep(0.02)


# ---- connection files, transports, encryption ------------------------------------------------------

def start_without_connection_file(tmp_path, *args):
    """Start the echo kernel with no -f: it writes its own connection file and says where."""
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path))
    p = subprocess.Popen([sys.executable, os.path.join(TESTS, "echo_kernel.py"), *args], env=env,
                         stderr=subprocess.PIPE, text=True)
    line = p.stderr.readline()
    return p, line.split("--existing", 1)[1].strip()


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise AssertionError("the kernel did not exit on SIGTERM") from None
    finally:
        p.stderr.close()


def connect(path):
    kc = BlockingKernelClient(connection_file=path, context=zmq.Context.instance())
    kc.load_connection_file()
    kc.start_channels()
    kc.wait_for_ready(timeout=TIMEOUT)
    return kc


def test_writes_its_own_connection_file(tmp_path):
    p, path = start_without_connection_file(tmp_path)
    try:
        assert os.path.dirname(path) == str(tmp_path)
        assert os.stat(path).st_mode & 0o777 == 0o600
        with open(path) as f:
            info = json.load(f)
        assert info["ip"] == "127.0.0.1" and info["transport"] == "tcp"
        assert len(info["key"]) >= 32 and all(info[p] > 0 for p in (
            "shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"))
        kc = connect(path)
        assert execute(kc, "hi")[0]["content"]["status"] == "ok"
        kc.stop_channels()
    finally:
        stop(p)


def test_binds_the_given_ip(tmp_path):
    p, path = start_without_connection_file(tmp_path, "--ip=127.0.0.2")
    try:
        with open(path) as f:
            info = json.load(f)
        assert info["ip"] == "127.0.0.2"
        kc = connect(path)
        assert execute(kc, "on 127.0.0.2")[0]["content"]["status"] == "ok"
        kc.stop_channels()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", info["shell_port"]), 1).close()
    finally:
        stop(p)


def test_ipc_transport(tmp_path):
    with running_kernel("echo", transport="ipc", ip=str(tmp_path / "k")) as (km, kc):
        assert km.get_connection_info()["transport"] == "ipc"
        assert execute(kc, "over ipc")[0]["content"]["status"] == "ok"


def test_ipc_transport_from_the_command_line(tmp_path):
    p, path = start_without_connection_file(tmp_path, "--transport=ipc", f"--ip={tmp_path}/s")
    try:
        kc = connect(path)
        assert kc.transport == "ipc"
        assert execute(kc, "over ipc")[0]["content"]["status"] == "ok"
        kc.stop_channels()
    finally:
        stop(p)


@pytest.mark.skipif(not zmq.has("curve"), reason="libzmq was built without CurveZMQ")
def test_curve_encryption():
    with running_kernel("echo-curve", transport_encryption="required") as (km, kc):
        info = km.get_connection_info()
        assert info.get("curve_publickey")
        assert execute(kc, "encrypted")[0]["content"]["status"] == "ok"
        # a client without the server key gets nothing at all
        plain = zmq.Context.instance().socket(zmq.DEALER)
        plain.connect(endpoint(info, "shell"))
        plain.send_multipart(Session(info["key"]).serialize("kernel_info_request", {}))
        assert not plain.poll(1000)
        plain.close(linger=0)
        # nor does one with the wrong server key
        wrong = zmq.Context.instance().socket(zmq.DEALER)
        pub, sec = zmq.curve_keypair()
        wrong.curve_serverkey, (wrong.curve_publickey, wrong.curve_secretkey) = pub, zmq.curve_keypair()
        wrong.connect(endpoint(info, "shell"))
        wrong.send_multipart(Session(info["key"]).serialize("kernel_info_request", {}))
        assert not wrong.poll(1000)
        wrong.close(linger=0)
