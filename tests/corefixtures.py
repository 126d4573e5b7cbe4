"""Fixtures and helpers for driving a real kernel process with jupyter_client."""

from __future__ import annotations

import contextlib
import os
import select
import time
from typing import Iterator

import pytest
import zmq
from jupyter_client import BlockingKernelClient, KernelManager

TIMEOUT = 20


@contextlib.contextmanager
def running_kernel(name: str, extra_arguments: list | None = None, env: dict | None = None,
                   **km_kwargs) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    """Start kernel `name` (with `env` added to the environment), yield (manager, ready client),
    shut it down afterwards."""
    km = KernelManager(kernel_name=name, context=zmq.Context.instance(), **km_kwargs)
    km.start_kernel(extra_arguments=extra_arguments or [],
                    **({"env": {**os.environ, **env}} if env else {}))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=TIMEOUT)
        yield km, kc
    finally:
        kc.stop_channels()
        if km.is_alive():
            km.shutdown_kernel(now=True)


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
