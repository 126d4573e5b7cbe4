"""Which cell output lands in, and in what order (pykernel/python/routing.py, fdcapture.py).

Work that writes after its cell ended waits on a file the test creates, so that no cell runs at the
moment of the write (a running cell would take the output: rule 2 of routing.py).
"""

from __future__ import annotations

import re

from pyfixtures import execute, iopub_for, run_ok, stdout_of, wait_for_iopub


def is_stream(m: dict) -> bool:
    return m["msg_type"] == "stream"


def late_line(kc, msg_id: str) -> str:
    """The next line of stream text for request msg_id (a line may come in several messages)."""
    text = ""
    while not text.endswith("\n"):
        text += wait_for_iopub(kc, msg_id, is_stream)["content"]["text"]
    return text


def wait_file(path) -> str:
    """Kernel-side code that waits (bounded) for the test to create `path`."""
    return (f"def wait_go(path={str(path)!r}):\n"
            "    import os, time\n"
            "    deadline = time.monotonic() + 30\n"
            "    while not os.path.exists(path) and time.monotonic() < deadline:\n"
            "        time.sleep(0.005)\n")


def test_thread_of_a_finished_cell_writes_into_the_running_cell(kc):
    started = kc.execute("import threading\n"
                         "go = threading.Event()\n"
                         "t = threading.Thread(target=lambda: (go.wait(), print('from thread')))\n"
                         "t.start()")
    iopub_for(kc, started)
    _, msgs = execute(kc, "go.set(); t.join()")
    assert stdout_of(msgs) == "from thread\n"


def test_thread_of_a_finished_cell_writes_into_that_cell_when_none_runs(kc, tmp_path):
    started = kc.execute(wait_file(tmp_path / "go") +
                         "import threading\n"
                         "t = threading.Thread(target=lambda: (wait_go(), print('late')))\n"
                         "t.start()")
    assert not [m for m in iopub_for(kc, started) if is_stream(m)]
    (tmp_path / "go").touch()
    assert late_line(kc, started) == "late\n"
    run_ok(kc, "t.join()")


def test_asyncio_task_of_a_finished_cell_writes_into_the_cell_awaiting_it(kc):
    started = kc.execute("import asyncio\n"
                         "go = asyncio.Event()\n"
                         "async def work():\n    await go.wait()\n    print('from task')\n"
                         "task = asyncio.create_task(work())\n"
                         "await asyncio.sleep(0)")
    iopub_for(kc, started)
    _, msgs = execute(kc, "go.set()\nawait task")
    assert stdout_of(msgs) == "from task\n"


def _pool_made_by_an_earlier_cell(kc, tmp_path) -> None:
    run_ok(kc, wait_file(tmp_path / "go") +
           "from concurrent.futures import ThreadPoolExecutor\n"
           "import asyncio\n"
           "pool = ThreadPoolExecutor(2)\n"
           "list(pool.map(abs, range(8)))  # its threads exist from now on\n"
           "asyncio.get_running_loop().set_default_executor(pool)\n"
           "await asyncio.to_thread(abs, 1)")


SUBMITTERS = {
    "submit": "job = pool.submit(lambda: (wait_go(), print('from', 'submit')))",
    "map": "job = pool.map(lambda w: (wait_go(), print('from', w)), ['map'])",
    "run_in_executor": ("job = asyncio.get_event_loop().run_in_executor(\n"
                        "    pool, lambda: (wait_go(), print('from', 'run_in_executor')))"),
    "to_thread": ("job = asyncio.ensure_future(asyncio.to_thread(\n"
                  "    lambda: (wait_go(), print('from', 'to_thread'))))"),
}


def test_executor_work_writes_into_the_cell_that_submitted_it(kc, tmp_path):
    _pool_made_by_an_earlier_cell(kc, tmp_path)
    for name, code in SUBMITTERS.items():
        flag = tmp_path / "go"
        flag.unlink(missing_ok=True)
        submitted = kc.execute(code)
        assert not [m for m in iopub_for(kc, submitted) if is_stream(m)], name
        flag.touch()
        assert late_line(kc, submitted) == f"from {name}\n"
        run_ok(kc, "await job" if name in ("run_in_executor", "to_thread") else
               "job.result() if hasattr(job, 'result') else list(job)")
    run_ok(kc, "pool.shutdown()")


def test_queue_listener_writes_records_into_the_cell_that_logged_them(kc, tmp_path):
    run_ok(kc, wait_file(tmp_path / "go") +
           "import logging, logging.handlers, queue, sys\n"
           "class Waiting(logging.StreamHandler):\n"
           "    def emit(self, record):\n"
           "        wait_go()\n"
           "        super().emit(record)\n"
           "q = queue.Queue()\n"
           "qlog = logging.getLogger('routing-demo')\n"
           "qlog.propagate = False\n"
           "qlog.addHandler(logging.handlers.QueueHandler(q))\n"
           "listener = logging.handlers.QueueListener(q, Waiting(sys.stdout))\n"
           "listener.start()")
    logged = kc.execute("qlog.warning('logged here')")
    assert not [m for m in iopub_for(kc, logged) if is_stream(m)]
    (tmp_path / "go").touch()
    assert late_line(kc, logged) == "logged here\n"
    run_ok(kc, "listener.stop()")


def test_os_system_and_print_keep_program_order_in_20_cells(kc):
    code = ("import os, subprocess\n"
            "for i in range(5):\n"
            "    os.system(f'echo sh{i}')\n"
            "    print(f'py{i}')\n"
            "    subprocess.run(['echo', f'sub{i}'])\n"
            "    print(f'py{i}b')\n")
    expected = "".join(f"sh{i}\npy{i}\nsub{i}\npy{i}b\n" for i in range(5))
    for _ in range(20):
        assert stdout_of(run_ok(kc, code)) == expected


def test_child_output_comes_before_a_display_after_it(kc):
    msgs = run_ok(kc, "import os\nos.system('echo child')\ndisplay('shown')")
    assert [m["msg_type"] for m in msgs] == ["stream", "display_data"]


def test_lines_of_pool_workers_printing_at_once_arrive_whole(kc):
    code = ("import multiprocessing as mp\n"
            "def work(n):\n"
            "    for i in range(300):\n"
            "        print(f'worker{n}-line{i}-' + 'x' * 60)\n"
            "    return n\n"
            "with mp.get_context('fork').Pool(4) as p:\n"
            "    done = p.map(work, range(4))\n"
            "done")
    msgs = run_ok(kc, code, timeout=60)
    streams = [m["content"]["text"] for m in msgs if is_stream(m)]
    assert all(text.endswith("\n") for text in streams)
    lines = "".join(streams).splitlines()
    assert all(re.fullmatch(r"worker\d-line\d+-x{60}", line) for line in lines), lines
    assert sorted(lines) == sorted(f"worker{n}-line{i}-" + "x" * 60
                                   for n in range(4) for i in range(300))


def test_a_child_line_without_an_end_still_arrives_while_the_child_runs(kc, tmp_path):
    flag = tmp_path / "go"
    started = kc.execute("import subprocess\n"
                         f"child = subprocess.Popen(['sh', '-c', 'while [ ! -e {flag} ]; do "
                         "sleep 0.01; done; printf no-end; sleep 30'])")
    iopub_for(kc, started)
    flag.touch()
    assert wait_for_iopub(kc, started, is_stream)["content"]["text"] == "no-end"
    run_ok(kc, "child.kill(); child.wait()")


# ipyparallel's `%%px` (ipyparallel/client/asyncresult.py, stream_output): the client's I/O
# thread, started with the Client in an earlier cell, republishes each engine's stream as a
# display (`publish_display_data` with a display_id, updated as more arrives) and prints errors
# to sys.stderr, while the %%px cell waits for the results. The same path, with a thread as
# the engine:
PX_SETUP = """\
import queue, sys, threading
from IPython.core.magic import register_cell_magic
from IPython.display import publish_display_data

engine_out = queue.Queue()

def client_io_loop():
    shown = set()
    while True:
        job, done, name, text = engine_out.get()
        if job is None:
            return
        key = f"{job}-{name}"
        if name == "stderr":
            print(f"[{name}:0] {text}", end="", file=sys.stderr)
        else:
            publish_display_data({"text/plain": f"[{name}:0] {text}"},
                                 transient={"display_id": key}, update=key in shown)
            shown.add(key)
        if done:
            done.set()

client_io = threading.Thread(target=client_io_loop, daemon=True)
client_io.start()

@register_cell_magic
def px_like(line, cell):
    done = threading.Event()
    engine_out.put((cell, None, "stdout", "part 1"))
    engine_out.put((cell, None, "stdout", "part 1, part 2"))
    engine_out.put((cell, done, "stderr", "oops\\n"))
    done.wait(10)
"""


def test_px_style_output_republished_by_a_client_thread_lands_in_the_px_cell(kc):
    run_ok(kc, PX_SETUP)
    msgs = run_ok(kc, "%%px_like\nwork()")
    shown = [m for m in msgs if m["msg_type"] in ("display_data", "update_display_data")]
    assert [(m["msg_type"], m["content"]["data"]["text/plain"]) for m in shown] == [
        ("display_data", "[stdout:0] part 1"),
        ("update_display_data", "[stdout:0] part 1, part 2")]
    assert stdout_of(msgs, "stderr") == "[stderr:0] oops\n"
    run_ok(kc, "engine_out.put((None, None, None, None)); client_io.join()")
