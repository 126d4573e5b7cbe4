"""The Python kernel's debugger (pykernel/python/debugger.py).

First its pure parts (the cell-name hash, DAP framing, the variables table), then how the kernel
announces the debugger (the installed kernelspec, kernel_info), then the `pykernel` kernel driven
over zmq by jupyter_client the way JupyterLab's debugger drives a kernel: `debugInfo` first,
`initialize`, `attach {}`, `dumpCell` + `setBreakpoints`, run the cell, then stackTrace / scopes /
variables / evaluate / stepping on the `stopped` event, all on the control channel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
from corefixtures import (TIMEOUT, _next_for, _stash, execute, iopub_for, reply_for,
                          running_kernel, send, stdout_of, wait_pid_exit)

from pykernel.python.dap import DapParser, DapProtocolError, encode
from pykernel.python.debugger import HASH_SEED, cell_filename, murmur2, tmp_file_prefix
from pykernel.python.debugvars import VariableTable, visible

# ---- the cell-name hash --------------------------------------------------------------------------

#: (text, seed, hash) computed by the MurmurHash2 function of JupyterLab 4.6's debugger (the one
#: `Debugger.Config.setHashParams` installs, from the jlab_core bundle), run under node
JUPYTERLAB_MURMUR2 = [
    ("", 0, 0),
    ("", 0xC70F6907, 3990065800),
    ("a", 0xC70F6907, 2167009006),
    ("ab", 0xC70F6907, 2805137849),
    ("abc", 0xC70F6907, 3350977461),
    ("abcd", 0xC70F6907, 804720481),
    ("abcde", 0xC70F6907, 730143326),
    ("print('hello')\n", 0xC70F6907, 4288063316),
    ("x = 1\ny = 2\n", 0xC70F6907, 1929394121),
    ("caf\u00e9 \u2603 \U0001F600", 0xC70F6907, 3463864012),
    ("The quick brown fox jumps over the lazy dog", 0, 556214736),
    ("hello", 1, 2788266382),
    ("x" * 1000, 0xC70F6907, 2976633443),
]


@pytest.mark.parametrize("text, seed, expected", JUPYTERLAB_MURMUR2)
def test_murmur2_matches_jupyterlab(text, seed, expected):
    assert murmur2(text.encode("utf-8"), seed) == expected


def test_cell_filename_is_what_the_frontend_computes():
    code = "def f(n):\n    return n + 1\n"
    prefix = tmp_file_prefix()
    assert prefix == os.path.join(tempfile.gettempdir(), f"pykernel_{os.getpid()}") + os.sep
    assert cell_filename(code) == f"{prefix}554575038.py"  # 554575038: JupyterLab's hash
    assert cell_filename(code) != cell_filename(code + " ")


def test_cell_filename_hashes_lone_surrogates_as_the_browser_encodes_them():
    # TextEncoder writes U+FFFD for a lone surrogate; JupyterLab hashes "a\ud800b" to 1108221500
    assert cell_filename("a\ud800b") == f"{tmp_file_prefix()}1108221500.py"


def test_available_does_not_import_debugpy():
    code = ("import sys; from pykernel.python.debugger import Debugger; "
            "print(Debugger.available(), 'debugpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=TIMEOUT, check=True, cwd=os.path.dirname(os.path.dirname(
                             os.path.abspath(__file__)))).stdout
    assert out.split() == ["True", "False"]


# ---- DAP framing ---------------------------------------------------------------------------------

def test_dap_messages_survive_any_split():
    msgs = [{"seq": 1, "type": "event", "event": "stopped", "body": {"text": "caf\u00e9"}},
            {"seq": 2, "type": "response", "request_seq": 7, "success": True}]
    data = b"".join(encode(m) for m in msgs)
    for size in (1, 2, 3, 7, len(data)):
        parser = DapParser()
        got = []
        for i in range(0, len(data), size):
            got += parser.feed(data[i:i + size])
        assert got == msgs


def test_dap_header_may_carry_other_fields():
    body = json.dumps({"seq": 1, "type": "event", "event": "x"}).encode()
    data = b"Content-Type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    assert DapParser().feed(data) == [{"seq": 1, "type": "event", "event": "x"}]


@pytest.mark.parametrize("data", [b"Content-Length: x\r\n\r\n", b"Nothing: 1\r\n\r\n{}",
                                  b"Content-Length: 2\r\n\r\n[]", b"Content-Length: 1\r\n\r\n{"])
def test_dap_garbage_is_a_protocol_error(data):
    with pytest.raises(DapProtocolError):
        DapParser().feed(data)


# ---- variables while nothing is stopped ----------------------------------------------------------

def test_variable_table_lists_user_variables_and_expands_them():
    class Point:
        def __init__(self):
            self.x, self.y = 1, [2, 3]

    ns = {"In": [], "Out": {}, "_": 1, "_i3": "", "_5": 5, "__name__": "__main__", "get_ipython": 0,
          "d": {"k": [1, 2]}, "p": Point(), "n": 3, "s": "text"}
    table = VariableTable()
    top = {v["name"]: v for v in table.top(ns)}
    assert sorted(top) == ["d", "n", "p", "s"]
    assert top["n"] == {"name": "n", "value": "3", "type": "int", "variablesReference": 0,
                        "evaluateName": "n"}
    assert top["s"]["variablesReference"] == 0
    [k] = table.children(top["d"]["variablesReference"])
    assert (k["name"], k["value"], k["evaluateName"]) == ("'k'", "[1, 2]", "d['k']")
    assert [c["value"] for c in table.children(k["variablesReference"])] == ["1", "2"]
    attrs = {c["name"]: c for c in table.children(top["p"]["variablesReference"])}
    assert attrs["x"]["value"] == "1" and attrs["y"]["evaluateName"] == "p.y"
    assert [c["name"] for c in table.children(k["variablesReference"], start=1, count=1)] == ["1"]
    table.reset()
    assert table.children(top["d"]["variablesReference"]) is None


def test_variable_values_never_fail_and_stay_short():
    class Broken:
        def __repr__(self):
            raise RuntimeError("no")

    class Long:
        def __repr__(self):
            return "x" * 100_000

    top = {v["name"]: v["value"] for v in VariableTable().top({"b": Broken(), "l": Long()})}
    assert top["b"].startswith("<Broken instance at 0x")
    assert len(top["l"]) < 2000
    assert visible("data") and not visible("_ii") and not visible("__doc__")


# ---- the kernelspec ------------------------------------------------------------------------------

INSTALL = """\
import runpy, sys
if sys.argv[1] == "hide-debugpy":
    sys.modules["debugpy"] = None  # what find_spec reports when debugpy is not installed
sys.argv = ["pykernel", "install", "--prefix", sys.argv[2]]
runpy.run_module("pykernel", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize("debugpy, announced", [("debugpy", True), ("hide-debugpy", False)])
def test_installed_kernelspec_announces_the_debugger_only_with_debugpy(tmp_path, debugpy,
                                                                        announced):
    subprocess.run([sys.executable, "-c", INSTALL, debugpy, str(tmp_path)], check=True,
                   capture_output=True, timeout=TIMEOUT)
    with open(tmp_path / "share" / "jupyter" / "kernels" / "pykernel" / "kernel.json") as f:
        metadata = json.load(f)["metadata"]
    assert metadata.get("debugger", False) is announced


def test_starting_the_kernel_does_not_import_debugpy(tmp_path):
    # (the kernel's sys.__stderr__ publishes to the frontend: the answer goes to a file)
    code = ("import sys\n"
            "from pykernel.app import KernelApp\n"
            "from pykernel.python.kernel import PythonKernel\n"
            "app = KernelApp(PythonKernel)\n"
            "app.initialize(['-f', sys.argv[1]])\n"
            "with open(sys.argv[2], 'w') as f:\n"
            "    print('debugpy' in sys.modules, 'debugger' in app.kernel.supported_features(),\n"
            "          file=f)\n"
            "app.kernel.cleanup()\n")
    answer = tmp_path / "answer.txt"
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "kernel.json"), str(answer)],
                   capture_output=True, text=True, timeout=TIMEOUT, check=True)
    assert answer.read_text().split() == ["False", "True"]


# ---- a kernel, driven like JupyterLab ------------------------------------------------------------

class Frontend:
    """Sends DAP requests as debug_request on control and reads debug_event from iopub."""

    def __init__(self, km, kc):
        self.km, self.kc, self.seq = km, kc, 0

    def request(self, command: str, arguments: dict | None = None, **kw) -> dict:
        self.seq += 1
        content = {"type": "request", "seq": self.seq, "command": command}
        if arguments is not None or kw:
            content["arguments"] = {**(arguments or {}), **kw}
        msg_id = send(self.kc, "control", "debug_request", content)
        reply = reply_for(self.kc, msg_id, channel="control")["content"]
        assert reply["type"] == "response"
        assert (reply["request_seq"], reply["command"]) == (self.seq, command)
        self.last_msg_id = msg_id
        return reply

    def ok(self, command: str, arguments: dict | None = None, **kw) -> dict:
        reply = self.request(command, arguments, **kw)
        assert reply["success"] is True, reply
        return reply.get("body", {})

    def event(self, name: str, timeout: float = TIMEOUT) -> dict:
        """The next debug_event `name` (events before it are passed over)."""
        stash = _stash(self.kc, "iopub")
        pending = stash.setdefault(None, [])
        deadline = time.monotonic() + timeout
        while True:
            while pending:
                msg = pending.pop(0)
                if msg["msg_type"] == "debug_event" and msg["content"].get("event") == name:
                    return msg["content"]
            msg = self.kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
            stash.setdefault(msg["parent_header"].get("msg_id"), []).append(msg)

    def start(self) -> dict:
        """JupyterLab's start: debugInfo on connecting, then initialize and attach {}."""
        info = self.ok("debugInfo")
        assert info["isStarted"] is False
        caps = self.ok("initialize", clientID="jupyterlab", clientName="JupyterLab",
                       adapterID="python", pathFormat="path", linesStartAt1=True,
                       columnsStartAt1=True, supportsVariableType=True,
                       supportsVariablePaging=True, supportsRunInTerminalRequest=True,
                       locale="en")
        # debugpy's own warnings (frozen modules) do not reach the frontend
        assert not [m for m in iopub_for(self.kc, self.last_msg_id) if m["msg_type"] == "stream"]
        self.ok("attach", {})
        info = self.ok("debugInfo")
        assert info["isStarted"] is True
        self.info = info
        return caps

    def lab_name(self, code: str) -> str:
        """A cell's file name, computed as JupyterLab does from debugInfo."""
        assert self.info["hashMethod"] == "Murmur2"
        return (f"{self.info['tmpFilePrefix']}{murmur2(code.encode(), self.info['hashSeed'])}"
                f"{self.info['tmpFileSuffix']}")

    def break_at(self, code: str, *lines: int) -> str:
        path = self.ok("dumpCell", code=code)["sourcePath"]
        assert path == self.lab_name(code)
        bps = self.ok("setBreakpoints", source={"path": path},
                      breakpoints=[{"line": n} for n in lines], sourceModified=False)
        placed = [(b["verified"], b["line"]) for b in bps["breakpoints"]]
        assert placed == [(True, n) for n in lines]
        return path

    def top_frame(self, thread_id: int) -> dict:
        return self.ok("stackTrace", threadId=thread_id)["stackFrames"][0]

    def locals(self, frame_id: int) -> dict:
        scopes = self.ok("scopes", frameId=frame_id)["scopes"]
        ref = next(s["variablesReference"] for s in scopes if s["name"] == "Locals")
        variables = self.ok("variables", variablesReference=ref)["variables"]
        return {v["name"]: v["value"] for v in variables}


@pytest.fixture
def lab(request):
    with running_kernel(getattr(request, "param", "pykernel")) as (km, kc):
        pid = km.provisioner.process.pid
        yield Frontend(km, kc)
    # a kernel that is killed rather than shut down leaves its dumped cells behind
    shutil.rmtree(os.path.join(tempfile.gettempdir(), f"pykernel_{pid}"), ignore_errors=True)


def run(lab: Frontend, code: str) -> tuple[dict, list]:
    reply, msgs = execute(lab.kc, code)
    return reply["content"], msgs


STEPPING_CELL = """\
class Bold:
    def _repr_html_(self):
        return "<b>bold</b>"

def f(n):
    total = n * 2
    label = Bold()
    return total + 1

a = 10
b = f(a)
print("done", b)
"""


def test_kernel_announces_the_debugger(lab):
    info = lab.kc.kernel_info(reply=True, timeout=TIMEOUT)["content"]
    assert "debugger" in info["supported_features"]
    assert info["debugger"] is True


def test_debug_info_answers_before_any_session_without_loading_debugpy(lab):
    info = lab.ok("debugInfo")
    assert info == {"isStarted": False, "hashMethod": "Murmur2", "hashSeed": HASH_SEED,
                    "tmpFilePrefix": info["tmpFilePrefix"], "tmpFileSuffix": ".py",
                    "breakpoints": [], "stoppedThreads": [], "richRendering": True,
                    "exceptionPaths": ["Python Exceptions"], "copyToGlobals": True}
    pid = lab.km.provisioner.process.pid
    assert info["tmpFilePrefix"] == os.path.join(tempfile.gettempdir(), f"pykernel_{pid}") + os.sep
    reply = lab.request("stackTrace", threadId=1)
    assert reply["success"] is False and "initialize" in reply["message"]
    _, msgs = run(lab, "import sys\nprint('debugpy' in sys.modules)")
    assert stdout_of(msgs) == "False\n"


def test_cells_compile_under_the_name_the_frontend_computes(lab):
    lab.start()
    code = "import inspect\nprint(inspect.currentframe().f_code.co_filename)"
    _, msgs = run(lab, code)
    assert stdout_of(msgs) == lab.lab_name(code) + "\n"


def test_breakpoint_stepping_variables_and_continue(lab):
    caps = lab.start()
    assert {f["filter"] for f in caps["exceptionBreakpointFilters"]} >= {"raised", "uncaught"}
    path = lab.break_at(STEPPING_CELL, 11)
    with open(path, encoding="utf-8") as f:
        assert f.read() == STEPPING_CELL
    assert lab.ok("debugInfo")["breakpoints"] == [{"source": path, "breakpoints": [{"line": 11}]}]
    assert lab.ok("source", source={"path": path})["content"] == STEPPING_CELL

    msg_id = lab.kc.execute(STEPPING_CELL)
    stopped = lab.event("stopped")
    assert stopped["body"]["reason"] == "breakpoint"
    thread = stopped["body"]["threadId"]
    assert lab.ok("debugInfo")["stoppedThreads"] == [thread]
    # the main thread is stopped inside the cell; control still answers
    info_id = send(lab.kc, "control", "kernel_info_request", {})
    assert reply_for(lab.kc, info_id, channel="control")["content"]["status"] == "ok"

    frames = lab.ok("stackTrace", threadId=thread)["stackFrames"]
    # only the cell's own frame: none of the kernel's, IPython's or the interpreter's
    assert [(f["name"], f["line"], f["source"]["path"]) for f in frames] == [("<module>", 11, path)]

    lab.ok("stepIn", threadId=thread)
    lab.event("stopped")
    frames = lab.ok("stackTrace", threadId=thread)["stackFrames"]
    assert [(f["name"], f["line"]) for f in frames] == [("f", 6), ("<module>", 11)]
    lab.ok("next", threadId=thread)
    lab.event("stopped")
    frame = lab.top_frame(thread)
    assert frame["line"] == 7
    assert lab.locals(frame["id"]) == {"n": "10", "total": "20"}
    assert lab.ok("evaluate", expression="total + n", frameId=frame["id"],
                  context="repl")["result"] == "30"
    lab.ok("next", threadId=thread)
    lab.event("stopped")
    frame = lab.top_frame(thread)
    assert frame["line"] == 8
    rich = lab.ok("richInspectVariables", variableName="label", frameId=frame["id"])
    assert rich["data"]["text/html"] == "<b>bold</b>"
    rich = lab.ok("richInspectVariables", variableName="total", frameId=frame["id"])
    assert rich == {"data": {"text/plain": "20"}, "metadata": {}}
    lab.ok("copyToGlobals", srcVariableName="total", dstVariableName="total",
           srcFrameId=frame["id"])

    lab.ok("stepOut", threadId=thread)
    lab.event("stopped")
    assert lab.top_frame(thread)["line"] == 11
    lab.ok("continue", threadId=thread)
    lab.event("continued")
    reply = reply_for(lab.kc, msg_id)["content"]
    assert reply["status"] == "ok"
    assert stdout_of(iopub_for(lab.kc, msg_id)) == "done 21\n"
    assert lab.ok("debugInfo")["stoppedThreads"] == []

    _, msgs = run(lab, "print(total)")  # copied out of f's frame
    assert stdout_of(msgs) == "20\n"
    names = {v["name"]: v["value"] for v in lab.ok("inspectVariables")["variables"]}
    assert {"a": "10", "b": "21", "total": "20"}.items() <= names.items()
    assert not {"In", "Out", "get_ipython", "_ih", "__name__"} & names.keys()


def test_function_defined_before_the_session_stops_at_its_breakpoint(lab):
    # JupyterLab's order: the cell ran before the debugger was switched on
    define = "def g(v):\n    w = v * 3\n    return w\n"
    run(lab, define)
    lab.start()
    path = lab.break_at(define, 2)
    msg_id = lab.kc.execute("print(g(5))")
    stopped = lab.event("stopped")
    assert stopped["body"]["reason"] == "breakpoint"
    thread = stopped["body"]["threadId"]
    frames = lab.ok("stackTrace", threadId=thread)["stackFrames"]
    assert [(f["name"], f["line"], f["source"]["path"]) for f in frames][0] == ("g", 2, path)
    assert lab.locals(frames[0]["id"]) == {"v": "5"}
    lab.ok("continue", threadId=thread)
    assert reply_for(lab.kc, msg_id)["content"]["status"] == "ok"
    assert stdout_of(iopub_for(lab.kc, msg_id)) == "15\n"


def test_globals_and_rich_display_while_nothing_is_stopped(lab):
    lab.start()
    run(lab, "class Html:\n    def _repr_html_(self):\n        return '<i>hi</i>'\n"
             "page = Html()\nd = {'k': [1, 2]}")
    variables = {v["name"]: v for v in lab.ok("inspectVariables")["variables"]}
    assert variables["d"]["value"] == "{'k': [1, 2]}"
    [k] = lab.ok("variables", variablesReference=variables["d"]["variablesReference"])["variables"]
    assert (k["name"], k["value"]) == ("'k'", "[1, 2]")
    rich = lab.ok("richInspectVariables", variableName="page")
    assert rich["data"]["text/html"] == "<i>hi</i>"
    assert lab.request("richInspectVariables", variableName="nope")["success"] is False
    assert lab.request("richInspectVariables", variableName="x; import os")["success"] is False
    assert lab.ok("richInspectVariables", variableName="special variables") == {"data": {},
                                                                               "metadata": {}}
    modules = lab.ok("modules")
    by_name = {m["name"]: m["path"] for m in modules["modules"]}
    assert by_name["json"].endswith(os.path.join("json", "__init__.py"))
    assert modules["totalModules"] == len(modules["modules"])


def test_raised_exception_stops_where_it_is_raised(lab):
    lab.start()
    lab.ok("setExceptionBreakpoints", filters=["raised"])
    lab.ok("configurationDone")  # sent by clients other than JupyterLab: answered, changes nothing
    code = "def g():\n    raise ValueError('boom')\n\ng()\n"
    msg_id = lab.kc.execute(code)
    stopped = lab.event("stopped")
    assert stopped["body"]["reason"] == "exception"
    assert stopped["body"]["text"] == "ValueError"
    frame = lab.top_frame(stopped["body"]["threadId"])
    assert (frame["name"], frame["line"], frame["source"]["path"]) == ("g", 2, lab.lab_name(code))
    # the cell was never dumped: its source comes from the kernel's memory, by reference
    source = lab.ok("source", source=frame["source"],
                    sourceReference=frame["source"]["sourceReference"])
    assert source["content"] == code
    lab.ok("setExceptionBreakpoints", filters=[])
    lab.ok("continue", threadId=stopped["body"]["threadId"])
    reply = reply_for(lab.kc, msg_id)["content"]
    assert (reply["status"], reply["ename"]) == ("error", "ValueError")


def test_pause_stops_running_code_and_evaluate_can_change_it(lab):
    lab.start()
    code = ("import time\nspin = True\nprint('looping')\nwhile spin:\n    time.sleep(0.01)\n"
            "print('left the loop')\n")
    msg_id = lab.kc.execute(code)
    deadline, seen = time.monotonic() + TIMEOUT, []
    while stdout_of(seen) != "looping\n":  # the cell is in its loop
        seen.append(_next_for(lab.kc, "iopub", msg_id, deadline))
    lab.ok("pause", threadId=1)
    stopped = lab.event("stopped")
    assert stopped["body"]["reason"] == "pause"
    thread = stopped["body"]["threadId"]
    frame = lab.top_frame(thread)
    assert frame["source"]["path"] == lab.lab_name(code) and frame["line"] in (4, 5)
    lab.ok("evaluate", expression="spin = False", frameId=frame["id"], context="repl")
    lab.ok("continue", threadId=thread)
    assert reply_for(lab.kc, msg_id)["content"]["status"] == "ok"
    assert stdout_of(iopub_for(lab.kc, msg_id)) == "left the loop\n"  # after "looping"


def test_await_cell_stops_and_stepping_off_its_end_finishes_it(lab):
    lab.start()
    code = "import asyncio\nawait asyncio.sleep(0)\nz = 5\nprint('z', z)\n"
    path = lab.break_at(code, 3)
    msg_id = lab.kc.execute(code)
    thread = lab.event("stopped")["body"]["threadId"]
    frames = lab.ok("stackTrace", threadId=thread)["stackFrames"]
    assert [(f["name"], f["line"], f["source"]["path"]) for f in frames] == [("<module>", 3, path)]
    lab.ok("next", threadId=thread)
    lab.event("stopped")
    assert lab.top_frame(thread)["line"] == 4
    lab.ok("next", threadId=thread)  # off the cell's end: nothing of the kernel's to stop in
    lab.event("continued")
    assert reply_for(lab.kc, msg_id)["content"]["status"] == "ok"
    assert stdout_of(iopub_for(lab.kc, msg_id)) == "z 5\n"
    assert lab.ok("debugInfo")["stoppedThreads"] == []


def test_leading_empty_lines_keep_their_line_numbers(lab):
    lab.start()
    code = "\n\nx = 1\ny = x + 1\nprint(y)\n"
    lab.break_at(code, 4)
    msg_id = lab.kc.execute(code)
    thread = lab.event("stopped")["body"]["threadId"]
    frame = lab.top_frame(thread)
    assert frame["line"] == 4
    lab.ok("continue", threadId=thread)
    assert reply_for(lab.kc, msg_id)["content"]["status"] == "ok"


def test_disconnect_while_stopped_lets_the_cell_finish_and_a_new_session_works(lab):
    # JupyterLab's "terminate" button: disconnect, then initialize and attach again
    lab.start()
    code = "x = 1\ny = 2\nprint('finished', x + y)\n"
    lab.break_at(code, 2)
    msg_id = lab.kc.execute(code)
    lab.event("stopped")
    lab.ok("disconnect", restart=False, terminateDebuggee=False)
    assert reply_for(lab.kc, msg_id)["content"]["status"] == "ok"
    assert stdout_of(iopub_for(lab.kc, msg_id)) == "finished 3\n"
    info = lab.ok("debugInfo")
    assert (info["isStarted"], info["breakpoints"], info["stoppedThreads"]) == (False, [], [])
    _, msgs = run(lab, code)  # no session: runs straight through
    assert stdout_of(msgs) == "finished 3\n"

    lab.start()
    lab.break_at(code, 2)
    msg_id = lab.kc.execute(code)
    thread = lab.event("stopped")["body"]["threadId"]
    assert lab.top_frame(thread)["line"] == 2
    lab.ok("continue", threadId=thread)
    assert reply_for(lab.kc, msg_id)["content"]["status"] == "ok"


@pytest.mark.parametrize("lab", ["pykernel", "pykernel-message"], indirect=True)  # signal, message
def test_interrupt_while_stopped_ends_the_cell_and_debugging_goes_on(lab):
    lab.start()
    code = "x = 1\ny = 2\nprint('finished', x + y)\n"
    lab.break_at(code, 2)
    # without stop_on_error: the next cell, sent as soon as this one's reply is in, must not race
    # with the kernel aborting what was queued behind a failed cell
    msg_id = lab.kc.execute(code, stop_on_error=False)
    lab.event("stopped")
    lab.km.interrupt_kernel()
    reply = reply_for(lab.kc, msg_id)["content"]
    assert (reply["status"], reply["ename"]) == ("error", "KeyboardInterrupt")
    lab.event("continued")
    assert lab.ok("debugInfo")["stoppedThreads"] == []

    msg_id = lab.kc.execute(code)
    thread = lab.event("stopped")["body"]["threadId"]
    assert lab.top_frame(thread)["line"] == 2
    lab.ok("continue", threadId=thread)
    assert reply_for(lab.kc, msg_id)["content"]["status"] == "ok"


def test_shutdown_while_stopped_ends_the_cell_and_the_kernel(lab):
    lab.start()
    code = "x = 1\nprint('resumed')\n"
    lab.break_at(code, 2)
    msg_id = lab.kc.execute(code)
    lab.event("stopped")
    pid = lab.km.provisioner.process.pid
    shutdown_id = send(lab.kc, "control", "shutdown_request", {"restart": False})
    assert reply_for(lab.kc, shutdown_id, channel="control")["content"]["status"] == "ok"
    assert reply_for(lab.kc, msg_id)["content"]["status"] in ("ok", "error")
    assert wait_pid_exit(pid)


def test_requests_a_kernel_must_not_obey(lab):
    lab.start()
    reply = lab.request("terminate")
    assert reply["success"] is False
    _, msgs = run(lab, "print('alive')")
    assert stdout_of(msgs) == "alive\n"
