"""WrapperKernel, feature by feature, through the calculator kernel (tests/calc_kernel.py) running as
a real process, driven over zmq by jupyter_client."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pykernel.kernelspec import launcher_argv
from wrapfixtures import Session, kernel_env

pytestmark = pytest.mark.timeout(60)


def test_importing_the_wrapper_does_not_import_ipython():
    code = ("import sys, pykernel.wrapper; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('IPython', 'ipykernel')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=kernel_env())
    assert out.stdout.strip() == "[]"


def test_kernel_info(calc):
    info = calc.request("kernel_info_request", {})
    assert info["implementation"] == "calc"
    assert info["implementation_version"] == "1.0"
    assert info["language_info"]["name"] == "calc"
    assert info["banner"] == "A calculator with variables"
    assert info["help_links"] == [{"text": "Calc", "url": "https://example.org/calc"}]


def test_a_returned_value_is_the_result_and_state_persists(calc):
    first = calc.run("answer = 6 * 7")
    assert first.status == "ok" and first.result is None
    second = calc.run("answer")
    assert second.result == {"text/plain": "42"}
    assert second.reply["content"]["execution_count"] == first.reply["content"]["execution_count"] + 1
    assert second.of_type("execute_result")[0]["execution_count"] == \
        second.reply["content"]["execution_count"]


def test_silent_execution_publishes_no_result(calc):
    result = calc.run("1 + 1", silent=True)
    assert result.status == "ok"
    assert result.result is None


def test_print_goes_to_stdout_and_stderr_in_order(calc):
    result = calc.run('print 1, 2 + 3\nwarn careful\nprint 7\n8')
    assert result.stdout == "1 5\n7\n"
    assert result.stderr == "careful\n"
    kinds = [(m["msg_type"], m["content"].get("name")) for m in result.msgs]
    assert kinds.index(("stream", "stderr")) < kinds.index(("execute_result", None))
    assert result.result == {"text/plain": "8"}


def test_kernel_error_gives_exactly_its_name_value_and_traceback(calc):
    result = calc.run("fail out of paper")
    content = result.reply["content"]
    assert content["status"] == "error"
    assert (content["ename"], content["evalue"]) == ("CalcError", "out of paper")
    assert content["traceback"] == ["CalcError: out of paper", "  (raised by `fail`)"]
    assert result.error == {k: content[k] for k in ("ename", "evalue", "traceback")}


def test_kernel_error_without_traceback_shows_one_line(calc):
    result = calc.run("nothing_here + 1")
    assert result.error["ename"] == "NameError"
    assert result.error["traceback"] == ["NameError: nothing_here is not defined"]


def test_any_other_exception_is_named_after_its_class(calc):
    result = calc.run("1 / 0")
    assert result.error["ename"] == "ZeroDivisionError"
    assert result.error["evalue"] == "division by zero"
    assert "ZeroDivisionError: division by zero" in result.error["traceback"][-1]
    assert any("calc_kernel.py" in line for line in result.error["traceback"])


def test_stop_on_error_aborts_what_was_queued_behind_an_error(calc):
    sid = calc.request("create_subshell_request", {}, channel="control")["subshell_id"]
    try:
        failing = calc.send("block queued\nfail first")
        queued = calc.send("never = 1")
        # sent after `queued` on the same connection, so `queued` waits in line when this lets
        # the failing cell go on
        assert calc.run("release queued", subshell_id=sid).status == "ok"
        assert calc.collect(failing).status == "error"
        assert calc.collect(queued).status == "aborted"
    finally:
        calc.request("delete_subshell_request", {"subshell_id": sid}, channel="control")
    assert calc.run("never").error["ename"] == "NameError"


def test_input_goes_through_the_frontend(calc):
    result = calc.run('n = input "How many? "\nn + 1', answers=["41"])
    assert result.prompts == [{"prompt": "How many? ", "password": False}]
    assert result.result == {"text/plain": "42"}
    secret = calc.run('pin = secret "PIN: "\npin', answers=["1234"])
    assert secret.prompts == [{"prompt": "PIN: ", "password": True}]
    assert secret.result == {"text/plain": "1234"}


def test_input_without_stdin_is_an_error(calc):
    result = calc.run('n = input "How many? "')
    assert result.error["ename"] == "StdinNotAllowed"
    assert result.prompts == []


def test_display_returns_an_id_that_update_display_reaches(calc):
    shown = calc.run("show 3 as total")
    [data] = shown.of_type("display_data")
    assert data["data"] == {"text/plain": "3", "text/html": "<b>3</b>"}
    assert data["transient"] == {"display_id": "total"}
    updated = calc.run("update total 3 + 1")
    [update] = updated.of_type("update_display_data")
    assert update["data"]["text/plain"] == "4"
    assert update["transient"] == {"display_id": "total"}
    anonymous = calc.run("show 5")
    assert anonymous.of_type("display_data")[0]["transient"]["display_id"]


def test_clear_output(calc):
    result = calc.run("print 1\nclear wait")
    assert result.of_type("clear_output") == [{"wait": True}]


def test_history_of_executed_code(calc):
    codes = ["h = 1", "h + 100", "h + 200"]
    for code in codes:
        calc.run(code)
    tail = calc.request("history_request", {"hist_access_type": "tail", "n": 3, "output": False,
                                            "raw": True})["history"]
    assert [entry[2] for entry in tail] == codes
    session, line = tail[0][:2]
    ranged = calc.request("history_request", {"hist_access_type": "range", "session": session,
                                              "start": line + 1, "stop": line + 2,
                                              "output": True, "raw": True})["history"]
    assert ranged == [[session, line + 1, ["h + 100", "101"]]]
    found = calc.request("history_request", {"hist_access_type": "search", "pattern": "h + *",
                                             "n": 1, "output": False, "raw": True})["history"]
    assert [entry[2] for entry in found] == ["h + 200"]


def test_complete_from_an_async_hook(calc):
    calc.run("pressure = 1")
    reply = calc.complete("1 + pre")
    assert reply["matches"] == ["pressure"]
    assert (reply["cursor_start"], reply["cursor_end"]) == (4, 7)
    assert calc.complete("prin")["matches"] == ["print"]


def test_inspect_returns_text_or_a_bundle(calc):
    calc.run("width = 12")
    short = calc.inspect("width + 1", cursor_pos=2)
    assert short["found"] and short["data"] == {"text/plain": "width = 12"}
    rich = calc.inspect("width", detail_level=1)
    assert rich["data"]["text/markdown"] == "`width = 12`"
    assert calc.inspect("unknown_name") == {"status": "ok", "found": False, "data": {},
                                            "metadata": {}}


def test_is_complete(calc):
    assert calc.is_complete("(1 + 2") == {"status": "incomplete", "indent": "    "}
    assert calc.is_complete("x = 1 +")["status"] == "incomplete"
    assert calc.is_complete("1 + 2") == {"status": "complete"}
    assert calc.is_complete("1 $ 2") == {"status": "invalid"}


def test_interrupt_cancels_an_async_execute_and_keeps_state(calc):
    calc.run("kept = 5")
    result = calc.run('warn sleeping\nsleep 600', until=calc.interrupt_when("sleeping"))
    assert result.error["ename"] == "KeyboardInterrupt"
    assert calc.run("kept").result == {"text/plain": "5"}


def test_interrupt_ends_a_wait_for_input(calc):
    msg_id = calc.send('n = input "Never answered? "', allow_stdin=True)
    prompt = calc.kc.stdin_channel.get_msg(timeout=20)
    assert prompt["content"]["prompt"] == "Never answered? "
    calc.km.interrupt_kernel()
    interrupted = calc.collect(msg_id)
    assert interrupted.error["ename"] == "KeyboardInterrupt"
    again = calc.run('m = input "Now? "\nm * 2', answers=["21"])
    assert again.result == {"text/plain": "42"}


def test_subshells_run_concurrently_and_share_state(calc):
    sid = calc.request("create_subshell_request", {}, channel="control")["subshell_id"]
    try:
        blocked = calc.send("block gate\nshared")
        released = calc.run("shared = 99\nrelease gate", subshell_id=sid)
        assert released.status == "ok"
        assert calc.collect(blocked).result == {"text/plain": "99"}
        assert calc.complete("shar")["matches"] == ["shared"]
    finally:
        calc.request("delete_subshell_request", {"subshell_id": sid}, channel="control")


def test_kernelspec_install_with_a_flag_end_to_end(tmp_path):
    install = subprocess.run(
        [sys.executable, "-m", "calc_kernel", "install", "--prefix", str(tmp_path),
         "--name", "calc-by-message", "--interrupt-mode", "message"],
        capture_output=True, text=True, env=kernel_env())
    assert install.returncode == 0, install.stderr
    kernels = tmp_path / "share" / "jupyter" / "kernels"
    spec = json.loads((kernels / "calc-by-message" / "kernel.json").read_text())
    assert spec["interrupt_mode"] == "message"
    assert spec["argv"][:-2] == launcher_argv("calc_kernel")
    assert spec["display_name"] == "Calculator" and spec["language"] == "calc"
    # jupyter_client reads the mode from the spec and interrupts with a message, not a signal
    session = Session(kernels, "calc-by-message", kernel_env())
    try:
        result = session.run('warn sleeping\nsleep 600',
                             until=session.interrupt_when("sleeping"))
        assert result.error["ename"] == "KeyboardInterrupt"
        assert session.run("2 + 2").result == {"text/plain": "4"}
    finally:
        session.close()



def test_comms_opened_by_the_frontend_reach_the_languages_target(calc):
    comm_id = "calc-comm-1"
    opened = calc.tell("comm_open", {"comm_id": comm_id, "target_name": "calc.eval",
                                     "data": {"hello": "hi"}})
    assert opened.of_type("comm_msg") == [{"comm_id": comm_id, "data": {"ready": "hi"}}]
    info = calc.request("comm_info_request", {"target_name": "calc.eval"})
    assert info["comms"] == {comm_id: {"target_name": "calc.eval"}}
    answered = calc.tell("comm_msg", {"comm_id": comm_id, "data": {"expr": "6 * 7"}})
    assert answered.of_type("comm_msg") == [{"comm_id": comm_id, "data": {"value": "42"}}]
    calc.tell("comm_close", {"comm_id": comm_id, "data": {}})
    assert calc.request("comm_info_request", {})["comms"] == {}


def test_a_comm_opened_by_the_language_belongs_to_its_cell(calc):
    result = calc.run("notify 2 + 3")
    [opened] = result.of_type("comm_open")
    assert opened["target_name"] == "calc.notify"
    assert opened["data"] == {"value": "5"}
    assert result.reply["content"]["status"] == "ok"


def test_comm_message_to_an_unknown_comm_keeps_the_kernel_running(calc):
    calc.tell("comm_msg", {"comm_id": "no-such-comm", "data": {"expr": "1"}})
    calc.tell("comm_open", {"comm_id": "c2", "target_name": "no.such.target", "data": {}})
    assert calc.run("1 + 1").result == {"text/plain": "2"}


def test_interrupt_stops_an_async_execute_that_computes_without_awaiting(calc):
    calc.run("still = 8")
    result = calc.run("warn spinning\nspin", until=calc.interrupt_when("spinning"))
    assert result.error["ename"] == "KeyboardInterrupt"
    assert calc.run("still").result == {"text/plain": "8"}
    again = calc.run('warn sleeping\nsleep 600', until=calc.interrupt_when("sleeping"))
    assert again.error["ename"] == "KeyboardInterrupt"
