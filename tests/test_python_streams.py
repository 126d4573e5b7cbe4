"""stdout/stderr of the Python kernel: sys streams, fds 1/2, threads, tasks, order, volume, latency."""

from __future__ import annotations

import os
import signal
import subprocess

from corefixtures import kernel_manager
from pykernel import procs
from pyfixtures import TIMEOUT, execute, iopub_for, outputs, run_ok, stdout_of, wait_for_iopub


def is_stream(m: dict) -> bool:
    return m["msg_type"] == "stream"


def test_print_goes_to_stdout_and_stderr_by_name(kc):
    msgs = run_ok(kc, "import sys\nprint('out')\nprint('err', file=sys.stderr)")
    assert stdout_of(msgs) == "out\n"
    assert stdout_of(msgs, "stderr") == "err\n"


def test_child_process_output_comes_before_the_result_and_idle(kc):
    msgs = run_ok(kc, "import os\nos.system('echo from child; echo child err >&2')")
    assert stdout_of(msgs) == "from child\n"
    assert stdout_of(msgs, "stderr") == "child err\n"
    assert msgs[-1]["msg_type"] == "execute_result"


def test_subprocess_and_raw_fd_writes_are_captured(kc):
    code = ("import os, subprocess\n"
            "subprocess.run(['sh', '-c', 'echo sub'])\n"
            "os.write(1, b'fd one\\n')\n"
            "os.write(2, b'fd two\\n')\n"
            "None")
    msgs = run_ok(kc, code)
    assert stdout_of(msgs) == "sub\nfd one\n"
    assert stdout_of(msgs, "stderr") == "fd two\n"


def test_fd_output_after_the_cell_ended_goes_to_that_cell(kc, tmp_path):
    flag = tmp_path / "go"
    code = ("import subprocess\n"
            f"late = subprocess.Popen(['sh', '-c', 'while [ ! -e {flag} ]; do sleep 0.01; done; "
            "echo late'])")
    msg_id = kc.execute(code)
    assert not [m for m in iopub_for(kc, msg_id) if is_stream(m)]
    flag.touch()
    msg = wait_for_iopub(kc, msg_id, is_stream)
    assert msg["content"] == {"name": "stdout", "text": "late\n"}
    run_ok(kc, "late.wait()")


def test_100k_prints_arrive_complete_in_few_messages(kc):
    msgs = run_ok(kc, "for i in range(100_000):\n    print(i)", timeout=120)
    streams = [m for m in msgs if is_stream(m)]
    assert stdout_of(msgs).splitlines() == [str(i) for i in range(100_000)]
    assert len(streams) < 1000


def test_first_output_arrives_while_the_cell_still_runs(kc, tmp_path):
    go = tmp_path / "go"
    # The cell cannot end before the test has seen its first line: held back until the end of the
    # cell, that line would never come, and the test would time out.
    msg_id = kc.execute(f"import os, time\nprint('first')\nwhile not os.path.exists({str(go)!r}):\n"
                        "    time.sleep(0.005)\nprint('second')")
    first = ""
    while not first.endswith("\n"):  # (one line may come in more than one message)
        first += wait_for_iopub(kc, msg_id, is_stream)["content"]["text"]
    assert first == "first\n"
    go.touch()
    assert stdout_of(iopub_for(kc, msg_id)) == "second\n"


def test_c_code_holding_the_gil_can_write_more_than_a_pipe_holds(kc):
    # ctypes.PyDLL keeps the GIL during the call: a reader thread in the kernel could not empty the
    # pipe over fd 1 until write() returns, and write() would wait for it forever.
    size = 4 << 20
    code = ("import ctypes\n"
            f"data = b'x' * {size - 1} + b'\\n'\n"
            "ctypes.PyDLL(None).write(1, data, len(data))")
    msgs = run_ok(kc, code, timeout=TIMEOUT)
    assert stdout_of(msgs) == "x" * (size - 1) + "\n"
    [result] = [m for m in msgs if m["msg_type"] == "execute_result"]
    assert result["content"]["data"]["text/plain"] == str(size)


def test_stream_objects_behave_like_files(kc):
    code = ("import sys\n"
            "print(sys.stdout.fileno(), sys.stderr.fileno(), sys.stdout.isatty(), "
            "sys.stdout.encoding, sys.stdout.writable())\n"
            "sys.stdout.buffer.write('é\\n'.encode())\n"
            "sys.stdout.writelines(['a', 'b\\n'])\n"
            "sys.stdout.flush()")
    assert stdout_of(run_ok(kc, code)) == "1 2 False utf-8 True\né\nab\n"


def test_print_before_display_keeps_its_order(kc):
    msgs = run_ok(kc, "print('before')\ndisplay('shown')\nprint('after')")
    assert [m["msg_type"] for m in msgs] == ["stream", "display_data", "stream"]


def test_warnings_go_to_stderr(kc):
    msgs = run_ok(kc, "import warnings\nwarnings.warn('careful')")
    assert "careful" in stdout_of(msgs, "stderr")


def test_kernel_log_goes_to_the_original_stderr_not_the_frontend(tmp_path):
    km = kernel_manager("pykernel")
    log_path = tmp_path / "kernel.log"
    with open(log_path, "wb") as log:
        km.start_kernel(extra_arguments=["--debug"], stderr=log, stdout=subprocess.DEVNULL)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=TIMEOUT)
        reply, msgs = execute(kc, "import sys, os\nprint('out')\nos.write(2, b'raw\\n')\n"
                                  "print('dunder-err', file=sys.__stderr__)")
        assert reply["content"]["status"] == "ok"
        texts = [m["content"]["text"] for m in outputs(msgs) if is_stream(m)]
        assert sorted("".join(texts).splitlines()) == ["dunder-err", "out", "raw"]
        assert not any("[pykernel" in t for t in texts)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    logged = log_path.read_text()
    assert "[pykernel DEBUG" in logged and "execute_request" in logged
    # sys.__stderr__ is the notebook's stderr, as in ipykernel (`sys.stderr = sys.__stderr__`
    # undoes a redirect); only the kernel's log goes to the original stderr
    assert "dunder-err" not in logged and "raw" not in logged


def test_output_of_a_thread_started_before_any_cell_goes_to_the_latest_cell(fresh_pykernel):
    _, kc = fresh_pykernel
    # a thread started with no request in context (as from a startup file or a callback)
    setup = kc.execute("import threading, contextvars\n"
                       "go = threading.Event()\n"
                       "ctx = contextvars.Context()\n"
                       "t = ctx.run(lambda: threading.Thread(\n"
                       "    target=lambda: (go.wait(), print('orphan'))))\n"
                       "ctx.run(t.start)")
    iopub_for(kc, setup)
    latest, msgs = execute(kc, "go.set(); t.join()")
    assert stdout_of(msgs) == "orphan\n"


def test_environment_asks_children_for_color_and_no_pager(kc):
    assert stdout_of(run_ok(kc, "import os\nprint(os.environ['PAGER'], os.environ['GIT_PAGER'])")
                     ) == "cat cat\n"


def test_output_of_forked_children_is_published(kc):
    code = ("import multiprocessing as mp, sys\n"
            "def work(n):\n"
            "    print('child says', n)\n"
            "    print('child err', file=sys.stderr)\n"
            "p = mp.get_context('fork').Process(target=work, args=(7,))\n"
            "p.start(); p.join()\n"
            "p.exitcode")
    msgs = run_ok(kc, code)
    assert stdout_of(msgs) == "child says 7\n"
    assert stdout_of(msgs, "stderr") == "child err\n"
    assert msgs[-1]["content"]["data"]["text/plain"] == "0"


def test_a_crash_leaves_its_traceback_in_the_kernel_log(tmp_path):
    km = kernel_manager("pykernel")
    log_path = tmp_path / "kernel.log"
    with open(log_path, "wb") as log:
        km.start_kernel(stderr=log, stdout=subprocess.DEVNULL)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=TIMEOUT)
        kc.execute("def crash_here():\n    import ctypes\n    ctypes.string_at(0)\ncrash_here()")
        km.provisioner.process.wait(TIMEOUT)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    logged = log_path.read_text()
    assert "Segmentation fault" in logged and "crash_here" in logged


def test_fd_output_comes_before_idle_while_a_background_process_keeps_writing(kc, tmp_path):
    # The background writer keeps libzmq's reader busy, so a cell's end rarely finds the capture
    # settled: the drain then writes its marker after the data and waits for it (fdcapture.py).
    stop = tmp_path / "stop"
    noise = tmp_path / "noise.py"
    noise.write_text(f"import os, time\nwhile not os.path.exists({str(stop)!r}):\n"
                     "    os.write(2, b'.')\n    time.sleep(0.0002)\n")
    run_ok(kc, f"import subprocess, sys\nnoise = subprocess.Popen([sys.executable, {str(noise)!r}])")
    try:
        for n in range(30):
            msgs = run_ok(kc, f"import os\nos.write(1, b'line {n}\\n')\nos.write(2, b'end {n}\\n')")
            assert stdout_of(msgs) == f"line {n}\n"
            assert f"end {n}\n" in stdout_of(msgs, "stderr")
    finally:
        stop.touch()
        run_ok(kc, "noise.wait()")


def test_shell_redirections_to_dev_stdout_and_dev_stderr_work(kc):
    # fds 1 and 2 are pipes, which a program can open again by name (a socket could not be)
    msgs = run_ok(kc, "import subprocess\n"
                      "subprocess.run(['sh', '-c', 'echo o > /dev/stdout; echo e > /dev/stderr'], "
                      "check=True)\n"
                      "None")
    assert stdout_of(msgs) == "o\n"
    assert stdout_of(msgs, "stderr") == "e\n"


def test_output_goes_on_when_a_relay_is_killed(fresh_pykernel):
    km, kc = fresh_pykernel
    relays = [pid for pid in procs.descendants(km.provisioner.process.pid)
              if _comm(pid) == "cat"]
    assert len(relays) == 2
    for pid in relays:
        os.kill(pid, signal.SIGKILL)
    # more than a pipe holds, so the kernel must be reading the pipes itself now
    msgs = run_ok(kc, "import os\nos.write(1, b'x' * 200_000 + b'\\n')\nos.write(2, b'still\\n')")
    assert stdout_of(msgs) == "x" * 200_000 + "\n"
    assert stdout_of(msgs, "stderr") == "still\n"


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""
