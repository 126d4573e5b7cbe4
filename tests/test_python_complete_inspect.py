"""complete, inspect and is_complete on the Python kernel."""

from __future__ import annotations

import re
import time

import pytest
from pyfixtures import TIMEOUT, execute, reply_for, request, run_ok

TYPES = "_jupyter_types_experimental"


def complete(kc, code: str, cursor_pos: int | None = None) -> dict:
    reply = reply_for(kc, kc.complete(code, cursor_pos))
    assert reply["content"]["status"] == "ok"
    return reply["content"]


def inspect(kc, code: str, cursor_pos: int | None = None, detail_level: int = 0) -> dict:
    reply = reply_for(kc, kc.inspect(code, cursor_pos, detail_level))
    assert reply["content"]["status"] == "ok"
    return reply["content"]


def test_module_names_complete_after_import(kc):
    content = complete(kc, "import o")
    assert "os" in content["matches"]
    assert (content["cursor_start"], content["cursor_end"]) == (7, 8)


def test_attributes_complete_with_types_and_signatures(kc):
    run_ok(kc, "class Thing:\n    def method(self, a, b=2): pass\n    value = 1\nthing = Thing()")
    content = complete(kc, "thing.m")
    assert content["matches"] == ["method"]
    assert (content["cursor_start"], content["cursor_end"]) == (6, 7)
    [entry] = content["metadata"][TYPES]
    assert entry["text"] == "method" and entry["type"] == "function"
    assert entry["start"] == 6 and entry["end"] == 7
    assert "a, b=2" in entry["signature"]


def test_positions_count_code_points_not_bytes_or_utf16(kc):
    # 'é' is 2 bytes in UTF-8 and '😀' 2 UTF-16 units: each is one code point
    run_ok(kc, "héllo_value = 2")
    code = "x = '😀é'; héllo_v"
    content = complete(kc, code)
    assert content["matches"] == ["héllo_value"]
    assert content["cursor_end"] == len(code)
    assert content["cursor_start"] == len(code) - len("héllo_v")


def test_completion_in_the_middle_of_the_code(kc):
    run_ok(kc, "import collections")
    code = "collections.Ord\nprint(1)"
    content = complete(kc, code, cursor_pos=len("collections.Ord"))
    assert "OrderedDict" in content["matches"]
    assert content["cursor_start"] == len("collections.")


def test_nothing_to_complete(kc):
    content = complete(kc, "zzz_no_such_name_")
    assert content["matches"] == []
    assert content["cursor_start"] == content["cursor_end"] == len("zzz_no_such_name_")


def test_magics_complete(kc):
    assert "%timeit" in complete(kc, "%timei")["matches"]


def test_inspect_finds_an_object(kc):
    run_ok(kc, "def documented(x):\n    '''Doubles x.'''\n    return 2 * x")
    content = inspect(kc, "documented(")
    assert content["found"] is True
    assert "Doubles x." in content["data"]["text/plain"]
    assert "text/html" in content["data"]
    detailed = inspect(kc, "documented", detail_level=1)
    assert "return 2 * x" in re.sub(r"\x1b\[[0-9;]*m", "", detailed["data"]["text/plain"])


def test_inspect_uses_the_token_at_the_cursor(kc):
    content = inspect(kc, "len([1, 2])", cursor_pos=2)
    assert content["found"] and "Return the number of items" in content["data"]["text/plain"]


def test_inspect_unknown_name(kc):
    content = inspect(kc, "no_such_thing_anywhere")
    assert content["found"] is False
    assert content["data"] == {}


@pytest.mark.parametrize("code, status, indent", [
    ("x = 1", "complete", None),
    ("for i in range(3):", "incomplete", "    "),
    ("def f():\n    if x:", "incomplete", "        "),
    ("x = (1,", "incomplete", ""),
    ("%%bash\necho", "incomplete", ""),
    ("x = )", "invalid", None),
    ("1 +* 2", "invalid", None),
    ("%time x = 1", "complete", None),
])
def test_is_complete(kc, code, status, indent):
    reply = reply_for(kc, kc.is_complete(code))
    assert reply["content"]["status"] == status
    if indent is not None:
        assert reply["content"]["indent"] == indent


def test_the_completer_is_warmed_once_the_first_cell_has_run(fresh_pykernel):
    _, kc = fresh_pykernel
    before = "import sys\n'jedi' in sys.modules"
    assert run_ok(kc, before)[0]["content"]["data"]["text/plain"] == "False"
    deadline = time.monotonic() + TIMEOUT
    while True:  # the warm-up runs while the kernel is idle: look now and then, from outside
        reply, _ = execute(kc, "", silent=True, store_history=False,
                           user_expressions={"done": "get_ipython().kernel.warmup.done"})
        if reply["content"]["user_expressions"]["done"]["data"]["text/plain"] == "True":
            break
        assert time.monotonic() < deadline, "the completer was not warmed"
        time.sleep(0.05)
    assert run_ok(kc, before)[0]["content"]["data"]["text/plain"] == "True"
    reply = request(kc, "complete_request", {"code": "import o", "cursor_pos": 8})
    assert "os" in reply["content"]["matches"]
