"""container/entrypoint.sh, run directly with the environment the engines give a kernel container
(there is no Docker here): the kernel it starts reports to gateway_provisioners' ResponseManager."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from corefixtures import TIMEOUT, execute, stdout_of
from test_remote import RANGE, Engine, client_for, comm_request, finish

ENTRYPOINT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "container", "entrypoint.sh")


@pytest.fixture
def engine():
    eng = Engine()
    yield eng
    eng.close()


def start(env: dict, *argv: str) -> subprocess.Popen:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KERNEL_", "EG_"))}
    return subprocess.Popen(["/bin/sh", ENTRYPOINT, "--ip", "127.0.0.1", *argv],
                            env={**base, "PYTHON": sys.executable, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("language, code", [("python", "print('in a pod')"),
                                            ("bash", "echo in a pod")])
def test_entrypoint_with_the_engines_environment(engine, language, code):
    kernel_id = f"k-{language}"
    engine.rm.register_event(kernel_id)
    proc = start({"KERNEL_ID": kernel_id, "EG_RESPONSE_ADDRESS": engine.rm.response_address,
                  "EG_PUBLIC_KEY": engine.rm.public_key, "EG_PORT_RANGE": f"{RANGE[0]}..{RANGE[1]}",
                  "KERNEL_LANGUAGE": language, "KERNEL_SPARK_CONTEXT_INIT_MODE": "lazy"})
    try:
        info = engine.connection_info(kernel_id, proc)
        assert info["pid"] == proc.pid  # exec'd: the kernel is the process the init started
        assert RANGE[0] <= info["shell_port"] <= RANGE[1]
        kc = client_for(info)
        try:
            reply, msgs = execute(kc, code)
            assert stdout_of(msgs) == "in a pod\n"
        finally:
            kc.stop_channels()
        comm_request(info["comm_port"], {"shutdown": 1})
        code, err = finish(proc)
        assert code == 0
        assert "ignoring --spark-context-initialization-mode lazy" in err
    finally:
        proc.kill()
        proc.communicate()


@pytest.mark.parametrize("env, message", [
    ({}, "KERNEL_ID is not set"),
    ({"KERNEL_ID": "k"}, "RESPONSE_ADDRESS (or EG_RESPONSE_ADDRESS) is not set"),
    ({"KERNEL_ID": "k", "RESPONSE_ADDRESS": "127.0.0.1:1"}, "PUBLIC_KEY (or EG_PUBLIC_KEY)"),
    ({"KERNEL_ID": "k", "RESPONSE_ADDRESS": "127.0.0.1:1", "PUBLIC_KEY": "x",
      "KERNEL_LANGUAGE": "scala"}, "no pykernel language for KERNEL_LANGUAGE=scala"),
])
def test_missing_environment_is_a_clear_error(env, message):
    proc = start(env)
    code, err = proc.wait(TIMEOUT), proc.communicate()[1]
    assert code == 2 and message in err
