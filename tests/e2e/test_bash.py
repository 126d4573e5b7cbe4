"""The bash kernel (examples/bash_kernel) in JupyterLab."""

import base64
import struct
import zlib

import pytest

from .lab import expect


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A one-colour PNG, built by hand so the test needs no imaging library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture
def nb(open_notebook, bash_kernel):
    return open_notebook(bash_kernel)


def test_echo_output(nb):
    cell = nb.run('greeting=hello\necho "$greeting from bash"')
    expect(cell.output.locator('[data-mime-type="application/vnd.jupyter.stdout"]')).to_have_text(
        "hello from bash")
    expect(cell.prompt).to_have_text("[1]:")


def test_failing_command_shows_error(nb):
    cell = nb.run("ls /no/such/dir")
    errors = cell.output.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    expect(errors.first).to_contain_text("No such file or directory")
    cell.done()
    # The state survives a failed command: the next cell runs.
    expect(nb.run("echo still here").output).to_contain_text("still here")


def test_stop_button_interrupts_sleep(nb):
    cell = nb.run("sleep 30\necho slept through")
    expect(nb.kernel_status).to_have_text(f"{nb.display_name} | Busy")
    nb.toolbar_button("notebook:interrupt-kernel").click()
    expect(cell.output).to_contain_text("KeyboardInterrupt", timeout=20_000)
    cell.done()
    expect(cell.output).not_to_contain_text("slept through")
    expect(nb.run("echo alive").output).to_contain_text("alive")


def test_read_takes_stdin_box(nb):
    cell = nb.run('read -p "Your name? " name\necho "hello, ${name^^}"')
    expect(nb.stdin).to_be_visible()
    expect(cell.output).to_contain_text("Your name?")
    nb.stdin.fill("ada")
    nb.stdin.press("Enter")
    expect(cell.output).to_contain_text("hello, ADA")
    cell.done()


def test_tab_completes_command(nb):
    nb.tab_complete(0, "shop")
    choice = nb.completer.locator('.jp-Completer-item[data-value="shopt"]')
    expect(choice).to_be_visible()
    choice.click()
    expect(nb.cell(0).locator(".cm-content")).to_have_text("shopt")


def test_display_shows_image(nb):
    data = base64.b64encode(png(12, 8, (200, 30, 30))).decode()
    cell = nb.run(f"printf '%s' '{data}' | base64 -d > square.png\ndisplay square.png")
    image = cell.output.locator(".jp-RenderedImage img")
    expect(image).to_be_visible()
    expect(image).to_have_attribute("src", f"data:image/png;base64,{data}")
