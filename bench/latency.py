"""What a JupyterLab user waits on: `python bench/latency.py [-n 15] [--out bench/RESULTS.md]`.

Theory: one JupyterLab server (tests/e2e/lab.py's LabServer, 127.0.0.1, its own config) per mode,
stock and with the jupyter_server_nodelay extension, both running and taking turns (`--rounds`) so a
shared machine's load falls on both alike, driven by one headless Chromium (Debian's, through
Playwright) and by a Python websocket client. For pykernel and ipykernel it
measures, medians after warm-up:
- `1+1` over the raw kernel websocket, execute_request to execute_reply + idle, from Python
  (bench/kernelws.py) and from Chromium (bench/labprobe.py), with a breakdown from the kernel's own
  header dates: to the kernel, in the kernel, back from the kernel;
- JupyterLab: Shift+Enter on a `1+1` cell to the result in the DOM and drawn (next frame), with
  JupyterLab's own time before the request leaves; a cell printing 1,000 lines; an ipywidgets
  slider moved by a key to the label the kernel sets.
Run it with the test venv (./run-tests makes .venv with JupyterLab, Playwright, ipykernel and the
extension). Kernelspecs come from a temporary JUPYTER_PATH; nothing of the user's setup is used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and the test helpers importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from bench import kernelws, labprobe, wiretap  # noqa: E402
from e2e.conftest import CHROMIUM_ARGS, chromium_path  # noqa: E402
from e2e.lab import LabServer, Notebook  # noqa: E402

KERNELS = {"pykernel": [sys.executable, "-m", "pykernel"],
           "ipykernel": [sys.executable, "-m", "ipykernel_launcher"]}
MODES = {"stock": False, "nodelay": True}
TITLE = "In the browser: what a JupyterLab user waits on"


def private_jupyter(tmp: Path) -> None:
    """Kernelspecs for the kernels measured, and runtime files, in `tmp` only."""
    for name, argv in KERNELS.items():
        spec = tmp / "kernels" / name
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [*argv, "-f", "{connection_file}"], "display_name": name, "language": "python",
            "env": {"PYTHONPATH": str(ROOT)}}))
    os.environ.update(JUPYTER_PATH=str(tmp), JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
                      IPYTHONDIR=str(tmp / "ipython"), JUPYTER_PLATFORM_DIRS="1")


def kernel_websocket(server: LabServer, tap, kernel: str, page, n: int) -> dict:
    """`1+1` over a kernel websocket of a kernel started by REST, from Python and from the page."""
    kid = server.api("POST", "kernels", {"name": kernel})["id"]
    try:
        url = server.url(f"api/kernels/{kid}/channels").replace("http", "ws", 1)
        # in a thread of its own: Playwright's sync API keeps an event loop running in this one
        with ThreadPoolExecutor(1) as pool:
            python = pool.submit(asyncio.run, kernelws.cells(url, "1+1", n)).result()
        # A page of the server's own origin whose CSP allows websockets (the API's forbids them):
        # its 404 page.
        page.goto(server.url("latency-bench-page"))
        chromium = labprobe.ws_cells(page, url, n)
        for cell in chromium:
            cell["split"] = labprobe.breakdown(cell, tap)
    finally:
        server.api("DELETE", f"kernels/{kid}")
    return {"python": python, "chromium": chromium}


def in_lab(server: LabServer, tap, kernel: str, page, n: int) -> dict:
    nb = Notebook(page, server, kernel, [""], 60).open()
    try:
        click = labprobe.click_cells(nb, tap, "1+1", n, 3, ".jp-OutputArea-executeResult", r"2\s*$")
        lines = labprobe.click_cells(nb, tap, "for i in range(1000): print(i)", max(2, n // 2), 2,
                                     ".jp-OutputArea-output", labprobe.lines_pattern(1000))
        slider = labprobe.slider_moves(nb, tap, n)
        in_place = labprobe.run_in_place(nb, tap, n)
    finally:
        server.shutdown_sessions(nb.path)
    return {"click": click, "lines": lines, "slider": slider, "in place": in_place}


def start_tap(port: int):
    """The loopback wiretap for the breakdown, or None where it cannot run (not root, not Linux)."""
    try:
        tap = wiretap.Wiretap(port)
    except (OSError, AttributeError) as exc:
        print(f"no wiretap ({exc}): the server / browser split is left out", file=sys.stderr)
        return None
    tap.start()
    return tap


def measure(context, n: int, rounds: int, logs: Path) -> dict:
    """Both servers run side by side and take turns, `rounds` times per kernel, so that a shared
    machine's load falls on stock and fixed alike."""
    servers, taps, results = {}, {}, {}
    try:
        for mode, on in MODES.items():
            servers[mode] = LabServer(logs / f"latency-{mode}.log", nodelay=on)
            servers[mode].start()
            taps[mode] = start_tap(servers[mode].port)
        for kernel in KERNELS:
            for turn in range(rounds):
                for mode in MODES:
                    print(f"{kernel} / {mode}, round {turn + 1} of {rounds} ...", file=sys.stderr, flush=True)
                    part = one_turn(context, servers[mode], taps[mode], kernel, max(1, n // rounds))
                    column = results.setdefault(f"{kernel} {mode}", {})
                    for name, runs in part.items():
                        column.setdefault(name, []).extend(runs)
    finally:
        for mode, server in servers.items():
            if taps.get(mode):
                taps[mode].stop()
            server.stop()
    return results


def one_turn(context, server: LabServer, tap, kernel: str, n: int) -> dict:
    page = context.new_page()
    try:
        return {**kernel_websocket(server, tap, kernel, page, n), **in_lab(server, tap, kernel, page, n)}
    finally:
        page.close()


def med(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def piece(rows: list, name: str) -> list:
    return [r.get(name) for r in rows]


ROWS = [  # (label, how to get one number per run out of a column's results)
    ("websocket `1+1`, Python client: execute_request → reply + idle",
     lambda r: [c["arrivals"]["done"] for c in r["python"]]),
    ("websocket `1+1`, from Chromium: execute_request → reply + idle",
     lambda r: [c["arrivals"]["done"] for c in r["chromium"]]),
    ("… to the kernel (request sent → kernel's busy)", lambda r: piece([c["split"] for c in r["chromium"]], "to kernel")),
    ("… in the kernel (busy → idle, kernel's clock)", lambda r: piece([c["split"] for c in r["chromium"]], "in kernel")),
    ("… server: idle's date → its frame on the wire", lambda r: piece([c["split"] for c in r["chromium"]], "server")),
    ("… browser: frame on the wire → page has it", lambda r: piece([c["split"] for c in r["chromium"]], "client")),
    ("JupyterLab `1+1`: Shift+Enter → `2` in the page", lambda r: piece(r["click"], "dom")),
    ("… → `2` drawn (next frame)", lambda r: piece(r["click"], "frame")),
    ("JupyterLab, Ctrl+Enter (run in place, no new cell) → result in the page",
     lambda r: piece(r["in place"], "dom")),
    ("1,000 printed lines: Shift+Enter → last line in the page", lambda r: piece(r["lines"], "dom")),
    ("slider: arrow key → the kernel's label updated", lambda r: piece(r["slider"], "dom")),
]

#: The pieces of a JupyterLab measurement (labprobe._split), in the order they happen.
PIECES = [("to send", "JupyterLab before the request leaves"),
          ("to kernel", "request sent → kernel's busy"),
          ("in kernel", "busy → the output's message (kernel's dates)"),
          ("server", "server: message's date → its frame on the wire"),
          ("browser", "browser: frame on the wire → the page handles it"),
          ("render", "page handled it → output in the DOM"),
          ("long tasks", "(page main thread in tasks ≥ 50 ms meanwhile)")]
FLOWS = [("click", "Shift+Enter `1+1`"), ("in place", "Ctrl+Enter"), ("lines", "1,000 lines"),
         ("slider", "slider")]


def targets(results: dict) -> list[str]:
    lines = []
    for kernel in KERNELS:
        stock, fixed = results[f"{kernel} stock"], results[f"{kernel} nodelay"]
        ws = med(ROWS[1][1](fixed))
        lines.append(f"| {kernel} | `1+1` over the websocket from Chromium, with the extension ≤ 10 ms "
                     f"| {ws:.1f} ms | **{'met' if ws <= 10 else 'not met'}** |")
        ratio = med(ROWS[6][1](fixed)) / med(ROWS[6][1](stock))
        lines.append(f"| {kernel} | click-to-output (Shift+Enter) with the extension ≤ 1/3 of stock "
                     f"| {ratio:.2f}× | **{'met' if ratio <= 1 / 3 else 'not met'}** |")
        ratio = med(ROWS[8][1](fixed)) / med(ROWS[8][1](stock))
        lines.append(f"| {kernel} | (the same for Ctrl+Enter, run in place) | {ratio:.2f}× "
                     f"| {'met' if ratio <= 1 / 3 else 'not met'} |")
    return lines


def markdown(results: dict, meta: dict) -> str:
    cols = list(results)
    out = [f"## {TITLE}", "",
           "`stock`: JupyterLab's server as installed; `nodelay`: the same server with the "
           "jupyter_server_nodelay extension (extensions/). Medians in ms; see docs/latency.md.", "",
           "| target | | measured | verdict |", "|---|---|---|---|", *targets(results), "",
           "| ms | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for label, get in ROWS:
        out.append(f"| {label} | " + " | ".join(f"{med(get(results[c])):.1f}" for c in cols) + " |")
    out += ["", "Where JupyterLab's time goes (medians of each piece; they add up to about the total):",
            "", "| ms | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for flow, title in FLOWS:
        out.append(f"| **{title}** | " + " | ".join(f"**{med(piece(results[c][flow], 'dom')):.1f}**"
                                                     for c in cols) + " |")
        for name, label in PIECES:
            out.append(f"| … {label} | "
                       + " | ".join(f"{med(piece(results[c][flow], name)):.1f}" for c in cols) + " |")
    out += ["", *(f"- {k}: {v}" for k, v in meta.items()), ""]
    return "\n".join(out)


def write_section(path: Path, text: str) -> None:
    """Put `text` in place of this bench's section of `path` (or at its end)."""
    old = path.read_text() if path.exists() else ""
    start = old.find(f"## {TITLE}\n")
    if start < 0:
        path.write_text(old.rstrip() + "\n\n" + text)
        return
    end = old.find("\n## ", start + 1)
    path.write_text(old[:start] + text + (old[end + 1:] if end >= 0 else ""))


def versions() -> str:
    from importlib.metadata import version

    names = ("jupyter_server", "jupyterlab", "tornado", "ipykernel", "pykernel", "ipywidgets",
             "playwright", "jupyter-server-nodelay")
    return ", ".join(f"{n} {version(n)}" for n in names)


def main() -> int:
    ap = argparse.ArgumentParser(prog="bench/latency.py", description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=15, help="timed runs per figure (default 15)")
    ap.add_argument("--rounds", type=int, default=3, help="turns stock and fixed take (default 3)")
    ap.add_argument("--out", help="put the Markdown section into this file (e.g. bench/RESULTS.md)")
    ap.add_argument("--json", help="write the raw figures to this file")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="pykernel-latency-"))
    private_jupyter(tmp)
    t0 = time.monotonic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(labprobe.WRAP_WS_JS)
        results = measure(context, args.n, args.rounds, tmp)
        chromium = browser.version
        browser.close()
    meta = {"command": shlex.join(["python", "bench/latency.py", *sys.argv[1:]]),
            "wall time": f"{time.monotonic() - t0:.0f} s",
            "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{os.cpu_count()} CPUs, {platform.platform()}",
            "versions": f"Python {platform.python_version()}, Chromium {chromium}, {versions()}"}
    text = markdown(results, meta)
    print(text)
    if args.out:
        write_section(Path(args.out), text)
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
