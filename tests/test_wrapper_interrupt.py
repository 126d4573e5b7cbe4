"""A wrapper language's `interrupt()` hook, in a real kernel process (tests/hook_kernel.py): it runs
at once on the kernel's signal thread, also while the main thread is blocked in a C call, in both
interrupt modes, sync or async; and a busy kernel with such a hook shuts down at once."""

from __future__ import annotations

import contextlib
import time

import pytest
import zmq
from jupyter_client import KernelManager

from corefixtures import TIMEOUT, reply_for, send

pytestmark = pytest.mark.timeout(60)


@contextlib.contextmanager
def hook_kernel(name: str, log_path, extra_arguments: list | None = None):
    """Kernel `name` with its stderr in `log_path`: yields (manager, ready client)."""
    with open(log_path, "w") as log:
        km = KernelManager(kernel_name=name, context=zmq.Context.instance())
        km.start_kernel(stderr=log, extra_arguments=extra_arguments or [])
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=TIMEOUT)
            yield km, kc
        finally:
            kc.stop_channels()
            if km.is_alive():
                km.shutdown_kernel(now=True)


def wait_for_output(kc, msg_id: str, text: str) -> None:
    """Read the request's iopub until `text` was printed: the cell is where it prints it."""
    deadline = time.monotonic() + TIMEOUT
    seen = ""
    while text not in seen:
        msg = kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
            seen += msg["content"]["text"]


def problems(log: str) -> list[str]:
    return [line for line in log.splitlines()
            if "warning" in line.lower() or "never awaited" in line or "Traceback" in line]


@pytest.mark.parametrize("name", ["hooks", "hooks-async", "hooks-message"])
def test_the_hook_runs_on_its_own_thread_while_the_main_thread_is_blocked(name, tmp_path):
    log = tmp_path / "kernel.log"
    with hook_kernel(name, log) as (km, kc):
        msg_id = kc.execute("wait")
        wait_for_output(kc, msg_id, "waiting")
        km.interrupt_kernel()
        reply = reply_for(kc, msg_id)["content"]
        # The main thread waits in a lock that only the hook releases: the reply proves the hook
        # ran while the main thread was blocked, and the cell was not cut short by it.
        assert reply["status"] == "ok"
        assert kc.execute_interactive("after", timeout=TIMEOUT)["content"]["status"] == "ok"
    text = log.read_text()
    assert "interrupt hook ran on pykernel-signals" in text
    assert not problems(text)


@pytest.mark.parametrize("name", ["hooks", "hooks-async"])
def test_shutdown_of_a_busy_kernel_with_an_interrupt_hook_is_prompt_and_quiet(name, tmp_path):
    log = tmp_path / "kernel.log"
    # A long grace: a kernel that had to be forced out would exceed the deadline below.
    with hook_kernel(name, log, ["--HookKernel.exit_grace=60"]) as (km, kc):
        msg_id = kc.execute("sleep 600")  # the hook does not end this: the shutdown must
        wait_for_output(kc, msg_id, "sleeping")
        reply = reply_for(kc, send(kc, "control", "shutdown_request", {"restart": False}),
                          channel="control")
        assert reply["content"]["status"] == "ok"
        assert km.provisioner.process.wait(timeout=TIMEOUT) == 0
        assert reply_for(kc, msg_id)["content"]["ename"] == "KeyboardInterrupt"
    # whether the hook still ran is a race with the cell's end; what matters is that nothing
    # warned (a forced exit, a coroutine never awaited)
    assert not problems(log.read_text())
