"""Fixtures and helpers for driving a real kernel process with jupyter_client."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import tempfile
import time
from typing import Iterator

import pytest
import zmq
from jupyter_client import BlockingKernelClient, KernelManager
from traitlets.config import Config

TIMEOUT = 20


def kernel_manager(name: str, **km_kwargs) -> KernelManager:
    """A KernelManager for kernel `name`, on the ipc transport in a directory of its own.

    For tcp, jupyter_client picks free ports, closes them and hands them to the kernel: another
    process may bind one in between, and the kernel dies (seen under whole-suite load). ipc endpoints
    are paths in a fresh private directory, which nothing else can take. Tests of tcp itself pass
    transport="tcp" together with a kernel that binds its own ports, or start the kernel without
    a connection file (it binds port 0 and writes one).
    """
    if km_kwargs.setdefault("transport", "ipc") == "ipc" and "ip" not in km_kwargs:
        km_kwargs["ip"] = private_ipc_base()
    km_kwargs.setdefault("context", zmq.Context.instance())
    return KernelManager(kernel_name=name, **km_kwargs)


def private_ipc_base() -> str:
    """A path prefix for ipc endpoints (`PREFIX-1` ... `PREFIX-5`) in a fresh private directory."""
    runtime = os.environ.get("JUPYTER_RUNTIME_DIR") or tempfile.gettempdir()
    os.makedirs(runtime, exist_ok=True)  # the test session's own, removed at its end
    return os.path.join(tempfile.mkdtemp(prefix="ipc-", dir=runtime), "k")


def ipc_config() -> Config:
    """Config for frontends that make their own KernelManager (nbclient): ipc, as kernel_manager."""
    return Config({"KernelManager": {"transport": "ipc", "ip": private_ipc_base()}})


def endpoint(info: dict, channel: str) -> str:
    """The zmq address of `channel` ("shell", "iopub", ...) in a connection info dict."""
    port = info[f"{channel}_port"]
    if info["transport"] == "ipc":
        return f"ipc://{info['ip']}-{port}"
    return f"tcp://{info['ip']}:{port}"


@contextlib.contextmanager
def running_kernel(name: str, extra_arguments: list | None = None, env: dict | None = None,
                   **km_kwargs) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    """Start kernel `name` (ipc unless told otherwise, see `kernel_manager`; with `env` added to the
    environment), yield (manager, ready client), shut it down afterwards."""
    km = kernel_manager(name, **km_kwargs)
    km.start_kernel(extra_arguments=extra_arguments or [],
                    **({"env": {**os.environ, **env}} if env else {}))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=TIMEOUT)
        settle(kc)
        yield km, kc
    finally:
        kc.stop_channels()
        if km.is_alive():
            km.shutdown_kernel(now=True)


def settle(kc: BlockingKernelClient) -> None:
    """Read away replies to kernel_info requests that wait_for_ready sent but did not wait for.

    wait_for_ready sends a kernel_info_request each second until one is answered, so a kernel that
    took more than a second to start answers some of them after it returned. A shell channel's
    replies come in request order: once the reply to one more request of ours is read, none of
    those is left to surprise a test that looks at the channel.
    """
    msg_id = kc.kernel_info()
    while kc.get_shell_msg(timeout=TIMEOUT)["parent_header"].get("msg_id") != msg_id:
        pass


@pytest.fixture
def echo():
    with running_kernel("echo") as (km, kc):
        yield km, kc


def execute(kc: BlockingKernelClient, code: str, timeout: float = TIMEOUT, **kw) -> tuple[dict, list]:
    """Run code; return (reply, iopub messages of that request up to its idle)."""
    msg_id = kc.execute(code, **kw)
    return reply_for(kc, msg_id, timeout), iopub_for(kc, msg_id, timeout)


def _stash(kc: BlockingKernelClient, channel: str) -> dict:
    """Messages read from `channel` while looking for another request's, by parent msg_id."""
    stashes = kc.__dict__.setdefault("_test_stash", {})
    return stashes.setdefault(channel, {})


def _next_for(kc: BlockingKernelClient, channel: str, msg_id: str, deadline: float) -> dict:
    stash = _stash(kc, channel)
    if stash.get(msg_id):
        return stash[msg_id].pop(0)
    get = getattr(kc, f"get_{channel}_msg")
    while True:
        msg = get(timeout=max(0.01, deadline - time.monotonic()))
        parent = msg["parent_header"].get("msg_id")
        if parent == msg_id:
            return msg
        stash.setdefault(parent, []).append(msg)


def reply_for(kc: BlockingKernelClient, msg_id: str, timeout: float = TIMEOUT,
              channel: str = "shell") -> dict:
    """The reply to msg_id; other requests' replies read meanwhile are kept for them."""
    return _next_for(kc, channel, msg_id, time.monotonic() + timeout)


def iopub_for(kc: BlockingKernelClient, msg_id: str, timeout: float = TIMEOUT) -> list[dict]:
    """iopub messages whose parent is msg_id, through its `idle` status (inclusive)."""
    out = []
    deadline = time.monotonic() + timeout
    while True:
        msg = _next_for(kc, "iopub", msg_id, deadline)
        out.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return out


def stdout_of(msgs: list[dict], name: str = "stdout") -> str:
    return "".join(m["content"]["text"] for m in msgs
                   if m["msg_type"] == "stream" and m["content"]["name"] == name)


def send(kc: BlockingKernelClient, channel: str, msg_type: str, content: dict,
         header: dict | None = None) -> str:
    """Send any request on shell or control, with extra header fields; return its msg_id."""
    msg = kc.session.msg(msg_type, content)
    msg["header"].update(header or {})
    getattr(kc, f"{channel}_channel").send(msg)
    return msg["header"]["msg_id"]


def wait_pid_exit(pid: int, timeout: float = TIMEOUT) -> bool:
    """Wait for any process (not only our child) to end, without polling: a pidfd wakes us."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


class OnIpc:
    """Mixin for jupyter_kernel_test's test classes: the kernel is started by `kernel_manager`
    (ipc) rather than by `start_new_kernel` on picked tcp ports. `ready_client = False` for the
    classes that start the channels themselves (IopubWelcomeTests)."""

    ready_client = True

    @classmethod
    def setUpClass(cls) -> None:
        cls.km = kernel_manager(cls.kernel_name)
        cls.km.start_kernel()
        cls.kc = cls.km.client()
        if cls.ready_client:
            cls.kc.start_channels()
            try:
                cls.kc.wait_for_ready(timeout=60)
            except RuntimeError:
                cls.kc.stop_channels()
                cls.km.shutdown_kernel(now=True)
                raise


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    """The exit status and stderr of a kernel expected to exit by itself."""
    try:
        _, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("the kernel did not exit by itself")
    return proc.returncode, err
