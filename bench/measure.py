"""One function per measurement, each driving a started `Kernel` and returning a flat dict of figures.

Theory
- A measurement only sends requests and reads the clock when messages arrive; all timing is client-side
  perf_counter, from just before the request's frames are sent to the arrival of what ends it.
- "Round trip" ends when both the execute_reply and the request's `status: idle` have arrived (what a
  frontend waits for); a reply-only request (complete, inspect) ends at its reply.
- Figures are numbers (or None when the kernel did not produce the thing measured); a hung or dead kernel
  surfaces as TimeoutError / KernelDied, which the runner records as the measurement's failure.
- The code run is the language's own equivalent, from SNIPPETS; the Python and bash figures are only
  ever compared within their language.
"""

from __future__ import annotations

import statistics
import time

from . import procfs
from .client import Kernel, KernelDied, LaunchError, Pending, execute_content

SNIPPETS = {
    "python": {
        "noop": "pass", "small": "x = 1", "cell100": "x = 1\n" * 100,
        "complete": ("import o", 8), "inspect": ("print", 5),
        "print_loop": ("for i in range({n}): print(i)", 100_000),
        "first_output": "print('x'); import time; time.sleep(1)",
        "sleep": "import time; time.sleep(30)",
    },
    "bash": {
        "noop": "true", "small": "x=1", "cell100": "x=1\n" * 100,
        "complete": ("ech", 3), "inspect": ("echo", 4),
        "print_loop": ("for i in $(seq {n}); do echo $i; done", 20_000),
        "first_output": "echo x; sleep 1",
        "sleep": "sleep 30",
    },
}


def snippets(language: str) -> dict:
    return SNIPPETS["bash" if language in ("bash", "sh") else "python"]


def percentile(values: list, q: float) -> float:
    """Nearest-rank percentile, q in [0, 100]."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def launch(kernel: Kernel, noop: str, timeout: float = 60.0) -> dict:
    """Start the kernel; time to its first kernel_info_reply and to its first execute_reply."""
    kernel.start()
    try:
        info = kernel.request("kernel_info_request", {}, timeout, want_idle=False)
        ex = kernel.request("execute_request", execute_content(noop), timeout, want_idle=False)
        sync_iopub(kernel, timeout)
    except (TimeoutError, KernelDied) as e:
        kernel.close(grace=0.5)
        raise LaunchError(f"{type(e).__name__}: {e} (log: {kernel.log_tail()})") from None
    c = info.reply.content
    return {"kernel_info_s": info.t_reply - kernel.t_launch, "first_execute_s": ex.t_reply - kernel.t_launch,
            "implementation": f"{c.get('implementation', '?')} {c.get('implementation_version', '?')}",
            "protocol_version": c.get("protocol_version", "?")}


def sync_iopub(kernel: Kernel, timeout: float) -> None:
    """Send kernel_info until one of them has its idle status back: the subscription is then live.
    Any attempt counts, not only the latest: a kernel may answer late rather than not at all."""
    deadline = time.perf_counter() + timeout
    sent: list = []
    try:
        while True:
            sent.append(kernel.send("kernel_info_request", {}))
            try:
                kernel.pump(lambda: any(p.done for p in sent), 0.5)
                return
            except TimeoutError:
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"no idle status on iopub within {timeout:g} s "
                                       f"({sum(p.reply is not None for p in sent)} of {len(sent)} "
                                       "kernel_info replies)") from None
    finally:
        kernel.forget(sent)


def wait_all(kernel: Kernel, ps: list, stall: float = 10.0) -> None:
    """Wait for a burst of requests, failing only when none completes for `stall` seconds. Then find
    out whether one message on control wakes the kernel (a lost wakeup: requests left unread in its
    socket) and say so in the error."""
    first_open = [0]  # requests before this index are done; checked in order, so O(1) per message

    def advanced() -> bool:
        i = first_open[0]
        while i < len(ps) and ps[i].done:
            i += 1
        moved, first_open[0] = i > first_open[0], i
        return moved or i == len(ps)

    try:
        while first_open[0] < len(ps):
            try:
                kernel.pump(advanced, stall)
            except TimeoutError:
                raise TimeoutError(_stalled(kernel, ps, first_open[0], stall)) from None
    finally:
        kernel.forget(ps)


def _stalled(kernel: Kernel, ps: list, done: int, stall: float) -> str:
    why = f"stalled: {done} of {len(ps)} requests complete, then nothing for {stall:g} s"
    kernel.send("kernel_info_request", {}, channel="control", want_idle=False)
    try:
        kernel.wait(ps, 3.0, forget=False)
        return why + "; a message on control woke it (lost wakeup)"
    except TimeoutError:
        return why


def warm_up(kernel: Kernel, code: str, n: int = 10, timeout: float = 30.0) -> dict:
    for _ in range(n):
        kernel.execute(code, timeout)
    return {"n": n}


def roundtrip(kernel: Kernel, code: str, n: int, timeout: float = 30.0) -> dict:
    """execute_request -> reply and idle, one at a time, n times."""
    samples = [_elapsed(kernel.execute(code, timeout)) for _ in range(n)]
    return {"median_us": statistics.median(samples) * 1e6, "p99_us": percentile(samples, 99) * 1e6,
            "n": n}


def _elapsed(p: Pending) -> float:
    return p.t_done - p.t_sent


def pipelined(kernel: Kernel, code: str, n: int) -> dict:
    """n execute_requests sent at once; executes per second until the last reply and idle."""
    ps = [kernel.send("execute_request", execute_content(code)) for _ in range(n)]
    wait_all(kernel, ps)
    seconds = max(p.t_done for p in ps) - ps[0].t_sent
    not_ok = sum(p.reply.content.get("status") != "ok" for p in ps)
    return {"executes_per_s": n / seconds, "seconds": seconds, "n": n, "not_ok": not_ok}


def cell(kernel: Kernel, code: str, reps: int, timeout: float = 60.0) -> dict:
    """One cell (e.g. 100 lines), run `reps` times: median time to reply and idle."""
    samples = [_elapsed(kernel.execute(code, timeout)) for _ in range(reps)]
    return {"median_ms": statistics.median(samples) * 1e3, "n": reps}


def _first_reply(kernel: Kernel, msg_type: str, content: dict, timeout: float) -> Pending | None:
    """The first request of a kind; None if the kernel does not answer it (it ignores what it lacks)."""
    try:
        return kernel.request(msg_type, content, timeout, want_idle=False)
    except TimeoutError:
        return None


def complete(kernel: Kernel, code: str, cursor: int, reps: int, timeout: float = 30.0,
             unsupported_after: float = 3.0) -> dict:
    """complete_request: the first (cold) call, then the median of `reps` warm ones, to the reply."""
    content = {"code": code, "cursor_pos": cursor}
    first = _first_reply(kernel, "complete_request", content, unsupported_after)
    if first is None:
        return {"first_ms": None, "median_ms": None, "matches": None}
    warm = [kernel.request("complete_request", content, timeout, want_idle=False) for _ in range(reps)]
    return {"first_ms": (first.t_reply - first.t_sent) * 1e3,
            "median_ms": statistics.median(p.t_reply - p.t_sent for p in warm) * 1e3,
            "matches": len(warm[-1].reply.content.get("matches") or [])}


def inspect(kernel: Kernel, code: str, cursor: int, reps: int, timeout: float = 30.0,
            unsupported_after: float = 3.0) -> dict:
    """inspect_request: median time to the reply over `reps` calls, and whether anything was found."""
    content = {"code": code, "cursor_pos": cursor, "detail_level": 0}
    if _first_reply(kernel, "inspect_request", content, unsupported_after) is None:
        return {"median_ms": None, "found": None}
    ps = [kernel.request("inspect_request", content, timeout, want_idle=False) for _ in range(reps)]
    last = ps[-1].reply.content
    return {"median_ms": statistics.median(p.t_reply - p.t_sent for p in ps) * 1e3,
            "found": bool(last.get("status") == "ok" and last.get("found"))}


def idle_rss(kernel: Kernel, settle: float = 0.3) -> dict:
    """RSS of the kernel process (and of its process tree) once it has been idle for `settle` s."""
    time.sleep(settle)
    return {"rss_mb": procfs.rss_kb(kernel.pid) / 1024, "tree_rss_mb": procfs.tree_rss_kb(kernel.pid) / 1024}


def idle_cpu(kernel: Kernel, seconds: float = 3.0) -> dict:
    """CPU time the idle kernel (whole process tree) uses over `seconds`."""
    before = procfs.tree_cpu_seconds(kernel.pid)
    time.sleep(seconds)
    return {"cpu_ms": (procfs.tree_cpu_seconds(kernel.pid) - before) * 1e3, "seconds": seconds}


def first_output(kernel: Kernel, code: str, reps: int = 1, timeout: float = 30.0) -> dict:
    """Time from the request to the first output message, for a cell that prints, then works 1 s:
    the median over `reps` such cells, and the very first one (the kernel's first print) alone."""
    ps = [kernel.execute(code, timeout) for _ in range(reps)]
    total = statistics.median(_elapsed(p) for p in ps) * 1e3
    if any(p.t_first_output is None for p in ps):
        return {"latency_ms": None, "first_ms": None, "total_ms": total}
    return {"latency_ms": statistics.median(p.t_first_output - p.t_sent for p in ps) * 1e3,
            "first_ms": (ps[0].t_first_output - ps[0].t_sent) * 1e3, "total_ms": total}


def print_flood(kernel: Kernel, code: str, lines: int, timeout: float = 180.0,
                idle_grace: float = 10.0) -> dict:
    """Print `lines` lines; time to idle, stream messages used, lines that never arrived."""
    got = {"messages": 0, "newlines": 0, "last": 0.0}

    def count(t, msg):
        got["last"] = t
        if msg.msg_type == "stream":
            got["messages"] += 1
            got["newlines"] += msg.content.get("text", "").count("\n")

    p = kernel.send("execute_request", execute_content(code), want_idle=False, on_iopub=count)
    kernel.wait([p], timeout, forget=False)
    p.want_idle = True
    idle_lost = False
    try:
        kernel.wait([p], idle_grace)  # the idle may itself be dropped by a full publisher
    except TimeoutError:
        idle_lost = True
    end = p.t_idle if p.t_idle is not None else max(got["last"], p.t_reply)
    return {"seconds": end - p.t_sent, "messages": got["messages"], "lines": lines,
            "lines_lost": max(0, lines - got["newlines"]), "idle_lost": idle_lost}


def memory_growth(kernel: Kernel, code: str, n: int, batch: int = 200) -> dict:
    """RSS before and after n executions of a small statement, sent in pipelined batches."""
    before = procfs.rss_kb(kernel.pid)
    for start in range(0, n, batch):
        ps = [kernel.send("execute_request", execute_content(code)) for _ in range(min(batch, n - start))]
        wait_all(kernel, ps)
    after = procfs.rss_kb(kernel.pid)
    return {"before_mb": before / 1024, "after_mb": after / 1024, "growth_mb": (after - before) / 1024,
            "n": n}


def interrupt(kernel: Kernel, code: str, noop: str, timeout: float = 10.0) -> dict:
    """Interrupt a sleeping cell the spec's way; time to its execute_reply, and is the kernel alive?"""
    started = {}  # the request's first iopub message (busy; akernel sends no execute_input)
    p = kernel.send("execute_request", execute_content(code),
                    on_iopub=lambda t, m: started.setdefault("t", t))
    kernel.pump(lambda: "t" in started, timeout)
    time.sleep(0.3)  # let the cell get from its first message into the sleep itself
    t0 = time.perf_counter()
    kernel.interrupt()
    result = {"mode": kernel.spec.interrupt_mode, "latency_ms": None, "status": None}
    try:
        kernel.wait([p], timeout)
        result.update(latency_ms=(p.t_reply - t0) * 1e3, status=p.reply.content.get("status"))
    except (TimeoutError, KernelDied) as e:
        result["status"] = f"no reply: {type(e).__name__}"
    try:
        kernel.execute(noop, timeout)
        result["survived"] = True
    except (TimeoutError, KernelDied):
        result["survived"] = False
    return result
