"""Fixtures and helpers for tests of the Python kernel (`tests/test_python_*.py`).

Kernels are real `python -m pykernel` processes, found through the `pykernel` kernelspec that
conftest.py writes, driven by jupyter_client over real zmq.
- `pykernel`: one kernel per test module (cheap); tests must not depend on what others left behind.
- `fresh_pykernel`: a kernel of its own, for tests that end it or depend on a clean state.
"""

from __future__ import annotations

import time

import pytest
from corefixtures import TIMEOUT, _next_for, execute, iopub_for, reply_for, running_kernel, stdout_of

__all__ = ["TIMEOUT", "execute", "iopub_for", "reply_for", "running_kernel", "stdout_of",
           "run_ok", "outputs", "wait_for_iopub", "request"]


@pytest.fixture(scope="module")
def pykernel():
    with running_kernel("pykernel") as (km, kc):
        yield km, kc


@pytest.fixture
def fresh_pykernel():
    with running_kernel("pykernel") as (km, kc):
        yield km, kc


@pytest.fixture
def kc(pykernel):
    """The module's kernel client, with nothing left over from an earlier test on iopub."""
    client = pykernel[1]
    _drain(client)
    return client


def _drain(kc) -> None:
    """Wait until the kernel is idle, then throw away the iopub messages so far."""
    reply, _ = execute(kc, "", silent=True, store_history=False)
    assert reply["content"]["status"] == "ok"


def run_ok(kc, code: str, **kw) -> list[dict]:
    """Execute code that must succeed; return its iopub output messages (no status/execute_input)."""
    reply, msgs = execute(kc, code, **kw)
    assert reply["content"]["status"] == "ok", reply["content"]
    return outputs(msgs)


def outputs(msgs: list[dict]) -> list[dict]:
    return [m for m in msgs if m["msg_type"] not in ("status", "execute_input")]


def wait_for_iopub(kc, msg_id: str, predicate, timeout: float = TIMEOUT) -> dict:
    """The next iopub message whose parent is msg_id and for which predicate(msg) is true (also
    after that request's idle: output of threads it started)."""
    deadline = time.monotonic() + timeout
    while True:
        msg = _next_for(kc, "iopub", msg_id, deadline)
        if predicate(msg):
            return msg


def request(kc, msg_type: str, content: dict, channel: str = "shell") -> dict:
    """Send a request and return its reply."""
    msg = kc.session.msg(msg_type, content)
    getattr(kc, f"{channel}_channel").send(msg)
    return reply_for(kc, msg["header"]["msg_id"], channel=channel)
