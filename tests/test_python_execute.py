"""execute_request on the Python kernel: results, counts, errors, magics, await, payloads, interrupts."""

from __future__ import annotations

import re

import pytest
from corefixtures import send, wait_pid_exit
from pyfixtures import (execute, iopub_for, outputs, reply_for, run_ok, running_kernel, stdout_of,
                        wait_for_iopub)


def of_type(msgs: list[dict], msg_type: str) -> list[dict]:
    return [m for m in msgs if m["msg_type"] == msg_type]


def test_expression_value_is_an_execute_result_with_the_cell_count(kc):
    reply, msgs = execute(kc, "6 * 7")
    count = reply["content"]["execution_count"]
    [result] = of_type(msgs, "execute_result")
    assert result["content"]["data"] == {"text/plain": "42"}
    assert result["content"]["execution_count"] == count
    assert result["content"]["metadata"] == {}
    [inp] = of_type(msgs, "execute_input")
    assert inp["content"] == {"code": "6 * 7", "execution_count": count}


def test_counts_go_up_by_one_and_match_in_and_out(kc):
    first, _ = execute(kc, "'a'")
    second, msgs = execute(kc, "In[-2], Out[%d]" % first["content"]["execution_count"])
    assert second["content"]["execution_count"] == first["content"]["execution_count"] + 1
    [result] = of_type(msgs, "execute_result")
    assert result["content"]["data"]["text/plain"] == "(\"'a'\", 'a')"


def test_silent_publishes_nothing_and_does_not_count(kc):
    before, _ = execute(kc, "1")
    reply, msgs = execute(kc, "print('quiet'); 2", silent=True)
    assert reply["content"]["status"] == "ok"
    assert [m["msg_type"] for m in msgs] == ["status", "stream", "status"]  # print still prints
    after, _ = execute(kc, "3")
    assert after["content"]["execution_count"] == before["content"]["execution_count"] + 1


def test_store_history_false_does_not_count(kc):
    before, _ = execute(kc, "1")
    reply, msgs = execute(kc, "5", store_history=False)
    assert reply["content"]["execution_count"] == before["content"]["execution_count"]
    [result] = of_type(msgs, "execute_result")
    assert result["content"]["execution_count"] == before["content"]["execution_count"]
    after, _ = execute(kc, "3")
    assert after["content"]["execution_count"] == before["content"]["execution_count"] + 1


def test_underscore_names_hold_the_last_results(kc):
    run_ok(kc, "'first'")
    run_ok(kc, "'second'")
    [result] = run_ok(kc, "(_, __)")
    assert result["content"]["data"]["text/plain"] == "('second', 'first')"


def test_error_has_the_exception_name_and_a_colored_traceback(kc):
    reply, msgs = execute(kc, "def f():\n    return 1 / 0\nf()")
    content = reply["content"]
    assert content["status"] == "error"
    assert content["ename"] == "ZeroDivisionError"
    assert content["evalue"] == "division by zero"
    [error] = of_type(msgs, "error")
    assert error["content"]["ename"] == "ZeroDivisionError"
    assert error["content"]["traceback"] == content["traceback"]
    text = "\n".join(content["traceback"])
    assert "\x1b[" in text
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert "return 1 / 0" in plain and "ZeroDivisionError" in plain
    # the error is the last output, after anything printed before it
    assert msgs[-1]["msg_type"] == "status" and msgs[-2]["msg_type"] == "error"


def test_syntax_error_is_an_error_reply(kc):
    reply, msgs = execute(kc, "def (")
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "SyntaxError"
    assert of_type(msgs, "error")


def test_unknown_magic_is_a_usage_error(kc):
    reply, msgs = execute(kc, "%no_such_magic")
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "UsageError"
    assert "no_such_magic" in stdout_of(msgs, "stderr")


def test_exception_group_is_published_as_an_error(kc):
    reply, msgs = execute(kc, "raise ExceptionGroup('many', [ValueError('v'), TypeError('t')])")
    assert reply["content"]["ename"] == "ExceptionGroup"
    [error] = of_type(msgs, "error")
    text = "".join(error["content"]["traceback"])
    assert "ValueError: v" in text and "TypeError: t" in text


def test_stop_on_error_aborts_the_executes_already_queued(kc):
    # The failing cell waits for input, so the next two are surely queued when it fails.
    first = kc.execute("input()\n1 / 0", allow_stdin=True)
    kc.get_stdin_msg(timeout=20)
    ids = [first, kc.execute("print('never')"), kc.execute("print('nor this')")]
    kc.input("go")
    replies = [reply_for(kc, i) for i in ids]
    assert [r["content"]["status"] for r in replies] == ["error", "aborted", "aborted"]
    for i in ids:
        assert not of_type(iopub_for(kc, i), "stream")
    assert run_ok(kc, "'alive'")


def test_stop_on_error_false_keeps_going(kc):
    first = kc.execute("1 / 0", stop_on_error=False)
    second = kc.execute("print('ran')")
    assert reply_for(kc, first)["content"]["status"] == "error"
    assert reply_for(kc, second)["content"]["status"] == "ok"
    iopub_for(kc, first)
    assert stdout_of(iopub_for(kc, second)) == "ran\n"


def test_user_expressions_are_evaluated_after_the_cell(kc):
    reply, _ = execute(kc, "x = 21", user_expressions={"double": "x * 2", "bad": "1 / 0"})
    exprs = reply["content"]["user_expressions"]
    assert exprs["double"]["status"] == "ok"
    assert exprs["double"]["data"] == {"text/plain": "42"}
    assert exprs["bad"]["status"] == "error"
    assert exprs["bad"]["ename"] == "ZeroDivisionError"


def test_line_cell_and_shell_magics(kc):
    assert stdout_of(run_ok(kc, "%%bash\necho from bash")) == "from bash\n"
    assert stdout_of(run_ok(kc, "!echo from shell")).strip() == "from shell"
    assert "Wall time" in stdout_of(run_ok(kc, "%time sum(range(10))"))
    [result] = of_type(run_ok(kc, "files = !echo a b\nfiles"), "execute_result")
    assert result["content"]["data"]["text/plain"] == "['a b']"


def test_timeit_capture_env_cd_and_load_ext_magics(kc, tmp_path):
    assert " per loop " in stdout_of(run_ok(kc, "%timeit -n 3 -r 2 sum(range(10))"))
    # %%capture keeps the cell's output from the frontend and hands it over as an object
    assert stdout_of(run_ok(kc, "%%capture captured\nprint('hidden')")) == ""
    assert stdout_of(run_ok(kc, "print(captured.stdout, end='')")) == "hidden\n"
    run_ok(kc, "%env PYKERNEL_TEST_VAR=42")
    assert stdout_of(run_ok(kc, "import os\nprint(os.environ['PYKERNEL_TEST_VAR'])")) == "42\n"
    assert stdout_of(run_ok(kc, "!echo $PYKERNEL_TEST_VAR")).strip() == "42"
    run_ok(kc, f"_old_cwd = os.getcwd()\n%cd {tmp_path}")
    try:
        assert stdout_of(run_ok(kc, "!pwd")).strip() == str(tmp_path)
    finally:
        run_ok(kc, "%cd $_old_cwd")
    (tmp_path / "pk_ext.py").write_text(
        "def load_ipython_extension(ip):\n    ip.push({'loaded_by_ext': 7})\n")
    run_ok(kc, f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\n%load_ext pk_ext")
    [result] = of_type(run_ok(kc, "loaded_by_ext"), "execute_result")
    assert result["content"]["data"]["text/plain"] == "7"


def test_top_level_await_runs_on_a_loop_kept_between_cells(kc):
    run_ok(kc, "import asyncio\nasync def twice(x):\n    await asyncio.sleep(0)\n    return 2 * x")
    [result] = of_type(run_ok(kc, "await twice(21)"), "execute_result")
    assert result["content"]["data"]["text/plain"] == "42"
    run_ok(kc, "first = await asyncio.sleep(0, result=id(asyncio.get_running_loop()))")
    [result] = of_type(run_ok(kc, "await asyncio.sleep(0, result=id(asyncio.get_running_loop())) "
                                  "== first"), "execute_result")
    assert result["content"]["data"]["text/plain"] == "True"


def test_async_for_and_async_with_at_top_level(kc):
    code = ("import contextlib\n"
            "async def gen():\n    yield 1\n    yield 2\n"
            "@contextlib.asynccontextmanager\nasync def ctx():\n    yield 'in'\n"
            "async with ctx() as v:\n    print(v)\n"
            "async for i in gen():\n    print(i)")
    assert stdout_of(run_ok(kc, code)) == "in\n1\n2\n"


def test_help_pages_the_object(kc):
    reply, _ = execute(kc, "len?")
    [payload] = reply["content"]["payload"]
    assert payload["source"] == "page"
    assert "Return the number of items" in payload["data"]["text/plain"]
    assert "text/html" in payload["data"]
    assert payload["start"] == 0


def test_set_next_input_is_a_payload(kc):
    reply, _ = execute(kc, "get_ipython().set_next_input('print(1)', replace=True)")
    assert reply["content"]["payload"] == [
        {"source": "set_next_input", "text": "print(1)", "replace": True}]
    # payloads do not leak into the next reply
    reply, _ = execute(kc, "1")
    assert reply["content"]["payload"] == []


def test_exit_keep_kernel_asks_the_frontend_only(kc):
    reply, _ = execute(kc, "exit(keep_kernel=True)")
    assert reply["content"]["payload"] == [{"source": "ask_exit", "keepkernel": True}]
    assert run_ok(kc, "'still here'")


def test_exit_asks_the_frontend_whose_shutdown_request_ends_the_kernel():
    """jupyter console's way: it reads the `ask_exit` payload and sends shutdown_request, which is
    answered (the kernel would wait a minute here before ending by itself)."""
    with running_kernel("pykernel", ["--PythonKernel.exit_wait=60"]) as (km, kc):
        pid = km.provisioner.process.pid
        reply, msgs = execute(kc, "exit")
        assert reply["content"]["payload"] == [{"source": "ask_exit", "keepkernel": False}]
        assert msgs[-1]["content"]["execution_state"] == "idle"
        shutdown = send(kc, "control", "shutdown_request", {"restart": False})
        assert reply_for(kc, shutdown, channel="control")["content"]["status"] == "ok"
        assert wait_pid_exit(pid)


def test_interrupt_stops_a_running_cell(fresh_pykernel):
    km, kc = fresh_pykernel
    # one statement prints and sleeps: IPython compiles each top-level statement just before
    # running it, and an interrupt between the two would land in the compiler
    msg_id = kc.execute("import time\ndef f():\n    print('started', flush=True)\n"
                        "    time.sleep(60)\nf()")
    wait_for_iopub(kc, msg_id, lambda m: m["msg_type"] == "stream")
    km.interrupt_kernel()
    reply = reply_for(kc, msg_id)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert of_type(iopub_for(kc, msg_id), "error")
    # the traceback ends in the user's code, not in the kernel's signal handler
    tb = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(reply["content"]["traceback"]))
    assert "time.sleep(60)" in tb and "pykernel" not in tb
    assert run_ok(kc, "'alive'")


def test_interrupt_stops_a_cell_waiting_in_await(fresh_pykernel):
    km, kc = fresh_pykernel
    msg_id = kc.execute("import asyncio\nprint('started', flush=True)\nawait asyncio.sleep(60)")
    wait_for_iopub(kc, msg_id, lambda m: m["msg_type"] == "stream")
    km.interrupt_kernel()
    reply = reply_for(kc, msg_id)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] in ("KeyboardInterrupt", "CancelledError")
    iopub_for(kc, msg_id)
    # the loop is usable again, and the interrupted cell does not come back to life
    assert stdout_of(run_ok(kc, "await asyncio.sleep(0.01)\nprint('next')")) == "next\n"


@pytest.mark.parametrize("code", ["import sys; sys.exit(3)", "raise SystemExit"])
def test_system_exit_does_not_end_the_kernel(kc, code):
    execute(kc, code)
    assert run_ok(kc, "'alive'")


def test_kernel_info_describes_python(kc):
    msg_id = kc.kernel_info()
    content = reply_for(kc, msg_id)["content"]
    assert content["implementation"] == "pykernel"
    info = content["language_info"]
    assert info["name"] == "python"
    assert info["mimetype"] == "text/x-python"
    assert info["codemirror_mode"] == {"name": "ipython", "version": 3}
    assert info["pygments_lexer"] == "ipython3"
    assert info["nbconvert_exporter"] == "python"
    assert info["file_extension"] == ".py"
    assert "IPython" in content["banner"]
    assert content["help_links"]


def test_nothing_heavy_is_imported_at_start(fresh_pykernel):
    _, kc = fresh_pykernel
    [result] = outputs(run_ok(kc, "import sys\nsorted(m for m in ('jedi', 'matplotlib', 'debugpy', "
                                  "'numpy', 'asyncio', 'tornado', 'jupyter_client') "
                                  "if m in sys.modules)"))
    assert result["content"]["data"]["text/plain"] == "[]"


def test_tasks_started_by_a_cell_keep_running_while_the_kernel_is_idle(kc, tmp_path):
    go = tmp_path / "go"
    msg_id = kc.execute("import asyncio, os\n"
                        "async def tick():\n"
                        f"    while not os.path.exists({str(go)!r}):\n"
                        "        await asyncio.sleep(0.005)\n"
                        "    for i in range(3):\n"
                        "        await asyncio.sleep(0)\n"
                        "        print('tick', i)\n"
                        "ticker = asyncio.create_task(tick())\n"
                        "await asyncio.sleep(0)")
    assert not [m for m in iopub_for(kc, msg_id) if m["msg_type"] == "stream"]
    # The task can only go on once the cell is idle; no other request drives the loop meanwhile.
    go.touch()
    text = ""
    while text.count("\n") < 3:
        msg = wait_for_iopub(kc, msg_id, lambda m: m["msg_type"] == "stream")
        text += msg["content"]["text"]
    assert text == "tick 0\ntick 1\ntick 2\n"
    [result] = of_type(run_ok(kc, "ticker.done()"), "execute_result")
    assert result["content"]["data"]["text/plain"] == "True"


def test_plain_cells_share_the_loop_of_await_cells(kc):
    msg_id = kc.execute("import asyncio\n"
                        "async def later():\n"
                        "    await asyncio.sleep(0.01)\n"
                        "    print('later')\n"
                        "fut = asyncio.ensure_future(later())\n"
                        "loop = asyncio.get_event_loop()")
    msg = wait_for_iopub(kc, msg_id, lambda m: m["msg_type"] == "stream")
    assert msg["content"]["text"] == "later\n"
    [result] = of_type(run_ok(kc, "await asyncio.sleep(0, result=asyncio.get_running_loop() is loop)"),
                       "execute_result")
    assert result["content"]["data"]["text/plain"] == "True"


def test_asyncio_run_works_in_a_plain_cell(kc):
    [result] = of_type(run_ok(kc, "import asyncio\nasyncio.run(asyncio.sleep(0, result='ran'))"),
                       "execute_result")
    assert result["content"]["data"]["text/plain"] == "'ran'"


def test_first_cell_of_a_kernel_can_schedule_on_the_current_loop(fresh_pykernel):
    _, kc = fresh_pykernel
    msg_id = kc.execute("import asyncio\n"
                        "async def later():\n"
                        "    print('later')\n"
                        "asyncio.get_event_loop().create_task(later())")
    msg = wait_for_iopub(kc, msg_id, lambda m: m["msg_type"] == "stream")
    assert msg["content"]["text"] == "later\n"


def test_profile_config_startup_files_and_exec_lines(tmp_path, monkeypatch):
    profile = tmp_path / "ipython" / "profile_default"
    (profile / "startup").mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text(
        "c.InteractiveShellApp.exec_lines = ['from_exec_lines = 42']\n"
        "c.InteractiveShell.ast_node_interactivity = 'all'\n")
    (profile / "startup" / "00-first.py").write_text("from_startup = 'yes'\n")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    with running_kernel("pykernel") as (_, kc):
        msgs = run_ok(kc, "from_startup\nfrom_exec_lines")
        results = [m["content"]["data"]["text/plain"] for m in of_type(msgs, "execute_result")]
        assert results == ["'yes'", "42"]  # both shown: the profile's interactivity setting


def test_a_subshell_runs_python_while_the_main_shell_is_busy(fresh_pykernel):
    _, kc = fresh_pykernel
    reply = reply_for(kc, send(kc, "control", "create_subshell_request", {}), channel="control")
    sid = reply["content"]["subshell_id"]
    run_ok(kc, "import threading\nrelease = threading.Event()\nshared = []")
    main = kc.execute("release.wait(30)\nshared")
    content = {"code": "shared.append('from subshell')\nrelease.set()\nimport asyncio\n"
                       "await asyncio.sleep(0, result=threading.current_thread().name)",
               "silent": False, "store_history": False, "allow_stdin": False}
    on_sub = send(kc, "shell", "execute_request", content, header={"subshell_id": sid})
    assert reply_for(kc, on_sub)["content"]["status"] == "ok"
    [result] = of_type(iopub_for(kc, on_sub), "execute_result")
    assert "subshell" in result["content"]["data"]["text/plain"]
    assert reply_for(kc, main)["content"]["status"] == "ok"
    [result] = of_type(iopub_for(kc, main), "execute_result")
    assert result["content"]["data"]["text/plain"] == "['from subshell']"
