"""matplotlib in the Python kernel: inline figures by default, loaded only when used; ipympl."""

from __future__ import annotations

import base64

import pytest
from pyfixtures import run_ok, stdout_of

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def displays(msgs: list[dict]) -> list[dict]:
    return [m for m in msgs if m["msg_type"] == "display_data"]


def test_a_plot_is_shown_as_png_at_the_end_of_the_cell(fresh_pykernel):
    _, kc = fresh_pykernel
    [result] = run_ok(kc, "import sys\n'matplotlib' in sys.modules")
    assert result["content"]["data"]["text/plain"] == "False"
    msgs = run_ok(kc, "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nprint('drawn')")
    kinds = [m["msg_type"] for m in msgs]
    assert kinds[0] == "stream" and kinds[-1] == "display_data"  # the figure comes after the cell
    [figure] = displays(msgs)
    assert base64.b64decode(figure["content"]["data"]["image/png"]).startswith(PNG_MAGIC)
    assert "text/plain" in figure["content"]["data"]
    # the figure was closed: the next cell shows nothing
    assert run_ok(kc, "1;") == []
    [backend] = run_ok(kc, "import matplotlib\nmatplotlib.get_backend()")
    assert "inline" in backend["content"]["data"]["text/plain"]


def test_plt_show_shows_now(fresh_pykernel):
    _, kc = fresh_pykernel
    msgs = run_ok(kc, "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\nprint('after')")
    assert [m["msg_type"] for m in msgs] == ["display_data", "stream"]


def test_matplotlib_inline_magic_and_svg_format(fresh_pykernel):
    _, kc = fresh_pykernel
    run_ok(kc, "%matplotlib inline")
    run_ok(kc, "%config InlineBackend.figure_formats = ['svg']")
    [figure] = displays(run_ok(kc, "import matplotlib.pyplot as plt\nplt.plot([1, 2])"))
    assert "<svg" in figure["content"]["data"]["image/svg+xml"]
    assert "image/png" not in figure["content"]["data"]


def test_config_before_matplotlib_is_imported_applies_later(fresh_pykernel):
    _, kc = fresh_pykernel
    run_ok(kc, "%config InlineBackend.figure_formats = ['svg']")
    [figure] = displays(run_ok(kc, "import matplotlib.pyplot as plt\nplt.plot([1, 2])"))
    assert "image/svg+xml" in figure["content"]["data"]


def test_figure_object_as_the_cell_result(fresh_pykernel):
    _, kc = fresh_pykernel
    msgs = run_ok(kc, "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nplt.close(fig)\nfig")
    [result] = [m for m in msgs if m["msg_type"] == "execute_result"]
    assert base64.b64decode(result["content"]["data"]["image/png"]).startswith(PNG_MAGIC)


def test_matplotlib_widget_backend_opens_a_canvas_widget(fresh_pykernel):
    pytest.importorskip("ipympl")
    _, kc = fresh_pykernel
    run_ok(kc, "%matplotlib widget")
    msgs = run_ok(kc, "import matplotlib.pyplot as plt\nfig = plt.figure()\nplt.plot([1, 2])")
    models = [m["content"]["data"]["state"]["_model_name"] for m in msgs
              if m["msg_type"] == "comm_open"]
    assert "MPLCanvasModel" in models
    [shown] = displays(msgs)  # the canvas widget's view (with a static image for saved notebooks)
    assert "application/vnd.jupyter.widget-view+json" in shown["content"]["data"]


def test_gui_event_loops_are_refused_clearly(kc):
    msgs = run_ok(kc, "%gui qt")
    assert "no 'qt' event loop integration" in stdout_of(msgs, "stderr")
