"""The Bash kernel (examples/bash_kernel), item by item, as a real process driven by jupyter_client.

The kernels run with HOME set to an empty directory, so no rc file of this machine takes part.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import pytest

from corefixtures import wait_pid_exit
from packaging_helpers import assert_licensed
from pykernel.kernelspec import launcher_argv
from wrapfixtures import BASH_PACKAGE, Session, kernel_env

pytestmark = pytest.mark.timeout(60)

PNG = base64.b64decode(  # a 1x1 transparent PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10"/></svg>'


@pytest.fixture()
def workdir(bash, tmp_path):
    """A fresh directory, made the shell's working directory."""
    assert bash.run(f"cd {tmp_path}").status == "ok"
    return tmp_path


# ---- state, streams, status ------------------------------------------------------------------


def test_kernel_info(bash):
    info = bash.request("kernel_info_request", {})
    assert info["implementation"] == "pykernel_bash"
    assert info["language_info"]["name"] == "bash"
    assert info["language_info"]["version"][:1].isdigit()
    assert info["language_info"]["file_extension"] == ".sh"


def test_state_persists_across_cells(bash, workdir):
    setup = bash.run("count=41\ngreet() { echo \"hello $1\"; }\nalias ll='echo listed'\n"
                     "mkdir -p sub && cd sub\ndeclare -A colors=([sky]=blue)")
    assert setup.status == "ok", setup.stderr
    result = bash.run('echo $((count + 1)); greet you; ll; pwd; echo "${colors[sky]}"')
    assert result.stdout == f"42\nhello you\nlisted\n{workdir}/sub\nblue\n"


def test_background_jobs_outlive_the_cell(bash):
    started = bash.run("sleep 300 &\necho started")
    assert started.stdout == "started\n"
    listed = bash.run("jobs -r")
    assert "sleep 300" in listed.stdout
    assert bash.run("kill %1 && wait %1; jobs -r").stdout == ""


def test_stdout_and_stderr_are_separate_streams(bash):
    result = bash.run("echo out1; echo err1 >&2; echo out2; echo err2 >&2")
    assert result.stdout == "out1\nout2\n"
    assert result.stderr == "err1\nerr2\n"
    assert result.status == "ok"


def test_unicode_output(bash):
    assert bash.run("echo 'héllo ✓ 世界'").stdout == "héllo ✓ 世界\n"


def test_a_failing_last_command_is_an_error_reply_with_its_stderr(bash):
    result = bash.run("echo fine\nls /no/such/path")
    assert result.status == "error"
    content = result.reply["content"]
    assert content["ename"] == "ExitStatus"
    assert content["evalue"] == "2"
    assert "exit status 2" in content["traceback"][0]
    assert "/no/such/path" in result.stderr
    assert result.stdout == "fine\n"
    missing = bash.run("no_such_command_anywhere")
    assert "command not found" in missing.stderr
    assert missing.error["traceback"] == ["exit status 127 (command not found)"]


def test_only_the_last_command_decides(bash):
    assert bash.run("false\ntrue").status == "ok"
    assert bash.run("false").error["ename"] == "ExitStatus"


def test_status_of_the_last_cell_is_dollar_question_mark(bash):
    bash.run("(exit 7)")
    assert bash.run("echo $?").stdout == "7\n"
    assert bash.run("echo $?").stdout == "0\n"


def test_large_output_arrives_whole_and_in_order(bash):
    result = bash.run("for ((i = 0; i < 20000; i++)); do echo $i; done", timeout=60)
    assert result.stdout.splitlines() == [str(i) for i in range(20000)]
    assert len(result.msgs) < 20000  # coalesced


# ---- stdin -----------------------------------------------------------------------------------


def test_read_asks_the_frontend_with_its_prompt(bash):
    result = bash.run('read -p "Name: " name\necho "hi $name"', answers=["Ada"])
    assert result.prompts == [{"prompt": "Name: ", "password": False}]
    assert result.stdout == "hi Ada\n"
    assert bash.run("echo $name").stdout == "Ada\n"


def test_read_s_asks_for_a_password(bash):
    result = bash.run('read -s -p "Password: " pw\necho "${#pw} chars"', answers=["hunter2"])
    assert result.prompts == [{"prompt": "Password: ", "password": True}]
    assert result.stdout == "7 chars\n"


def test_any_program_reading_stdin_gets_asked_for(bash):
    result = bash.run("head -n 1\nread -r second\necho \"[$second]\"", answers=["one", "two"])
    assert result.stdout == "one\n[two]\n"
    assert len(result.prompts) == 2
    python = bash.run(f"{sys.executable} -c 'print(input().upper())'", answers=["shout"])
    assert python.stdout == "SHOUT\n"


def test_read_without_stdin_fails_cleanly(bash):
    result = bash.run("read -p 'Name: ' name")
    assert result.prompts == []
    assert result.status == "error" and result.reply["content"]["evalue"] == "1"
    assert "cannot send input" in result.stderr
    assert bash.run("cat; echo done").stdout == "done\n"


def test_unread_input_does_not_leak_into_the_next_cell(bash):
    bash.run("read -n 2 two; echo $two", answers=["abcdef"])
    result = bash.run("read -r rest; echo \"[$rest]\"", answers=["fresh"])
    assert result.stdout == "[fresh]\n"


# ---- interrupts and the shell's end ----------------------------------------------------------


def test_interrupt_stops_the_command_and_keeps_the_shell(bash):
    bash.run("kept=yes")
    result = bash.run("echo started\nsleep 100\necho not reached",
                      until=bash.interrupt_when("started"))
    assert result.error["ename"] == "KeyboardInterrupt"
    assert "not reached" not in result.stdout
    assert bash.run("echo $kept").stdout == "yes\n"


def test_interrupt_stops_a_loop_and_a_function(bash):
    result = bash.run("f() { for i in 1 2 3; do sleep 100; done; }\necho go\nf\necho after",
                      until=bash.interrupt_when("go"))
    assert result.error["ename"] == "KeyboardInterrupt"
    assert result.stdout == "go\n"


def test_interrupt_stops_a_busy_shell_loop(bash):
    result = bash.run("echo spinning\nwhile :; do :; done", until=bash.interrupt_when("spinning"))
    assert result.error["ename"] == "KeyboardInterrupt"
    assert bash.run("echo alive").stdout == "alive\n"


def test_interrupt_while_waiting_for_input(bash):
    msg_id = bash.send("read -p 'never: ' x", allow_stdin=True)
    assert bash.kc.stdin_channel.get_msg(timeout=20)["content"]["prompt"] == "never: "
    bash.km.interrupt_kernel()
    assert bash.collect(msg_id).error["ename"] == "KeyboardInterrupt"
    assert bash.run("read y; echo $y", answers=["next"]).stdout == "next\n"


def test_interrupt_by_message(kernel_dir):
    session = Session(kernel_dir, "bash-message")
    try:
        result = session.run("echo started; sleep 100", until=session.interrupt_when("started"))
        assert result.error["ename"] == "KeyboardInterrupt"
        assert session.run("echo ok").stdout == "ok\n"
    finally:
        session.close()


def _wait_for(session: Session, msg_id: str, msg_type: str, state: str | None = None) -> None:
    """Wait for an iopub message of request `msg_id`; keep everything for its `collect`."""
    deadline = time.monotonic() + 20
    while True:
        msg = session.kc.iopub_channel.get_msg(timeout=max(0.001, deadline - time.monotonic()))
        parent = msg["parent_header"].get("msg_id")
        if parent:
            session._stash.setdefault(parent, []).append(("iopub", msg))
        if parent == msg_id and msg["msg_type"] == msg_type and \
                state in (None, msg["content"].get("execution_state")):
            return


# Moments, after the cell's execute_input, at which the interrupt is sent: at once, and after a
# few milliseconds (the kernel is then writing the cell, sending it to bash, or bash is starting
# `sleep`). A pause here chooses the moment; it synchronizes nothing.
MOMENTS = (0, 0, 0.0005, 0.001, 0.002, 0.004)


@pytest.mark.parametrize("kernel", ["bash", "bash-message"])
def test_an_interrupt_at_any_moment_of_a_cell_ends_it(kernel_dir, kernel):
    session = Session(kernel_dir, kernel)
    try:
        for i in range(50):
            msg_id = session.send("sleep 30", stop_on_error=False)
            _wait_for(session, msg_id, "execute_input")
            if MOMENTS[i % len(MOMENTS)]:
                time.sleep(MOMENTS[i % len(MOMENTS)])
            session.km.interrupt_kernel()
            result = session.collect(msg_id, timeout=10)  # not the 30 s of the sleep
            assert result.error["ename"] == "KeyboardInterrupt", (i, result.msgs)
        assert session.run("echo alive").stdout == "alive\n"
    finally:
        session.close()


def test_exit_starts_a_new_bash_with_a_notice(fresh_bash):
    fresh_bash.run("lost=1; cd /")
    result = fresh_bash.run("exit 3")
    assert result.error["ename"] == "ExitStatus"
    assert "a new bash has started" in result.stderr
    after = fresh_bash.run('echo "[${lost-}]"; pwd')
    assert after.stdout.startswith("[]\n") and after.stdout != "[]\n/\n"
    assert fresh_bash.run("exit").status == "ok"
    assert fresh_bash.run("echo again").stdout == "again\n"


def test_a_killed_shell_is_replaced(fresh_bash):
    during = fresh_bash.run("kill -9 $$")
    assert during.error["traceback"] == ["exit status 137 (killed by SIGKILL)"]
    assert "a new bash has started" in during.stderr
    pid = int(fresh_bash.run("echo $$").stdout)
    gone = os.pidfd_open(pid)
    os.kill(pid, signal.SIGKILL)
    select.select([gone], [], [])
    os.close(gone)
    between = fresh_bash.run("echo back")
    assert between.stdout == "back\n" and between.status == "ok"
    assert "a new bash has started" in between.stderr


def test_bash_history_file_is_left_alone(fresh_bash, kernel_dir):
    home = fresh_bash.run('echo "$HOME"').stdout.strip()
    fresh_bash.run("echo something; exit")
    assert fresh_bash.run(f"ls -A {home}").stdout == ""


# ---- what users do to their shell ------------------------------------------------------------


def test_prompt_settings_do_not_leak_or_slow_down(fresh_bash):
    setup = fresh_bash.run("PS1='$(echo PS1-RAN >&2)> '; PS0='PS0-RAN'\n"
                           "PROMPT_COMMAND='echo PROMPT-RAN; echo PROMPT-RAN >&2'")
    assert setup.status == "ok"
    result = fresh_bash.run("echo one")
    assert (result.stdout, result.stderr) == ("one\n", "")
    assert fresh_bash.run('echo "$PS1|$PS0|$PROMPT_COMMAND"').stdout == \
        "$(echo PS1-RAN >&2)> |PS0-RAN|echo PROMPT-RAN; echo PROMPT-RAN >&2\n"
    activated = fresh_bash.run('PS1="(env) $PS1"; echo "$PS1"')
    assert activated.stdout == "(env) $(echo PS1-RAN >&2)> \n"


def test_set_x_traces_only_the_cells_commands(fresh_bash):
    fresh_bash.run("set -x")
    result = fresh_bash.run("echo traced")
    assert result.stdout == "traced\n"
    assert result.stderr == "++ echo traced\n"  # one + more than a terminal: the cell is eval'd
    fresh_bash.run("set +x")
    assert fresh_bash.run("echo quiet").stderr == ""


def test_set_e_ends_the_cell_not_the_shell(fresh_bash):
    result = fresh_bash.run("kept=1\nset -e\nfalse\necho not reached")
    assert result.error["ename"] == "ExitStatus" and result.reply["content"]["evalue"] == "1"
    assert "not reached" not in result.stdout
    in_function = fresh_bash.run("f() { (exit 4); echo not reached; }\nf")
    assert in_function.reply["content"]["evalue"] == "4"
    assert in_function.stdout == ""
    tolerated = fresh_bash.run("false || echo handled\nif false; then :; fi\necho $kept")
    assert tolerated.stdout == "handled\n1\n"
    assert "a new bash" not in tolerated.stderr
    assert fresh_bash.run("set +e; false; echo $- | grep -c e").stdout == "0\n"


def test_set_e_then_a_failing_command_in_the_next_cell(fresh_bash):
    assert fresh_bash.run("kept=1\nset -e", timeout=10).status == "ok"
    failed = fresh_bash.run("false\necho not reached", timeout=10)
    assert failed.reply["content"]["evalue"] == "1" and failed.stdout == ""
    assert fresh_bash.run("ls /no/such/dir", timeout=10).status == "error"
    assert fresh_bash.run("echo $kept", timeout=10).stdout == "1\n"


def test_bash_exiting_under_set_e_ends_the_cell_and_a_fresh_bash_runs_the_next(fresh_bash):
    fresh_bash.run("kept=1")
    # the user's own ERR trap, set after `set -e`, lets errexit end bash itself
    result = fresh_bash.run("set -e; trap 'echo bye' ERR; false; echo not reached", timeout=10)
    assert result.error["ename"] == "ExitStatus" and result.reply["content"]["evalue"] == \
        "bash exited with status 1"
    assert result.stdout == "bye\n" and "a new bash has started" in result.stderr
    assert "job control" not in result.stderr  # the new bash's start-up chatter is not the cell's
    after = fresh_bash.run('echo "[${kept-}] $-"', timeout=10)
    assert after.stdout.startswith("[] ") and "e" not in after.stdout.split()[1]
    assert fresh_bash.run("false", timeout=10).status == "error"
    assert fresh_bash.run("echo again", timeout=10).stdout == "again\n"


def test_nounset_and_pipefail_do_not_break_the_kernel(fresh_bash):
    assert fresh_bash.run("set -u -o pipefail\nshopt -s nullglob failglob").status == "ok"
    assert fresh_bash.run("echo fine").stdout == "fine\n"
    assert fresh_bash.run("echo $undefined_thing").status == "error"
    assert fresh_bash.run("echo still").stdout == "still\n"


def test_traps_and_noclobber(fresh_bash, tmp_path):
    fresh_bash.run(f"cd {tmp_path}; set -o noclobber; trap 'echo bye' EXIT; "
                   "trap 'echo caught' USR1")
    assert fresh_bash.run("kill -USR1 $$; echo next").stdout == "caught\nnext\n"
    assert fresh_bash.run("echo done").stdout == "done\n"
    assert fresh_bash.run(f"printf '%s' '{SVG}' > p.svg; display p.svg").status == "ok"


def test_user_functions_named_like_builtins(fresh_bash):
    fresh_bash.run("printf() { echo hijacked; }; eval() { echo hijacked; }; "
                   "cat() { echo hijacked; }")
    assert fresh_bash.run("echo plain").stdout == "plain\n"
    assert fresh_bash.run("echo '<b>x</b>' | display --mime text/html").status == "ok"


# ---- completion, inspection, is_complete -----------------------------------------------------


def test_complete_commands_functions_and_aliases(bash):
    bash.run("my_helper_fn() { :; }; alias my_alias_x=true")
    assert bash.complete("my_helper")["matches"] == ["my_helper_fn"]
    assert bash.complete("ls; my_alias")["matches"] == ["my_alias_x"]
    reply = bash.complete("sudo compg")
    assert reply["matches"] == ["compgen"] and reply["cursor_start"] == 5
    assert not any(m.startswith("__pk") for m in bash.complete("__")["matches"])


def test_complete_files_and_directories(bash, workdir):
    (workdir / "data file.txt").write_text("x")
    (workdir / "datadir").mkdir()
    reply = bash.complete("cat da")
    assert reply["matches"] == ["data\\ file.txt", "datadir/"]
    assert reply["cursor_start"] == 4
    assert bash.complete("cat datadir/")["matches"] == []
    assert bash.complete("X=da")["matches"] == ["data\\ file.txt", "datadir/"]


def test_complete_variables(bash):
    bash.run("MY_SPECIAL_VAR=1")
    assert bash.complete("echo $MY_SPEC")["matches"] == ["$MY_SPECIAL_VAR"]
    assert bash.complete('echo "${MY_SPEC')["matches"] == ["${MY_SPECIAL_VAR}"]


def test_complete_while_a_cell_runs_still_finds_files(bash, workdir):
    (workdir / "busyfile").write_text("")
    sid = bash.request("create_subshell_request", {}, channel="control")["subshell_id"]
    try:
        msg_id = bash.send("echo waiting; sleep 100")
        bash.wait_output(msg_id, "waiting")
        reply = bash.request("complete_request", {"code": "cat busy", "cursor_pos": 8},
                             subshell_id=sid)
        assert reply["matches"] == ["busyfile"]
        bash.km.interrupt_kernel()
        assert bash.collect(msg_id).error["ename"] == "KeyboardInterrupt"
    finally:
        bash.request("delete_subshell_request", {"subshell_id": sid}, channel="control")


def test_inspect_builtins_functions_and_commands(bash):
    echo = bash.inspect("echo hi", cursor_pos=2)
    assert echo["found"] and "echo is a shell builtin" in echo["data"]["text/plain"]
    assert "Write arguments to the standard output" in echo["data"]["text/plain"]
    bash.run("shout() { echo LOUD; }")
    assert "echo LOUD" in bash.inspect("shout")["data"]["text/plain"]
    ls = bash.inspect("ls")["data"]["text/plain"]
    assert "ls is /" in ls
    assert bash.inspect("no_such_thing_here")["found"] is False
    bash.run("PLANET=earth")
    assert 'PLANET="earth"' in bash.inspect("echo $PLANET")["data"]["text/plain"]


@pytest.mark.parametrize("code", [
    "if true; then", "for i in 1 2; do", "while true; do\n  echo", "case $x in", "echo 'abc",
    'echo "abc', "cat <<EOF\nline", "echo a \\", "echo a |", "f() {", "echo $(( 1 +"])
def test_is_complete_incomplete(bash, code):
    assert bash.is_complete(code)["status"] == "incomplete"


@pytest.mark.parametrize("code", ["fi", "echo )", "done", "if then fi", "case in esac"])
def test_is_complete_invalid(bash, code):
    assert bash.is_complete(code)["status"] == "invalid"


def test_is_complete_complete_and_indent(bash):
    assert bash.is_complete("echo hi")["status"] == "complete"
    assert bash.is_complete("if true; then\n  echo x\nfi")["status"] == "complete"
    assert bash.is_complete("for i in 1; do") == {"status": "incomplete", "indent": "  "}
    assert bash.is_complete("if true; then\n    echo x") == {"status": "incomplete",
                                                             "indent": "    "}


# ---- display ---------------------------------------------------------------------------------


def test_display_a_png_file(bash, workdir):
    (workdir / "plot.png").write_bytes(PNG)
    result = bash.run("display plot.png")
    [shown] = result.of_type("display_data")
    assert shown["data"]["image/png"] == base64.b64encode(PNG).decode()
    assert "plot.png" in shown["data"]["text/plain"]


def test_display_from_stdin_with_and_without_a_type(bash):
    svg = bash.run(f"printf '%s' '{SVG}' | display --mime image/svg+xml")
    assert svg.of_type("display_data")[0]["data"]["image/svg+xml"] == SVG
    html = bash.run("echo '<!DOCTYPE html><p>hi</p>' | display")
    assert "text/html" in html.of_type("display_data")[0]["data"]
    data = bash.run("echo '{\"a\": [1, 2]}' | display -m application/json")
    assert data.of_type("display_data")[0]["data"]["application/json"] == {"a": [1, 2]}


def test_display_keeps_its_place_among_the_output(bash, workdir):
    (workdir / "p.svg").write_text(SVG)
    result = bash.run("echo before; display p.svg; echo after")
    kinds = [m["msg_type"] if m["msg_type"] != "stream" else m["content"]["text"]
             for m in result.msgs]
    assert kinds == ["before\n", "display_data", "after\n"]


def test_display_with_an_id_and_update(bash, workdir):
    (workdir / "a.svg").write_text(SVG)
    (workdir / "b.html").write_text("<p>two</p>")
    first = bash.run("display --id chart a.svg")
    assert first.of_type("display_data")[0]["transient"] == {"display_id": "chart"}
    second = bash.run("display --update --id chart b.html")
    [update] = second.of_type("update_display_data")
    assert update["transient"] == {"display_id": "chart"}
    assert update["data"]["text/html"] == "<p>two</p>"


def test_display_errors_are_the_commands_errors(bash):
    missing = bash.run("display /no/such/file.png")
    assert missing.status == "error"
    assert "display: /no/such/file.png" in missing.stderr
    assert bash.run("display --bogus").status == "error"
    assert "usage: display" in bash.run("display --help").stdout
    assert bash.run("head -c 64 /dev/urandom | display").status == "error"


def test_subshell_requests_are_run_in_the_same_shell(bash):
    sid = bash.request("create_subshell_request", {}, channel="control")["subshell_id"]
    try:
        bash.run("shared_value=from-main")
        result = bash.run("echo $shared_value", subshell_id=sid)
        assert result.stdout == "from-main\n"
    finally:
        bash.request("delete_subshell_request", {"subshell_id": sid}, channel="control")


# ---- packaging -------------------------------------------------------------------------------


def test_kernelspec_install(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pykernel_bash", "install", "--prefix",
                          str(tmp_path)], capture_output=True, text=True, env=kernel_env())
    assert out.returncode == 0, out.stderr
    spec = json.loads((tmp_path / "share/jupyter/kernels/bash_pykernel/kernel.json").read_text())
    assert spec["display_name"] == "Bash (pykernel)"
    assert spec["language"] == "bash"
    assert spec["argv"][:-2] == launcher_argv("pykernel_bash")
    spec_dir = tmp_path / "share/jupyter/kernels/bash_pykernel"
    for logo in ("logo-32x32.png", "logo-64x64.png", "logo-svg.svg"):
        assert (spec_dir / logo).read_bytes() == (BASH_PACKAGE / "pykernel_bash/resources" / logo).read_bytes()


def test_the_wheel_ships_the_shell_code(tmp_path):
    source = tmp_path / "source"  # a copy: building leaves build/ and *.egg-info behind
    shutil.copytree(BASH_PACKAGE, source, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(source)], check=True,
                   capture_output=True, env=kernel_env())
    [wheel] = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "pykernel_bash/init.bash" in names and "pykernel_bash/kernel.py" in names
    assert {f"pykernel_bash/resources/{logo}" for logo in ("logo-32x32.png", "logo-64x64.png",
                                                           "logo-svg.svg")} <= set(names)
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    assert_licensed(tmp_path / "site", "pykernel_bash")
    metadata = (next((tmp_path / "site").glob("*.dist-info")) / "METADATA").read_text().splitlines()
    assert "Requires-Dist: jupyter-pykernel" in metadata  # the name we publish, not PyPI's "pykernel"


# ---- the shell's processes end with the kernel ---------------------------------------------


def _pids(session: Session, code: str) -> list[int]:
    result = session.run(code)
    assert result.status == "ok", result.stderr
    return [int(word) for word in result.stdout.split()]


def test_shutdown_ends_the_shell_and_jobs_that_ignore_hangups(kernel_dir):
    session = Session(kernel_dir, "bash")
    try:
        pids = _pids(session, "nohup sleep 300 >/dev/null 2>&1 &\n"
                              "(trap '' HUP INT TERM; sleep 301) &\necho $$ $!")
    finally:
        session.close()
    for pid in pids:
        assert wait_pid_exit(pid), f"process {pid} outlived the kernel"


def test_a_killed_kernel_takes_its_busy_shell_along(kernel_dir):
    session = Session(kernel_dir, "bash")
    try:
        [shell, job] = _pids(session, "nohup sleep 300 >/dev/null 2>&1 &\necho $$ $!")
        msg_id = session.send("echo spinning; while :; do :; done")
        session.wait_output(msg_id, "spinning")
        session.km.signal_kernel(signal.SIGKILL)  # the kernel cleans up nothing itself
    finally:
        session.kc.stop_channels()
        session.km.shutdown_kernel(now=True)  # collects the dead process
    assert wait_pid_exit(shell), "the shell outlived its killed kernel"
    assert wait_pid_exit(job), "a background job outlived its killed kernel"


def test_display_a_jpeg_by_its_content(bash, workdir):
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(64))
    (workdir / "photo.bin").write_bytes(jpeg)
    [shown] = bash.run("display photo.bin").of_type("display_data")
    assert shown["data"]["image/jpeg"] == base64.b64encode(jpeg).decode()


def test_completion_and_inspection_leave_the_shells_state_alone(fresh_bash):
    assert fresh_bash.run("set -u\n(exit 3)").status == "error"
    assert fresh_bash.complete("ech")["matches"] == ["echo"]
    assert fresh_bash.inspect("echo")["found"]
    assert fresh_bash.complete("cat /e")["matches"] == ["/etc/"]
    status, flags = fresh_bash.run('echo "$? $-"').stdout.split()
    assert status == "3" and "u" in flags


def test_sigterm_to_a_busy_kernel_ends_its_shell_and_jobs(kernel_dir):
    session = Session(kernel_dir, "bash")
    try:
        [shell, job] = _pids(session, "(trap '' HUP INT TERM; sleep 302) &\necho $$ $!")
        msg_id = session.send("echo busy; sleep 303")
        session.wait_output(msg_id, "busy")
        session.km.signal_kernel(signal.SIGTERM)
        assert wait_pid_exit(session.km.provisioner.process.pid), "the kernel ignored SIGTERM"
    finally:
        session.kc.stop_channels()
        session.km.shutdown_kernel(now=True)
    assert wait_pid_exit(shell) and wait_pid_exit(job)
