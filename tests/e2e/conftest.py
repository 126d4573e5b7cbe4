"""Fixtures for the browser tests: one JupyterLab server and one headless Chromium per test run.

Every test here is marked `e2e` (select with `-m e2e`, leave out with `-m "not e2e"`) and gets a
generous timeout: a page load, a kernel start and a few round trips through the browser take tens of
seconds on a small machine. Without a browser, Playwright or JupyterLab the tests skip and say why;
under CI=true they fail instead, unless PYKERNEL_SKIP_BROWSER=1 asks for the skip.

On failure the page's screenshot and browser console go to test-artifacts/ at the repo root.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from .kernels import ROOT, cannot_run, install_bash_kernelspec, require_bash
from .lab import LabServer, Notebook

HERE = Path(__file__).resolve().parent
ARTIFACTS = ROOT / "test-artifacts"
TEST_TIMEOUT = 180  # seconds per test, for pytest-timeout
UI_TIMEOUT = 60  # seconds Playwright waits for something to show up
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: drives a real frontend (JupyterLab in headless Chromium)")


@pytest.hookimpl(tryfirst=True)  # before `-m` selects on the marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(TEST_TIMEOUT))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def chromium_path() -> str | None:
    named = os.environ.get("PYKERNEL_CHROMIUM")
    if named:
        return named if os.access(named, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def missing_prerequisite() -> str | None:
    if os.environ.get("PYKERNEL_SKIP_BROWSER") == "1":
        return "browser tests turned off"
    for module, package in (("playwright", "playwright"), ("jupyterlab", "jupyterlab")):
        if importlib.util.find_spec(module) is None:
            return f"Python package {package} is not installed (pip install -e '.[test]')"
    if chromium_path() is None:
        return "no chromium executable (apt-get install chromium, or set PYKERNEL_CHROMIUM)"
    return None


@pytest.fixture(scope="session")
def missing() -> str | None:
    return missing_prerequisite()


@pytest.fixture(scope="session")
def bash_unavailable(jupyter_path) -> str | None:
    """Why the bash kernel cannot be started (None when it can); run before the server starts."""
    return install_bash_kernelspec(jupyter_path)


# The server and the browser end with this package's tests: Playwright's sync API keeps an asyncio
# loop running in the main thread while it is open, and the tests after these (jupyter_client's
# blocking calls, asyncio.run) must not find one.
@pytest.fixture(scope="package")
def lab(missing, bash_unavailable):
    if missing:
        yield None
        return
    server = LabServer(ARTIFACTS / "jupyterlab.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def browser(missing):
    if missing:
        yield None
        return
    from playwright.sync_api import expect, sync_playwright

    profile = tempfile.mkdtemp(prefix="pykernel-chromium-")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900})
        context.set_default_timeout(UI_TIMEOUT * 1000)  # actions: click, fill, ...
        # Assertions have a default of their own (5 s), too short for a first matplotlib import or
        # a first completion on a busy 2-core machine: they are checks of what shows, not of speed.
        expect.set_options(timeout=UI_TIMEOUT * 1000)
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def frontend(missing, lab, browser):
    """(server, browser context) or skip / fail with the reason they are not there."""
    if missing:
        cannot_run(missing)
    return lab, browser


@pytest.fixture
def bash_kernel(bash_unavailable) -> str:
    return require_bash(bash_unavailable)


@pytest.fixture(scope="module")
def nodelay_lab(missing):
    """A second JupyterLab server, with the jupyter_server_nodelay extension on (for the tests of
    one module at a time: it is not needed beyond them)."""
    if missing:
        yield None
        return
    server = LabServer(ARTIFACTS / "jupyterlab-nodelay.log", nodelay=True)
    server.start()
    yield server
    server.stop()


def notebook_opener(request, server, context):
    """`open_(kernel, cells=())` -> a Notebook on `server` open in a fresh page, its kernel idle;
    a generator: after the test it saves screenshots and console logs of failed tests and closes."""
    opened: list[tuple[Notebook, list[str]]] = []

    def open_(kernel: str, cells: list[str] = ()) -> Notebook:
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
        nb = Notebook(page, server, kernel, cells, UI_TIMEOUT)
        opened.append((nb, console))
        return nb.open()

    yield open_
    failed = any(getattr(getattr(request.node, f"report_{when}", None), "failed", False)
                 for when in ("setup", "call"))
    for i, (nb, console) in enumerate(opened):
        if failed:
            stem = re.sub(r"[^\w.-]+", "_", request.node.name) + (f"-{i}" if i else "")
            try:
                nb.shot(ARTIFACTS / f"{stem}.png")
            except Exception as exc:  # a dead page must not hide the test's own failure
                console.append(f"screenshot failed: {exc}")
            (ARTIFACTS / f"{stem}.console.txt").write_text("\n".join(console))
        nb.page.close()
        server.shutdown_sessions(nb.path)


@pytest.fixture
def open_notebook(request, frontend):
    """`open_notebook(kernel, cells=())` -> a Notebook open in a fresh page, its kernel idle."""
    server, context = frontend
    yield from notebook_opener(request, server, context)
