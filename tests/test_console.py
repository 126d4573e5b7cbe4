"""`jupyter console` on the Python kernel, typed at in a pseudo-terminal.

The console runs in its full prompt_toolkit mode (TERM=xterm, a fixed 40x120 window, no cursor
position requests): its `simple_prompt` mode reads plain lines, so it neither completes on Tab nor
asks the kernel whether a block is complete, and those are two of the things tested here.
prompt_toolkit redraws the line as it is typed; the screen text is matched with the terminal's
escape sequences taken out, always after the previous match.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time

import pytest

from corefixtures import private_ipc_base

pexpect = pytest.importorskip("pexpect")
pytest.importorskip("jupyter_console")

pytestmark = pytest.mark.timeout(120)

KERNEL = "pykernel"
WAIT = 60  # seconds for any one thing to appear; a kernel start on a loaded 2-core machine is slow
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]"
                      r"|\x1b[=>78cDEHMNOZ]|\r")
_PARTIAL_ESCAPE = re.compile(r"\x1b[^A-Za-z\x07]*$")


class Console:
    """A `jupyter console --kernel NAME` in a pseudo-terminal."""

    def __init__(self, kernel: str):
        config = tempfile.mkdtemp(prefix="pykernel-console-config-")
        env = {**os.environ, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "JUPYTER_CONFIG_DIR": config}
        # The console gives a completion 5 s before it shows "Unhandled exception"; a first
        # completion (jedi's first load) on a loaded 2-core machine can take longer. These tests
        # check what completion does, not how fast, so the client waits as long as they do.
        args = ["-m", "jupyter_console", "--kernel", kernel, "--transport=ipc",
                f"--ip={private_ipc_base()}", f"--ZMQCompleter.timeout={WAIT}"]
        self.child = pexpect.spawn(sys.executable, args,
                                   env=env, encoding="utf-8", codec_errors="replace",
                                   dimensions=(40, 120))
        self.raw = ""
        self.pos = 0  # screen text before this was matched already

    @property
    def text(self) -> str:
        return _PARTIAL_ESCAPE.sub("", _ESCAPES.sub("", self.raw))

    def expect(self, pattern: str, timeout: float = WAIT) -> re.Match:
        """Wait for `pattern` (a regex) in the screen text after the last match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            found = regex.search(self.text, self.pos)
            if found:
                self.pos = found.end()
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} did not appear within {timeout} s; the console "
                                     f"shows after the last match:\n{self.text[self.pos:][-3000:]}")
            try:
                self.raw += self.child.read_nonblocking(65536, timeout=min(left, 1))
            except pexpect.TIMEOUT:
                pass
            except pexpect.EOF:
                raise AssertionError(f"the console ended while waiting for {pattern!r}:\n"
                                     f"{self.text[self.pos:][-3000:]}") from None

    def prompt(self, number: int | None = None) -> None:
        self.expect(r"In \[%s\]: " % (number if number is not None else r"\d+"))

    def send(self, keys: str) -> None:
        self.child.send(keys)

    def enter(self, line: str = "") -> None:
        self.child.send(line + "\r")

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)
        self.child.close()


@pytest.fixture
def console():
    con = Console(KERNEL)
    con.prompt(1)
    yield con
    con.close()


def test_cell_runs(console):
    console.enter("print(6 * 7)")
    console.expect(r"\n42\n")
    console.prompt(2)
    console.enter("6 * 7")
    console.expect(r"Out\[2\]: 42")


def test_tab_completes_a_name_the_kernel_knows(console):
    console.enter("zebra_count_42 = 7")
    console.prompt(2)
    console.send("zebra_c")
    console.send("\t")  # the only match: put in the line at once
    console.expect(r"zebra_count_42")
    console.enter()
    # Had the name not been completed, `zebra_c` would be a NameError, not Out[2].
    console.expect(r"Out\[2\]: 7")


def test_tab_lists_modules(console):
    console.send("import o")
    console.send("\t")
    console.expect(r"\bos\b")
    console.expect(r"\boperator\b|\bopcode\b")


def test_block_continues_until_blank_line(console):
    console.enter("for i in range(2):")
    # The kernel's is_complete said "incomplete": a continuation prompt, and the reply's indent
    # put before the body (typed here without one).
    console.expect(r"\.\.\.: ")
    console.enter("print('row', i)")
    console.expect(r"\.\.\.: ")
    console.enter()
    console.expect(r"row 0\n+row 1\n")
    console.prompt(2)


def test_input_reads_a_line(console):
    console.enter("name = input('name? ')")
    console.expect(r"name\? ")
    console.enter("ada")
    console.prompt(2)
    console.enter("print(name.upper())")
    console.expect(r"\nADA\n")


def test_exit_ends_the_console(console):
    """`exit` makes the kernel answer with an `ask_exit` payload, on which the console quits."""
    console.enter("exit")
    try:
        console.expect(r"In \[2\]: ", timeout=WAIT)
    except AssertionError as ended:
        assert "console ended" in str(ended), ended  # EOF: what should happen
    else:
        pytest.fail("the console stayed open after `exit` and shows a new prompt: it never saw the "
                    "ask_exit payload (jupyter_console stops reading the execute_reply once the "
                    "kernel process is gone)")
    console.child.close()
    assert console.child.exitstatus == 0
