"""The Python kernel in JupyterLab: what a user types and what the page then shows."""

import re

import pytest

from .lab import expect

KERNEL = "pykernel"


@pytest.fixture
def nb(open_notebook):
    return open_notebook(KERNEL)


def test_print_shows_stream_output(nb):
    cell = nb.run('print("hello", 6 * 7)')
    expect(cell.output.locator('[data-mime-type="application/vnd.jupyter.stdout"]')).to_have_text(
        "hello 42")
    expect(cell.prompt).to_have_text("[1]:")


def test_expression_shows_result(nb):
    cell = nb.run("6 * 7")
    expect(cell.output.locator(".jp-OutputArea-executeResult")).to_contain_text("42")
    expect(cell.prompt).to_have_text("[1]:")


def test_matplotlib_plot_is_an_image(nb):
    cell = nb.run("import matplotlib.pyplot as plt\n"
                  "plt.plot([1, 3, 2])\n"
                  "plt.show()")
    image = cell.output.locator(".jp-RenderedImage img")
    expect(image).to_be_visible()
    expect(image).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))


def test_input_shows_stdin_box_and_answer_arrives(nb):
    cell = nb.run('name = input("Your name? ")\n'
                  'print("hello,", name.upper())')
    expect(cell.output).to_contain_text("Your name?")
    nb.stdin.fill("ada")
    nb.stdin.press("Enter")
    expect(cell.output).to_contain_text("hello, ADA")
    cell.done()


def test_widget_slider_moves_and_kernel_sees_it(nb):
    # The label is set by the kernel when it hears of a new value: seeing it change in the page
    # proves the round trip (browser -> comm_msg -> kernel -> comm_msg -> browser).
    cell = nb.run("import ipywidgets\n"
                  "slider = ipywidgets.IntSlider(value=5, min=0, max=10, description='n')\n"
                  "label = ipywidgets.Label('kernel has 5')\n"
                  "slider.observe(lambda change: setattr(label, 'value', f'kernel has {change.new}'),"
                  " 'value')\n"
                  "ipywidgets.VBox([slider, label])")
    handle = cell.output.locator(".widget-slider .noUi-handle")
    expect(handle).to_be_visible()
    expect(cell.output.locator(".widget-readout")).to_have_text("5")
    expect(cell.output.locator(".jupyter-widgets.widget-label")).to_have_text("kernel has 5")
    handle.focus()
    nb.page.keyboard.press("ArrowRight")
    nb.page.keyboard.press("ArrowRight")
    expect(cell.output.locator(".widget-readout")).to_have_text("7")
    expect(cell.output.locator(".jupyter-widgets.widget-label")).to_have_text("kernel has 7")
    check = nb.run('print("kernel sees", slider.value)')
    expect(check.output).to_contain_text("kernel sees 7")


def test_error_shows_traceback(nb):
    cell = nb.run("def f():\n"
                  "    return 1 / 0\n"
                  "f()")
    error = cell.output.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    expect(error).to_contain_text("ZeroDivisionError")
    expect(error).to_contain_text("division by zero")
    expect(error).to_contain_text("return 1 / 0")  # the frame inside f, not only the summary line


@pytest.mark.parametrize("kernel", [KERNEL, "pykernel-message"])  # SIGINT; interrupt_request
def test_stop_button_interrupts_sleep(open_notebook, kernel):
    nb = open_notebook(kernel)
    cell = nb.run("import time\n"
                  "time.sleep(30)\n"
                  'print("slept through")')
    expect(nb.kernel_status).to_have_text(f"{nb.display_name} | Busy")
    nb.toolbar_button("notebook:interrupt-kernel").click()
    expect(cell.output).to_contain_text("KeyboardInterrupt", timeout=20_000)
    cell.done()
    expect(cell.output.locator('[data-mime-type="application/vnd.jupyter.stdout"]')).to_have_count(0)
    # The kernel survived the interrupt and runs the next cell.
    expect(nb.run("print(2 + 2)").output).to_contain_text("4")


def test_interrupt_traceback_shows_only_user_code(nb):
    """A KeyboardInterrupt's traceback ends in the user's cell, as for any other exception: the
    kernel's own signal handling is not the user's code and must not appear in it."""
    cell = nb.run("import time\ntime.sleep(30)")
    expect(nb.kernel_status).to_have_text(f"{nb.display_name} | Busy")
    nb.toolbar_button("notebook:interrupt-kernel").click()
    error = cell.output.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    expect(error).to_contain_text("KeyboardInterrupt", timeout=20_000)
    expect(error).to_contain_text("time.sleep(30)")
    expect(error).not_to_contain_text("pykernel")


def test_tab_completion_offers_module(nb):
    nb.tab_complete(0, "import o")
    choice = nb.completer.locator('.jp-Completer-item[data-value="os"]')
    expect(choice).to_be_visible()
    choice.click()
    expect(nb.cell(0).locator(".cm-content")).to_have_text("import os")


def test_question_mark_shows_docstring(nb):
    cell = nb.run("len?")
    expect(cell.output).to_contain_text("Return the number of items in a container")


def test_restart_forgets_variables(nb):
    expect(nb.run("answer = 42\nprint(answer)").output).to_contain_text("42")
    nb.toolbar_button("notebook:restart-kernel").click()
    dialog = nb.page.locator(".jp-Dialog")
    dialog.locator("button.jp-mod-accept").click()
    expect(dialog).to_have_count(0)
    nb.wait_idle()
    cell = nb.run("answer")
    expect(cell.output).to_contain_text("NameError")
    expect(cell.prompt).to_have_text("[1]:")  # a new kernel counts from 1 again


def kernel_info(kernel: str) -> dict:
    """kernel_info_reply content from a fresh kernel of spec `kernel` (the same spec the page uses)."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name=kernel, startup_timeout=60)
    try:
        return client.kernel_info(reply=True, timeout=30)["content"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_debugger_stops_at_breakpoint(open_notebook):
    info = kernel_info(KERNEL)
    if "debugger" not in info.get("supported_features", []):
        pytest.skip(f"kernel_info of {KERNEL} does not advertise the debugger (supported_features: "
                    f"{info.get('supported_features')})")
    nb = open_notebook(KERNEL, ["x = 6\ny = x * 7\nprint(y)"])
    expect(nb.debugger_button).to_have_attribute("aria-disabled", "false")
    nb.debugger_button.click()
    expect(nb.debugger_button).to_have_attribute("aria-pressed", "true")
    nb.breakpoint_gutter(0, 2).click()
    # The breakpoints list shows what the kernel confirmed; a cell run before that would not stop.
    expect(nb.debugger.locator(".jp-DebuggerBreakpoint-line")).to_have_text(["2"])
    cell = nb.run_cell(0)
    frame = nb.debugger.locator(".jp-DebuggerCallstackFrame")
    expect(frame.locator(".jp-DebuggerCallstackFrame-location")).to_have_text(re.compile(r":2$"))
    variable = nb.debugger.locator(".jp-DebuggerVariables jp-tree-item").filter(
        has=nb.page.locator(".jp-DebuggerVariables-name", has_text=re.compile(r"^x$")))
    expect(variable.locator(".jp-DebuggerVariables-detail")).to_have_text("6")
    expect(cell.prompt).to_have_text("[*]:")  # stopped, not finished
    expect(cell.output).not_to_contain_text("42")
    nb.debugger_command("debugger:continue").click()
    expect(cell.output.locator('[data-mime-type="application/vnd.jupyter.stdout"]')).to_have_text("42")
    cell.done()
