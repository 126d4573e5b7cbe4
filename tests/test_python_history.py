"""history_request on the Python kernel: tail, range, search, with and without output."""

from __future__ import annotations

import pytest
from pyfixtures import reply_for, run_ok, running_kernel


def history(kc, **kw) -> list:
    kw.setdefault("raw", True)
    kw.setdefault("output", False)
    reply = reply_for(kc, kc.history(**kw))
    assert reply["content"]["status"] == "ok"
    return reply["content"]["history"]


@pytest.fixture(scope="module")
def hkc():
    """A kernel that has run three cells (one twice) and one that stored no history."""
    with running_kernel("pykernel") as (_, kc):
        for code in ("a = 1", "a + 1", "print('hi')", "a + 1"):
            run_ok(kc, code)
        run_ok(kc, "'not stored'", store_history=False)
        yield kc


def test_tail_gives_the_last_n_inputs_of_this_session(hkc):
    entries = history(hkc, hist_access_type="tail", n=3)
    assert [e[2] for e in entries] == ["a + 1", "print('hi')", "a + 1"]
    sessions = {e[0] for e in entries}
    assert len(sessions) == 1 and sessions.pop() > 0
    assert [e[1] for e in entries] == [2, 3, 4]


def test_tail_with_output_pairs_input_and_result(hkc):
    entries = history(hkc, hist_access_type="tail", n=2, output=True)
    assert entries[-1][2] == ["a + 1", "2"]
    assert entries[0][2] == ["print('hi')", None]


def test_range_of_a_session_as_tail_named_it(hkc):
    session = history(hkc, hist_access_type="tail", n=1)[0][0]
    entries = history(hkc, hist_access_type="range", session=session, start=2, stop=3)
    assert entries == [[session, 2, "a + 1"]]
    # session 0 is the current session too
    entries = history(hkc, hist_access_type="range", session=0, start=1, stop=3)
    assert [e[2] for e in entries] == ["a = 1", "a + 1"]


def test_search_with_pattern_unique_and_n(hkc):
    found = history(hkc, hist_access_type="search", pattern="a + *")
    assert [e[2] for e in found].count("a + 1") == 2
    unique = history(hkc, hist_access_type="search", pattern="a + *", unique=True)
    assert [e[2] for e in unique] == ["a + 1"]
    last = history(hkc, hist_access_type="search", pattern="*", n=1)
    assert [e[2] for e in last] == ["a + 1"]


def test_history_magic_sees_the_same_cells(hkc):
    msgs = run_ok(hkc, "%history -n 1-3")
    text = "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream")
    assert "1: a = 1" in text and "3: print('hi')" in text


def test_history_can_live_in_memory():
    with running_kernel("pykernel", extra_arguments=["--HistoryManager.hist_file=:memory:"]
                        ) as (_, kc):
        run_ok(kc, "x = 'memory'")
        [entry] = history(kc, hist_access_type="tail", n=1)
        assert entry[2] == "x = 'memory'"
        [result] = run_ok(kc, "get_ipython().history_manager.hist_file")
        assert result["content"]["data"]["text/plain"] == "':memory:'"
