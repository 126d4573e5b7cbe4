"""Fixtures for the wrapper, calc and bash kernel tests: real kernel processes driven by jupyter_client.

Kernelspecs are written to a private directory and found through a KernelSpecManager told about it
(no global Jupyter state is touched). `Session.run` sends one execute_request and collects, from
iopub and stdin, everything that belongs to it until its `idle`, answering input requests from a
list. Nothing waits on a clock: every wait is on a socket, with a deadline.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import zmq
from jupyter_client.kernelspec import KernelSpecManager

from corefixtures import kernel_manager

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
BASH_PACKAGE = ROOT / "examples" / "bash_kernel"
PYTHONPATH = os.pathsep.join(map(str, (ROOT, TESTS, BASH_PACKAGE)))
TIMEOUT = 20


def kernel_env(**extra: str) -> dict:
    """The environment a test kernel starts with."""
    env = dict(os.environ, PYTHONPATH=PYTHONPATH, **extra)
    env.pop("JPY_PARENT_PID", None)
    return env


def write_spec(kernels: Path, name: str, module: str, interrupt_mode: str = "signal",
               env: dict | None = None) -> None:
    spec = {"argv": [sys.executable, "-m", module, "-f", "{connection_file}"],
            "display_name": name, "language": name, "interrupt_mode": interrupt_mode,
            "env": {"PYTHONPATH": PYTHONPATH, **(env or {})}}
    (kernels / name).mkdir(parents=True, exist_ok=True)
    (kernels / name / "kernel.json").write_text(json.dumps(spec))


@pytest.fixture(scope="session")
def kernel_dir(tmp_path_factory) -> Path:
    """A `kernels/` directory: calc and bash, each in signal and message interrupt modes."""
    kernels = tmp_path_factory.mktemp("jupyter") / "kernels"
    home = tmp_path_factory.mktemp("home")  # bash reads no rc file of the machine's user
    for mode in ("signal", "message"):
        suffix = "" if mode == "signal" else "-message"
        write_spec(kernels, "calc" + suffix, "calc_kernel", mode)
        write_spec(kernels, "bash" + suffix, "pykernel_bash", mode, {"HOME": str(home)})
    write_spec(kernels, "minimal", "minimal_kernel", env={"PYTHONPATH": PYTHONPATH + os.pathsep +
                                                           str(ROOT / "examples")})
    return kernels


@dataclass
class Result:
    reply: dict
    msgs: list = field(default_factory=list)  # iopub messages between busy and idle
    prompts: list = field(default_factory=list)  # input_request contents

    @property
    def status(self) -> str:
        return self.reply["content"]["status"]

    def stream(self, name: str) -> str:
        return "".join(m["content"]["text"] for m in self.msgs
                       if m["msg_type"] == "stream" and m["content"]["name"] == name)

    @property
    def stdout(self) -> str:
        return self.stream("stdout")

    @property
    def stderr(self) -> str:
        return self.stream("stderr")

    def of_type(self, msg_type: str) -> list:
        return [m["content"] for m in self.msgs if m["msg_type"] == msg_type]

    @property
    def result(self):
        found = self.of_type("execute_result")
        return found[0]["data"] if found else None

    @property
    def error(self) -> dict | None:
        found = self.of_type("error")
        return found[0] if found else None


class Session:
    """A started kernel and a blocking client for it."""

    def __init__(self, kernel_dir: Path, name: str, env: dict | None = None):
        self.km = kernel_manager(name,
                                 kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)]))
        self.km.start_kernel(env=env or kernel_env())
        self.kc = self.km.blocking_client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=TIMEOUT)
        self._stash: dict[str, list] = {}  # messages read for requests not being collected yet

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=False)

    def send(self, code: str, allow_stdin: bool = False, subshell_id: str | None = None,
             stop_on_error: bool = True, silent: bool = False, store_history: bool = True) -> str:
        msg = self.kc.session.msg("execute_request", {
            "code": code, "silent": silent, "store_history": store_history,
            "user_expressions": {}, "allow_stdin": allow_stdin, "stop_on_error": stop_on_error})
        if subshell_id is not None:
            msg["header"]["subshell_id"] = subshell_id
        self.kc.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    def run(self, code: str, answers: list | None = None, timeout: float = TIMEOUT,
            until=None, **kwargs) -> Result:
        """Execute and collect; `answers` feed input requests (and allow stdin); `until(msg)` is
        called on each iopub message of the request (to act in the middle of a run)."""
        msg_id = self.send(code, allow_stdin=answers is not None, **kwargs)
        return self.collect(msg_id, answers, timeout, until)

    def collect(self, msg_id: str, answers: list | None = None, timeout: float = TIMEOUT,
                until=None, reply: bool = True) -> Result:
        """Everything of request `msg_id` until its idle (and its reply, unless `reply` is False:
        comm messages have none)."""
        result = Result(reply={} if reply else {"none": True})
        answers = list(answers or ())
        state = {"idle": False}

        def take(channel: str, msg: dict) -> None:
            if channel == "shell":
                result.reply = msg
            elif msg["msg_type"] == "status":
                state["idle"] = state["idle"] or msg["content"]["execution_state"] == "idle"
            elif msg["msg_type"] != "execute_input":
                result.msgs.append(msg)
                if until is not None:
                    until(msg)

        for channel, msg in self._stash.pop(msg_id, []):
            take(channel, msg)
        poller = zmq.Poller()
        for channel in (self.kc.iopub_channel, self.kc.stdin_channel, self.kc.shell_channel):
            poller.register(channel.socket, zmq.POLLIN)
        deadline = _deadline(timeout)
        while not (state["idle"] and result.reply):
            if not poller.poll(_left(deadline, timeout)):
                raise TimeoutError(f"no idle/reply for {msg_id} within {timeout} s")
            while self.kc.stdin_channel.msg_ready():
                msg = self.kc.stdin_channel.get_msg(timeout=0)
                result.prompts.append(msg["content"])
                self.kc.input(answers.pop(0) if answers else "")
            for name in ("shell", "iopub"):
                channel = getattr(self.kc, f"{name}_channel")
                while channel.msg_ready():
                    msg = channel.get_msg(timeout=0)
                    parent = msg["parent_header"].get("msg_id")
                    if parent == msg_id:
                        take(name, msg)
                    elif parent:  # another request's: kept for its own collect
                        self._stash.setdefault(parent, []).append((name, msg))
        return result

    def wait_output(self, msg_id: str, text: str, timeout: float = TIMEOUT) -> None:
        """Wait until the request `msg_id` has printed `text`; its messages stay for `collect`."""
        seen = "".join(m["content"]["text"] for channel, m in self._stash.get(msg_id, [])
                       if m["msg_type"] == "stream")
        deadline = _deadline(timeout)
        while text not in seen:
            msg = self.kc.iopub_channel.get_msg(timeout=_left(deadline, timeout) / 1000)
            parent = msg["parent_header"].get("msg_id")
            if parent:
                self._stash.setdefault(parent, []).append(("iopub", msg))
            if parent == msg_id and msg["msg_type"] == "stream":
                seen += msg["content"]["text"]

    def request(self, msg_type: str, content: dict, channel: str = "shell",
                subshell_id: str | None = None, timeout: float = TIMEOUT) -> dict:
        """Send a request; return its reply's content."""
        msg = self.kc.session.msg(msg_type, content)
        if subshell_id is not None:
            msg["header"]["subshell_id"] = subshell_id
        chan = self.kc.shell_channel if channel == "shell" else self.kc.control_channel
        chan.send(msg)
        deadline = _deadline(timeout)
        while True:
            reply = chan.get_msg(timeout=_left(deadline, timeout) / 1000)
            if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                return reply["content"]

    def tell(self, msg_type: str, content: dict, timeout: float = TIMEOUT) -> Result:
        """Send a shell message that has no reply (comm_open, comm_msg, comm_close); collect what
        it published."""
        msg = self.kc.session.msg(msg_type, content)
        self.kc.shell_channel.send(msg)
        return self.collect(msg["header"]["msg_id"], timeout=timeout, reply=False)

    def complete(self, code: str, cursor_pos: int | None = None) -> dict:
        return self.request("complete_request", {"code": code, "cursor_pos": len(code)
                                                 if cursor_pos is None else cursor_pos})

    def inspect(self, code: str, cursor_pos: int | None = None, detail_level: int = 0) -> dict:
        return self.request("inspect_request", {"code": code, "detail_level": detail_level,
                                                "cursor_pos": len(code) if cursor_pos is None
                                                else cursor_pos})

    def is_complete(self, code: str) -> dict:
        return self.request("is_complete_request", {"code": code})

    def interrupt_when(self, text: str):
        """An `until` callback: interrupt (the kernelspec's way) once `text` has been printed."""
        state = {"out": "", "sent": False}

        def check(msg):
            if msg["msg_type"] == "stream" and not state["sent"]:
                state["out"] += msg["content"]["text"]
                if text in state["out"]:
                    state["sent"] = True
                    self.km.interrupt_kernel()
        return check


def _deadline(timeout: float) -> float:
    return time.monotonic() + timeout


def _left(deadline: float, timeout: float) -> int:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(f"nothing within {timeout} s")
    return int(left * 1000) + 1


def open_session(kernel_dir: Path, name: str, env: dict | None = None):
    session = Session(kernel_dir, name, env)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="module")
def calc(kernel_dir):
    yield from open_session(kernel_dir, "calc")


@pytest.fixture(scope="module")
def bash(kernel_dir):
    yield from open_session(kernel_dir, "bash")


@pytest.fixture()
def fresh_bash(kernel_dir):
    yield from open_session(kernel_dir, "bash")
