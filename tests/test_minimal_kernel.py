"""examples/minimal_kernel.py, the example of docs/write-a-kernel.md, as a real kernel process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from pykernel.kernelspec import launcher_argv
from wrapfixtures import ROOT, Session, kernel_env

pytestmark = pytest.mark.timeout(60)

EXAMPLES = str(ROOT / "examples")


@pytest.fixture(scope="module")
def sqlite(kernel_dir):
    session = Session(kernel_dir, "minimal")
    try:
        yield session
    finally:
        session.close()


def test_a_cell_runs_and_its_rows_are_the_result(sqlite):
    info = sqlite.request("kernel_info_request", {})
    assert info["implementation"] == "sqlite" and info["language_info"]["name"] == "sql"
    created = sqlite.run("CREATE TABLE planets (name TEXT, moons INT);\n"
                         "INSERT INTO planets VALUES ('Mars', 2), ('Earth; home', 1);")
    assert created.status == "ok" and created.result is None
    result = sqlite.run("SELECT name, moons FROM planets ORDER BY moons")
    assert result.result["text/plain"] == "name | moons\nEarth; home | 1\nMars | 2"
    assert "<td>Earth; home</td>" in result.result["text/html"]


def test_an_sql_error_is_an_error_reply(sqlite):
    result = sqlite.run("SELECT * FROM no_such_table")
    content = result.reply["content"]
    assert content["status"] == "error"
    assert content["ename"] == "OperationalError"
    assert "no such table" in content["evalue"]
    assert sqlite.run("SELECT 1 + 1").result["text/plain"] == "1 + 1\n2"


def test_completion_and_is_complete(sqlite):
    sqlite.run("CREATE TABLE stars (name TEXT)")
    reply = sqlite.complete("SELECT * FROM st")
    assert reply["matches"] == ["stars"]
    assert reply["cursor_start"] == len("SELECT * FROM ")
    assert sqlite.complete("sel")["matches"] == ["SELECT"]
    assert sqlite.is_complete("SELECT 1")["status"] == "incomplete"
    assert sqlite.is_complete("SELECT 1;")["status"] == "complete"


COUNT_TO_1E9 = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
               "WHERE x < 1000000000) SELECT count(*) FROM c")


def test_ctrl_c_stops_a_long_query(sqlite):
    """The query runs in one C call; `interrupt()` (db.interrupt) is called on a thread of its own
    at once, so the query ends with SQLite's "interrupted" instead of running to its end (many
    seconds). An interrupt before the cell starts ends it as it starts (KeyboardInterrupt), so the
    test waits for execute_input; it cannot see when the query itself has begun, and an interrupt
    just before that is a no-op for SQLite: it interrupts again until the reply is in."""
    msg_id = sqlite.send(COUNT_TO_1E9)
    deadline = time.monotonic() + 10  # the query alone takes far longer than this
    while True:
        msg = sqlite.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        if (msg["msg_type"] == "execute_input"
                and msg["parent_header"].get("msg_id") == msg_id):
            break
    while True:
        sqlite.km.interrupt_kernel()
        if sqlite.kc.shell_channel.socket.poll(500):  # the reply is in (nothing else is asked)
            break
        assert time.monotonic() < deadline, "the query was not interrupted"
    content = sqlite.collect(msg_id).reply["content"]
    assert content["status"] == "error"
    assert (content["ename"], content["evalue"]) == ("OperationalError", "interrupted")
    assert sqlite.run("SELECT 6 * 7").result["text/plain"] == "6 * 7\n42"


def test_install_its_kernelspec(tmp_path):
    env = kernel_env()
    env["PYTHONPATH"] = os.pathsep.join([EXAMPLES, env["PYTHONPATH"]])
    out = subprocess.run([sys.executable, "-m", "minimal_kernel", "install", "--prefix",
                          str(tmp_path)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    spec = json.loads((tmp_path / "share/jupyter/kernels/sqlite/kernel.json").read_text())
    assert spec["argv"][:-2] == launcher_argv("minimal_kernel")
    assert spec["display_name"] == "SQLite" and spec["language"] == "sql"


def test_the_guide_shows_this_very_file():
    guide = (ROOT / "docs" / "write-a-kernel.md").read_text()
    example = (ROOT / "examples" / "minimal_kernel.py").read_text()
    assert f"```python\n{example}```" in guide
    assert len(example.splitlines()) <= 50
