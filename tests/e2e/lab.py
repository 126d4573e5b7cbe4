"""A JupyterLab server in a subprocess and a notebook page object driven through Playwright.

The server runs on 127.0.0.1 with a random token, a temporary root dir and its own config, settings
and workspace dirs, so nothing of the user's Jupyter setup leaks in. The announcements plugin is
disabled so no "news" toast covers the page. The project's server extension jupyter_server_nodelay
(extensions/) is switched on or off by the server's own config, whatever the environment enables. Kernelspecs come from the environment (JUPYTER_PATH, set
by tests/conftest.py), exactly as a user's server finds them.

The page object knows JupyterLab's DOM (class names of cells, outputs, stdin box, completer, dialogs)
and nothing about any kernel; tests say what they type and what they expect to see.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

try:
    from playwright.sync_api import expect
except ImportError:  # the tests then skip, or fail under CI, in the `frontend` fixture, saying why
    expect = None

SERVER_START_TIMEOUT = 120  # seconds; first start compiles nothing but imports a lot on a slow machine


class LabServer:
    """`jupyter lab` on localhost; `url(path)` gives an address carrying the token."""

    def __init__(self, log_path: Path, nodelay: bool = False):
        self.nodelay = nodelay
        self.base = Path(tempfile.mkdtemp(prefix="pykernel-lab-"))
        self.root = self.base / "root"
        self.token = secrets.token_hex(16)
        self.port: int | None = None  # the server binds port 0 and says which it got (_wait_ready)
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def _write_config(self) -> Path:
        config = self.base / "config"
        (config / "labconfig").mkdir(parents=True)
        (config / "labconfig" / "page_config.json").write_text(json.dumps(
            {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
        (config / "jupyter_server_config.json").write_text(json.dumps(
            {"ServerApp": {"jpserver_extensions": {"jupyter_server_nodelay": self.nodelay}}}))
        return config

    def start(self) -> None:
        self.root.mkdir()
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(self._write_config()),
               "JUPYTER_DATA_DIR": str(self.base / "data"),
               "JUPYTER_RUNTIME_DIR": str(self.base / "runtime")}
        # No port is picked for the server or its kernels before they bind: the server binds port 0
        # and writes the port it got into its jpserver-PID.json; kernels talk over ipc.
        argv = [sys.executable, "-m", "jupyterlab", "--ServerApp.ip=127.0.0.1",
                "--ServerApp.port=0", "--KernelManager.transport=ipc",
                f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
                "--ServerApp.open_browser=False", "--ServerApp.allow_root=True",
                f"--LabApp.workspaces_dir={self.base / 'workspaces'}",
                f"--LabApp.user_settings_dir={self.base / 'settings'}"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=self.root, env=env, start_new_session=True)
        log.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.port = self.port or self._bound_port()
                self.api("GET", "status")
                return
            except (OSError, ValueError, urllib.error.URLError):
                time.sleep(0.2)  # poll interval, not a stand-in for synchronization
        raise RuntimeError(f"jupyter lab not answering /api/status after {SERVER_START_TIMEOUT} s:\n"
                           f"{self.log_tail()}")

    def _bound_port(self) -> int:
        """The port in the server's info file (OSError until it is written, ValueError while it is
        being written)."""
        info = self.base / "runtime" / f"jpserver-{self.proc.pid}.json"
        return int(json.loads(info.read_text())["port"])

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def url(self, path: str, **query: str) -> str:
        q = "&".join([*(f"{k}={v}" if v else k for k, v in query.items()), f"token={self.token}"])
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}?{q}"

    def api(self, method: str, path: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/{path}", data=data, method=method,
                                     headers={"Authorization": f"token {self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def kernelspec(self, kernel: str) -> dict:
        return self.api("GET", f"kernelspecs/{kernel}")["spec"]

    def new_notebook(self, kernel: str, cells: list[str] = ()) -> str:
        """Create a notebook bound to kernelspec `kernel` through the contents API; returns its path."""
        spec = self.kernelspec(kernel)
        name = f"{kernel}-{uuid.uuid4().hex[:8]}.ipynb"
        cells = list(cells) or [""]
        nb = {"nbformat": 4, "nbformat_minor": 5, "cells": [
                  {"cell_type": "code", "id": uuid.uuid4().hex[:8], "source": src, "metadata": {},
                   "outputs": [], "execution_count": None} for src in cells],
              "metadata": {"kernelspec": {"name": kernel, "display_name": spec["display_name"],
                                          "language": spec["language"]}}}
        self.api("PUT", f"contents/{name}", {"type": "notebook", "format": "json", "content": nb})
        return name

    def shutdown_sessions(self, path: str) -> None:
        """Stop the kernel of the notebook at `path` so finished tests leave no load behind."""
        for session in self.api("GET", "sessions"):
            if session.get("path") == path:
                self.api("DELETE", f"sessions/{session['id']}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.base, ignore_errors=True)


class Notebook:
    """One notebook open in JupyterLab in its own browser page."""

    def __init__(self, page, server: LabServer, kernel: str, cells: list[str], timeout: float):
        self.page = page
        self.server = server
        self.display_name = server.kernelspec(kernel)["display_name"]
        self.path = server.new_notebook(kernel, cells)
        self.timeout = timeout * 1000  # Playwright counts milliseconds

    def open(self) -> Notebook:
        # A workspace of its own per page: JupyterLab then restores no notebooks of earlier tests.
        workspace = uuid.uuid4().hex[:8]
        self.page.goto(self.server.url(f"lab/workspaces/{workspace}/tree/{self.path}", reset=""))
        self.wait_idle()
        return self

    # --- locators -------------------------------------------------------------------------------
    @property
    def panel(self):
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")

    @property
    def cells(self):
        return self.panel.locator(".jp-Notebook .jp-Cell")

    def cell(self, index: int):
        return self.cells.nth(index)

    def output(self, index: int):
        return self.cell(index).locator(".jp-OutputArea")

    def prompt(self, index: int):
        """The cell's input prompt: "[ ]:" never run, "[*]:" running or queued, "[3]:" done."""
        return self.cell(index).locator(".jp-InputArea-prompt")

    @property
    def stdin(self):
        """The text box JupyterLab shows in an output area while the kernel waits for input."""
        return self.panel.locator(".jp-Stdin-input")

    @property
    def completer(self):
        return self.page.locator(".jp-Completer:not(.lm-mod-hidden)")

    def toolbar_button(self, command: str):
        return self.panel.locator(f'.jp-Toolbar [data-command="{command}"]')

    @property
    def kernel_status(self):
        """The status bar's "<kernel> | <state>" item (the toolbar's indicator says "idle" before a
        kernel is even connected, so it cannot tell a page that is ready to run cells)."""
        return self.page.locator(".jp-StatusBar-Item").filter(has_text=f"{self.display_name} | ")

    # --- actions --------------------------------------------------------------------------------
    def wait_idle(self) -> None:
        try:
            expect(self.kernel_status).to_have_text(f"{self.display_name} | Idle", timeout=self.timeout)
        except AssertionError as exc:  # a kernel that died on start says why in the server's log
            raise AssertionError(f"{exc}\n--- end of the jupyter lab log (kernel stderr included) ---\n"
                                 f"{self.server.log_tail()}") from None

    def edit(self, index: int):
        """Put the cursor into cell `index`'s editor and return the editor."""
        editor = self.cell(index).locator(".cm-content")
        editor.click()
        return editor

    def type(self, index: int, text: str) -> None:
        """Type `text` into cell `index` as typed text, without the editor's auto-closing of brackets."""
        self.edit(index)
        self.page.keyboard.insert_text(text)

    def tab_complete(self, index: int, text: str) -> None:
        """Type `text` into cell `index` and press Tab once the editor is wired to the kernel's
        completer (until then Tab would insert a tab character)."""
        self.edit(index)
        editor = self.cell(index).locator(".jp-Editor")
        expect(editor).to_have_class(re.compile(r"\bjp-mod-completer-enabled\b"), timeout=self.timeout)
        self.page.keyboard.type(text)
        self.page.keyboard.press("Tab")

    def run(self, code: str) -> Cell:
        """Type `code` into the last cell and run it with Shift+Enter (JupyterLab then adds a new
        empty cell below, where the next `run` types)."""
        index = self.cells.count() - 1
        self.type(index, code)
        self.page.keyboard.press("Shift+Enter")
        expect(self.cells).to_have_count(index + 2)  # the new cell is there before anyone types
        return Cell(self, index)

    def run_cell(self, index: int) -> Cell:
        """Run cell `index` as it is, with Shift+Enter from its editor."""
        self.edit(index)
        self.page.keyboard.press("Shift+Enter")
        return Cell(self, index)

    # --- debugger -------------------------------------------------------------------------------
    @property
    def debugger_button(self):
        """The toolbar's bug button; aria-pressed says whether the debugger is on for this notebook."""
        return self.panel.locator(".jp-DebuggerBugButton")

    def breakpoint_gutter(self, index: int, line: int):
        """Where a click on cell `index`'s line `line` (1-based) sets a breakpoint. The gutter's first
        element is CodeMirror's invisible sizing element, so line n is element n."""
        return self.cell(index).locator(".cm-gutter.cm-breakpoint-gutter > .cm-gutterElement").nth(line)

    @property
    def debugger(self):
        """The debugger's side panel (variables, call stack, breakpoints, sources)."""
        return self.page.locator(".jp-DebuggerSidebar")

    def debugger_command(self, command: str):
        return self.debugger.locator(f'[data-command="{command}"]')

    def wait_done(self, index: int) -> None:
        """Wait until cell `index` has finished running (its prompt shows an execution count)."""
        expect(self.prompt(index)).to_have_text(re.compile(r"\[\d+\]:"), timeout=self.timeout)

    def shot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=True)


class Cell:
    """A cell that was run: its output area, its prompt, and a wait for it to finish."""

    def __init__(self, nb: Notebook, index: int):
        self.nb = nb
        self.index = index
        self.output = nb.output(index)
        self.prompt = nb.prompt(index)

    def done(self) -> Cell:
        self.nb.wait_done(self.index)
        return self
