"""Rich display from the Python kernel: display_data, display ids, updates, clear_output."""

from __future__ import annotations

import base64

from pyfixtures import execute, iopub_for, run_ok


def only(msgs: list[dict], msg_type: str) -> list[dict]:
    return [m for m in msgs if m["msg_type"] == msg_type]


def test_display_publishes_every_representation(kc):
    [msg] = run_ok(kc, "from IPython.display import HTML\ndisplay(HTML('<b>hi</b>'))")
    assert msg["msg_type"] == "display_data"
    data = msg["content"]["data"]
    assert data["text/html"] == "<b>hi</b>"
    assert data["text/plain"] == "<IPython.core.display.HTML object>"
    assert msg["content"]["transient"] == {}


def test_rich_result_is_an_execute_result_with_mime_data(kc):
    code = ("class Rich:\n"
            "    def _repr_markdown_(self):\n        return '**md**'\n"
            "    def _repr_json_(self):\n        return {'a': 1}, {'expanded': True}\n"
            "Rich()")
    [msg] = run_ok(kc, code)
    assert msg["msg_type"] == "execute_result"
    assert msg["content"]["data"]["text/markdown"] == "**md**"
    assert msg["content"]["data"]["application/json"] == {"a": 1}
    assert msg["content"]["metadata"] == {"application/json": {"expanded": True}}


def test_mimebundle_latex_metadata_and_transient(kc):
    code = ("class Bundle:\n"
            "    def _repr_mimebundle_(self, include=None, exclude=None):\n"
            "        return ({'text/plain': 'b', 'application/x-custom': {'k': 1}},\n"
            "                {'application/x-custom': {'big': True}})\n"
            "from IPython.display import Math, Latex\n"
            "display(Bundle())\n"
            "display(Math(r'\\alpha'))\n"
            "display(Latex(r'$x^2$'), metadata={'note': 'n'}, transient={'display_id': 'eq'})")
    bundle, math, latex = only(run_ok(kc, code), "display_data")
    assert bundle["content"]["data"] == {"text/plain": "b", "application/x-custom": {"k": 1}}
    assert bundle["content"]["metadata"] == {"application/x-custom": {"big": True}}
    assert math["content"]["data"]["text/latex"] == "$\\displaystyle \\alpha$"
    assert latex["content"]["data"]["text/latex"] == "$x^2$"
    assert latex["content"]["metadata"] == {"note": "n"}
    assert latex["content"]["transient"] == {"display_id": "eq"}


def test_png_is_base64_text(kc):
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
    [msg] = run_ok(kc, f"from IPython.display import Image\ndisplay(Image(data={png!r}))")
    assert base64.b64decode(msg["content"]["data"]["image/png"]) == png


def test_display_id_and_update(kc):
    code = ("h = display('one', display_id='counter')\n"
            "h.update('two')\n"
            "from IPython.display import update_display\n"
            "update_display('three', display_id='counter')")
    msgs = run_ok(kc, code)
    assert [m["msg_type"] for m in msgs] == ["display_data", "update_display_data",
                                            "update_display_data"]
    assert all(m["content"]["transient"] == {"display_id": "counter"} for m in msgs)
    assert [m["content"]["data"]["text/plain"] for m in msgs] == ["'one'", "'two'", "'three'"]


def test_update_from_a_later_cell_belongs_to_that_cell(kc):
    run_ok(kc, "h = display('x', display_id=True)")
    [msg] = run_ok(kc, "h.update('y')")
    assert msg["msg_type"] == "update_display_data"
    assert msg["content"]["transient"]["display_id"]


def test_clear_output(kc):
    msgs = run_ok(kc, "from IPython.display import clear_output\n"
                      "print('gone')\nclear_output(wait=True)\nclear_output()")
    assert [m["msg_type"] for m in msgs] == ["stream", "clear_output", "clear_output"]
    assert [m["content"]["wait"] for m in msgs[1:]] == [True, False]


def test_display_from_a_thread_of_a_finished_cell_goes_to_the_running_cell(kc):
    started = kc.execute("import threading\n"
                         "go = threading.Event()\n"
                         "t = threading.Thread(target=lambda: (go.wait(), display('late')))\n"
                         "t.start()")
    iopub_for(kc, started)
    _, msgs = execute(kc, "go.set(); t.join()")
    [msg] = only(msgs, "display_data")
    assert msg["content"]["data"]["text/plain"] == "'late'"


def test_semicolon_silences_the_result(kc):
    assert run_ok(kc, "1 + 1;") == []


def test_error_while_formatting_a_result(kc):
    code = ("class Bad:\n"
            "    def _repr_html_(self):\n        raise ValueError('no html')\n"
            "Bad()")
    reply, msgs = execute(kc, code)
    # IPython shows the formatter's error and still shows the plain repr
    assert only(msgs, "execute_result")
    assert "no html" in "".join(m["content"].get("text", "") + str(m["content"])
                                for m in msgs if m["msg_type"] in ("stream", "error"))
