"""`pykernel.embed_kernel`: a kernel served from inside a running program, in its namespace."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

from jupyter_client import BlockingKernelClient
from pyfixtures import TIMEOUT, execute, stdout_of

ROOT = Path(__file__).resolve().parent.parent

HOST = """\
import sys
import pykernel

def main():
    secret = 41 + 1
    print("before embed", flush=True)
    pykernel.embed_kernel(connection_file=sys.argv[1])
    print("after embed", secret, sys.stdout is sys.__stdout__, flush=True)

main()
"""


def _host(tmp_path: Path, source: str, *args: str) -> subprocess.Popen:
    script = tmp_path / "host.py"
    script.write_text(source)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                                     os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, str(script), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_line(stream, start: str, timeout: float = TIMEOUT) -> str:
    """The first line of `stream` (a pipe) that starts with `start`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([stream], [], [], deadline - time.monotonic())[0]:
            line = stream.readline()
            if line.startswith(start) or not line:
                return line
    return ""


def test_a_client_runs_cells_in_the_callers_namespace_and_shutdown_returns_to_it(tmp_path):
    connection_file = str(tmp_path / "kernel.json")
    host = _host(tmp_path, HOST, connection_file)
    # written once the sockets are bound (the heartbeat answers from then on)
    announced = _wait_for_line(host.stderr, "To connect a client")
    assert announced.strip().endswith(connection_file), announced
    kc = BlockingKernelClient(connection_file=connection_file)
    kc.load_connection_file()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=TIMEOUT)
        reply, msgs = execute(kc, "print(secret * 2)\nsecret = 0")
        assert reply["content"]["status"] == "ok"
        assert stdout_of(msgs) == "84\n"
        kc.shutdown()
        out, err = host.communicate(timeout=TIMEOUT)
    finally:
        kc.stop_channels()
        if host.poll() is None:
            host.kill()
            host.communicate()  # (also closes the pipes)
    assert host.returncode == 0, err
    # the function's own variable is untouched (its locals are a copy), and the streams are back
    assert out == "before embed\nafter embed 42 True\n"
    assert not os.path.exists(connection_file)  # it wrote the file, so it removed it


def test_embedding_from_another_thread_is_refused(tmp_path):
    source = ("import threading, pykernel\n"
              "def run():\n"
              "    try:\n"
              "        pykernel.embed_kernel()\n"
              "    except RuntimeError as e:\n"
              "        print('refused:', e)\n"
              "t = threading.Thread(target=run)\n"
              "t.start(); t.join()\n")
    host = _host(tmp_path, source)
    out, err = host.communicate(timeout=TIMEOUT)
    assert host.returncode == 0, err
    assert out.startswith("refused: embed_kernel must be called from the main thread")
