"""JupyterLab on a server with the jupyter_server_nodelay extension behaves as on a stock server.

Every test runs twice, in the same browser: on the session's stock server and on a second server
with the extension on. The extension only changes when the server's TCP stack sends the kernel's
websocket frames; cells, output, widgets, stdin and interrupts must not notice.
"""

import importlib.util

import pytest

from .conftest import notebook_opener
from .kernels import cannot_run
from .lab import expect

KERNEL = "pykernel"
LOADED = "TCP_NODELAY on kernel websockets"  # jupyter_server_nodelay.LOADED


@pytest.fixture(params=["stock", "nodelay"])
def server(request, frontend):
    stock, _ = frontend
    if request.param == "stock":
        return stock
    if importlib.util.find_spec("jupyter_server_nodelay") is None:
        cannot_run("jupyter_server_nodelay is not installed (pip install -e extensions/jupyter_server_nodelay)")
    return request.getfixturevalue("nodelay_lab")


@pytest.fixture
def nb(request, server, frontend):
    _, context = frontend
    opener = notebook_opener(request, server, context)
    yield next(opener)(KERNEL)
    next(opener, None)


def test_the_server_runs_with_the_extension_or_without(nb):
    assert (LOADED in nb.server.log_tail(1_000_000)) is nb.server.nodelay


def test_cells_show_their_output(nb):
    # Each cell is waited for by its prompt first (generous timeout), then its output is checked.
    expect(nb.run("6 * 7").done().output.locator(".jp-OutputArea-executeResult")).to_contain_text("42")
    cell = nb.run("for i in range(1000):\n    print(i)").done()
    stdout = cell.output.locator('[data-mime-type="application/vnd.jupyter.stdout"]')
    expect(stdout).to_contain_text("999")
    # textContent, not innerText: JupyterLab may leave a long output unrendered while off screen
    assert stdout.text_content().split() == [str(i) for i in range(1000)]  # every line, in order
    error = nb.run("1 / 0").done().output.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    expect(error).to_contain_text("ZeroDivisionError")
    expect(nb.prompt(2)).to_have_text("[3]:")


def test_widget_slider_round_trip(nb):
    cell = nb.run("import ipywidgets\n"
                  "slider = ipywidgets.IntSlider(value=5, min=0, max=10)\n"
                  "label = ipywidgets.Label('kernel has 5')\n"
                  "slider.observe(lambda change: setattr(label, 'value', f'kernel has {change.new}'),"
                  " 'value')\n"
                  "ipywidgets.VBox([slider, label])").done()
    handle = cell.output.locator(".widget-slider .noUi-handle")
    expect(handle).to_be_visible()
    handle.focus()
    for _ in range(3):
        nb.page.keyboard.press("ArrowRight")
    expect(cell.output.locator(".widget-readout")).to_have_text("8")
    expect(cell.output.locator(".jupyter-widgets.widget-label")).to_have_text("kernel has 8")
    expect(nb.run('print("kernel sees", slider.value)').output).to_contain_text("kernel sees 8")


def test_input_answer_reaches_the_kernel(nb):
    cell = nb.run('name = input("Your name? ")\nprint("hello,", name.upper())')
    expect(cell.output).to_contain_text("Your name?")
    nb.stdin.fill("ada")
    nb.stdin.press("Enter")
    expect(cell.output).to_contain_text("hello, ADA")
    cell.done()


def test_stop_button_interrupts(nb):
    cell = nb.run('import time\ntime.sleep(30)\nprint("slept through")')
    expect(nb.kernel_status).to_have_text(f"{nb.display_name} | Busy", timeout=20_000)
    nb.toolbar_button("notebook:interrupt-kernel").click()
    expect(cell.output).to_contain_text("KeyboardInterrupt", timeout=20_000)
    cell.done()
    expect(cell.output.locator('[data-mime-type="application/vnd.jupyter.stdout"]')).to_have_count(0)
    expect(nb.run("print(2 + 2)").output).to_contain_text("4")
