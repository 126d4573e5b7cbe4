"""input() and getpass() in the Python kernel go to the frontend over the stdin channel."""

from __future__ import annotations

from pyfixtures import execute, iopub_for, reply_for, run_ok, stdout_of, wait_for_iopub


def test_input_asks_the_frontend_and_returns_its_answer(kc):
    msg_id = kc.execute("name = input('Who? ')\nprint('hello', name)", allow_stdin=True)
    request = kc.get_stdin_msg(timeout=20)
    assert request["msg_type"] == "input_request"
    assert request["content"] == {"prompt": "Who? ", "password": False}
    assert request["parent_header"]["msg_id"] == msg_id
    kc.input("Ada")
    assert reply_for(kc, msg_id)["content"]["status"] == "ok"
    assert stdout_of(iopub_for(kc, msg_id)) == "hello Ada\n"


def test_getpass_asks_for_a_password(kc):
    msg_id = kc.execute("import getpass\nsecret = getpass.getpass()\nlen(secret)", allow_stdin=True)
    request = kc.get_stdin_msg(timeout=20)
    assert request["content"] == {"prompt": "Password: ", "password": True}
    kc.input("hunter2")
    assert reply_for(kc, msg_id)["content"]["status"] == "ok"
    [result] = [m for m in iopub_for(kc, msg_id) if m["msg_type"] == "execute_result"]
    assert result["content"]["data"]["text/plain"] == "7"


def test_text_printed_before_the_prompt_is_published_first(kc):
    msg_id = kc.execute("print('before', end='')\ninput()", allow_stdin=True)
    msg = wait_for_iopub(kc, msg_id, lambda m: m["msg_type"] == "stream")
    assert msg["content"]["text"] == "before"
    kc.get_stdin_msg(timeout=20)
    kc.input("x")
    reply_for(kc, msg_id)
    iopub_for(kc, msg_id)


def test_input_without_allow_stdin_raises_stdin_not_implemented(kc):
    reply, _ = execute(kc, "input('?')", allow_stdin=False)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "StdinNotImplementedError"


def test_input_can_be_caught_when_not_allowed(kc):
    code = ("try:\n    input()\nexcept Exception as e:\n    print(type(e).__name__)")
    assert stdout_of(run_ok(kc, code, allow_stdin=False)) == "StdinNotImplementedError\n"


def test_interrupt_while_waiting_for_input(fresh_pykernel):
    km, kc = fresh_pykernel
    msg_id = kc.execute("input('never answered')", allow_stdin=True)
    kc.get_stdin_msg(timeout=20)
    km.interrupt_kernel()
    reply = reply_for(kc, msg_id)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    # the traceback ends at the user's input() call, not inside the kernel's wait for the answer
    assert "pykernel" not in "".join(reply["content"]["traceback"])
    iopub_for(kc, msg_id)
    # the next input works, and the abandoned request's answer does not leak into it
    msg_id = kc.execute("input('again')", allow_stdin=True)
    request = kc.get_stdin_msg(timeout=20)
    assert request["content"]["prompt"] == "again"
    kc.input("fine")
    [result] = [m for m in iopub_for(kc, msg_id) if m["msg_type"] == "execute_result"]
    assert result["content"]["data"]["text/plain"] == "'fine'"
