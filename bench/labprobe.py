"""What the latency bench does inside Chromium: the raw kernel websocket, and JupyterLab itself.

Every time is taken in the page with `performance.now()`, so the page's clock times both ends:
- `ws_cells`: the page opens the kernel websocket itself (v1 framing, as JupyterLab does) and times
  `1+1` from sending execute_request to having both execute_reply and status idle; it also reports
  wall-clock send/idle times and the kernel's header dates, for the breakdown.
- `click_cells`: in a JupyterLab notebook, from the Shift+Enter keydown (a capture listener, before
  JupyterLab sees the key) to the cell's output in the DOM, and to the next animation frame after
  it (the output drawn). An init script wraps the page's WebSocket so each cell also records when
  JupyterLab sent its execute_request and when the reply and idle came back.
- `slider_moves`: an ipywidgets slider moved with the arrow key, to the label the kernel updates
  in its observer (browser -> comm_msg -> kernel -> comm_msg -> browser).
"""

from __future__ import annotations

from datetime import datetime

# v1 kernel websocket framing in the page (see kernelws.py), plus a per-connection message log.
V1_JS = r"""
window.__v1 = (() => {
  const enc = new TextEncoder(), dec = new TextDecoder();
  function pack(channel, parts) {
    const chunks = [enc.encode(channel), ...parts.map(p => enc.encode(JSON.stringify(p)))];
    const head = 8 * (chunks.length + 2);
    const total = head + chunks.reduce((s, c) => s + c.length, 0);
    const buf = new ArrayBuffer(total), view = new DataView(buf), bytes = new Uint8Array(buf);
    view.setBigUint64(0, BigInt(chunks.length + 1), true);
    let off = head;
    view.setBigUint64(8, BigInt(off), true);
    chunks.forEach((c, i) => { bytes.set(c, off); off += c.length;
                               view.setBigUint64(8 * (i + 2), BigInt(off), true); });
    return buf;
  }
  function unpack(buf) {
    const view = new DataView(buf), n = Number(view.getBigUint64(0, true)), offs = [];
    for (let i = 0; i < n; i++) offs.push(Number(view.getBigUint64(8 * (i + 1), true)));
    const part = i => JSON.parse(dec.decode(new Uint8Array(buf, offs[i], offs[i + 1] - offs[i])));
    return {header: part(1), parent: part(2), content: part(4)};
  }
  // When each execute_request left and each answer to it came in (page clock and wall clock).
  const log = [];
  const now = () => ({t: performance.now(), wall: performance.timeOrigin + performance.now()});
  function note(dir, data) {
    if (!(data instanceof ArrayBuffer)) return;
    const m = unpack(data), type = m.header.msg_type;
    const name = type === "status" ? m.content.execution_state : type;
    log.push({dir, id: m.header.msg_id, parent: m.parent.msg_id, name, date: m.header.date, ...now()});
  }
  return {pack, unpack, log, note};
})();
"""

# Wraps WebSocket before JupyterLab loads, so its kernel connection records into __v1.log.
WRAP_WS_JS = V1_JS + r"""
window.WebSocket = class extends window.WebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", e => window.__v1.note("in", e.data));
  }
  send(data) { window.__v1.note("out", data); return super.send(data); }
};
"""

WS_CELLS_JS = r"""
async ({url, code, n, warm}) => {
  const v1 = window.__v1, session = crypto.randomUUID();
  const ws = new WebSocket(url + "&session_id=" + session, ["v1.kernel.websocket.jupyter.org"]);
  ws.binaryType = "arraybuffer";
  await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
  let pending = null;
  ws.onmessage = e => { if (pending) pending(v1.unpack(e.data), performance.now()); };
  async function cell() {
    const id = crypto.randomUUID(), header = {msg_id: id, session, username: "bench", version: "5.4",
      date: new Date().toISOString(), msg_type: "execute_request"};
    const content = {code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false,
                     stop_on_error: true};
    const out = {arrivals: {}}, t0 = performance.now();
    out.sent_wall = (performance.timeOrigin + t0) / 1000;
    const done = new Promise(resolve => {
      pending = (m, t) => {
        if (m.parent.msg_id !== id) return;
        let name = m.header.msg_type;
        if (name === "status") {
          name = m.content.execution_state;
          out[name + "_date"] = m.header.date;
          out[name + "_id"] = m.header.msg_id;
          if (name === "idle") out.idle_wall = (performance.timeOrigin + t) / 1000;
        }
        if (!(name in out.arrivals)) out.arrivals[name] = t - t0;
        if ("execute_reply" in out.arrivals && "idle" in out.arrivals) resolve();
      };
    });
    ws.send(v1.pack("shell", [header, {}, {}, content]));
    await done;
    out.arrivals.done = Math.max(...Object.values(out.arrivals));
    return out;
  }
  for (let i = 0; i < warm; i++) await cell();
  const cells = [];
  for (let i = 0; i < n; i++) cells.push(await cell());
  ws.close();
  return cells;
}
"""

# Arms one measurement: the next Shift+Enter (or other `key`) and the moment `ready(el)` holds for
# the element matched by `selector` inside the cell at `index`.
ARM_JS = r"""
({index, selector, pattern, key}) => {
  const cellNode = document.querySelectorAll(
    ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")[index];
  const re = new RegExp(pattern), res = window.__lat = {tasks: []};
  window.__v1.log.length = 0;
  new PerformanceObserver(list => res.tasks.push(...list.getEntries().map(e => [e.startTime, e.duration])))
    .observe({type: "longtask"});
  document.addEventListener("keydown", e => {
    if (e.key === key && res.key === undefined) res.key = performance.now();
  }, {capture: true, once: false});
  const check = () => {
    const el = cellNode.querySelector(selector);
    if (res.key === undefined || res.dom !== undefined || !el || !re.test(el.textContent)) return;
    res.dom = performance.now();
    observer.disconnect();
    requestAnimationFrame(() => { res.frame = performance.now(); res.log = [...window.__v1.log]; });
  };
  const observer = new MutationObserver(check);
  observer.observe(cellNode, {subtree: true, childList: true, characterData: true, attributes: true});
}
"""


def _ms(a: float, b: float) -> float:
    return (b - a) * 1000


def breakdown(cell: dict, tap=None) -> dict:
    """ms to the kernel, in the kernel, and from the kernel back to the client, from one cell's
    wall-clock send / idle times and the kernel's busy / idle header dates; with the wiretap, the
    way back split into the server's part and the client's."""
    date = {k: (datetime.fromisoformat(cell[k]).timestamp() if isinstance(cell[k], str) else cell[k])
            for k in ("busy_date", "idle_date")}
    out = {"to kernel": _ms(cell["sent_wall"], date["busy_date"]),
           "in kernel": _ms(date["busy_date"], date["idle_date"]),
           "from kernel": _ms(date["idle_date"], cell["idle_wall"])}
    wire = tap.seen(cell.get("idle_id")) if tap else None
    if wire is not None:
        out["server"] = wire - date["idle_date"] * 1000
        out["client"] = cell["idle_wall"] * 1000 - wire
    return out


def ws_cells(page, url: str, n: int, warm: int = 3, code: str = "1+1") -> list[dict]:
    return page.evaluate(WS_CELLS_JS, {"url": url, "code": code, "n": n, "warm": warm})


def _split(out: dict, res: dict, tap) -> None:
    """Add to `out` where the time from key to output went. The pieces add up to `dom`:
    - `to send`: JupyterLab before its request left (page clock);
    - `to kernel`: request sent -> kernel's busy (wall clock; page and kernel header date);
    - `in kernel`: busy -> the message that made the output (kernel's header dates);
    - `server`: that message's header date -> its frame on the wire (the relay, and Nagle);
    - `browser`: frame on the wire -> the page's handler ran (a busy main thread delays it);
    - `render`: handler -> the output in the DOM (page clock).
    `server` and `browser` need the wiretap (root); without it their sum is `back`."""
    key, log = res["key"], res["log"]
    out["long tasks"] = sum(max(0.0, min(start + length, res["dom"]) - max(start, key))
                            for start, length in res["tasks"])
    sent = [e for e in log if e["dir"] == "out" and e["name"] in ("execute_request", "comm_msg")]
    if not sent:
        return
    req = sent[0]
    answers = [e for e in log if e["dir"] == "in" and e["parent"] == req["id"]]
    busy = [e for e in answers if e["name"] == "busy"]
    shown = [e for e in answers if e["t"] <= res["dom"]]
    if not busy or not shown:
        return
    busy, shown = busy[0], max(shown, key=lambda e: e["t"])
    kernel = {e["id"]: datetime.fromisoformat(e["date"]).timestamp() * 1000 for e in (busy, shown)}
    out.update({"to send": req["t"] - key, "to kernel": kernel[busy["id"]] - req["wall"],
                "in kernel": kernel[shown["id"]] - kernel[busy["id"]],
                "back": shown["wall"] - kernel[shown["id"]], "render": res["dom"] - shown["t"]})
    wire = tap.seen(shown["id"]) if tap else None
    if wire is not None:
        out["server"] = wire - kernel[shown["id"]]
        out["browser"] = shown["wall"] - wire


def _measured(nb, tap, index: int, selector: str, pattern: str, key: str, act) -> dict:
    nb.page.evaluate(ARM_JS, {"index": index, "selector": selector, "pattern": pattern, "key": key})
    act()
    nb.page.wait_for_function("window.__lat && window.__lat.frame !== undefined", timeout=60_000)
    res = nb.page.evaluate("window.__lat")
    out = {"dom": res["dom"] - res["key"], "frame": res["frame"] - res["key"]}
    _split(out, res, tap)
    return out


def click_cells(nb, tap, code: str, n: int, warm: int, selector: str, pattern: str) -> list[dict]:
    """Type `code` into the last cell and time Shift+Enter until its output matches `pattern`."""
    results = []
    for i in range(warm + n):
        index = nb.cells.count() - 1
        nb.type(index, code)
        res = _measured(nb, tap, index, selector, pattern, "Enter",
                        lambda: nb.page.keyboard.press("Shift+Enter"))
        nb.wait_done(index)
        if i >= warm:
            results.append(res)
    return results


def run_in_place(nb, tap, n: int, warm: int = 3) -> list[dict]:
    """Ctrl+Enter on one cell (no new cell for JupyterLab to make), a new sum each time so the new
    result is told from the old one."""
    index, results = nb.cells.count() - 1, []
    for i in range(warm + n):
        nb.edit(index)
        nb.page.keyboard.press("Control+a")
        nb.page.keyboard.insert_text(f"{i}+1000")
        res = _measured(nb, tap, index, ".jp-OutputArea-executeResult", rf"(^|\D){i + 1000}\s*$", "Enter",
                        lambda: nb.page.keyboard.press("Control+Enter"))
        if i >= warm:
            results.append(res)
    return results


SLIDER_CODE = (
    "import ipywidgets\n"
    "slider = ipywidgets.IntSlider(value=0, min=0, max=1000)\n"
    "label = ipywidgets.Label('kernel has 0')\n"
    "slider.observe(lambda change: setattr(label, 'value', f'kernel has {change.new}'), 'value')\n"
    "ipywidgets.VBox([slider, label])")


def slider_moves(nb, tap, n: int, warm: int = 3) -> list[dict]:
    """Time ArrowRight on a slider's handle until the kernel's label shows the new value."""
    index = nb.cells.count() - 1
    nb.type(index, SLIDER_CODE)
    nb.page.keyboard.press("Shift+Enter")
    nb.wait_done(index)
    handle = nb.cell(index).locator(".widget-slider .noUi-handle")
    handle.wait_for()
    results = []
    for value in range(1, warm + n + 1):
        res = _measured(nb, tap, index, ".jupyter-widgets.widget-label", f"^kernel has {value}$", "ArrowRight",
                        lambda: (handle.focus(), nb.page.keyboard.press("ArrowRight")))
        if value > warm:
            results.append(res)
    return results


def lines_pattern(count: int) -> str:
    return rf"(^|\n){count - 1}\n?$"

