"""Turns the runner's per-round figures into Markdown: targets, absolute figures, ratios, and context.

Theory: a figure is the median over rounds with the min-max beside it; a ratio is reference / peer of
those medians, with the min-max of the per-round ratios (rounds were interleaved, so round r of two
kernels ran minutes apart at most). A step that errored says so in its cell and the reason goes to the
notes, so a broken kernel is visible rather than silently absent. Targets are judged from the same
medians, and say in how many rounds they held too. The report is regenerated whole, except the
"Observations" section, which is written by hand and kept from the existing file.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import zmq

from .measure import SNIPPETS

# step, field, row label, scale to the unit shown, unit, which way is better ("" for no ratio)
METRICS = [
    ("launch", "kernel_info_s", "launch → first kernel_info_reply", 1e3, "ms", "lower"),
    ("launch", "first_execute_s", "launch → first execute_reply", 1e3, "ms", "lower"),
    ("roundtrip", "median_us", "`{noop}` round trip, median", 1, "µs", "lower"),
    ("roundtrip", "p99_us", "`{noop}` round trip, p99", 1, "µs", "lower"),
    ("pipelined", "executes_per_s", "executes/s, {pipelined} sent at once", 1, "/s", "higher"),
    ("cell100", "median_ms", "100-line cell", 1, "ms", "lower"),
    ("complete", "first_ms", "complete `{complete}`, first call", 1, "ms", "lower"),
    ("complete", "median_ms", "complete `{complete}`, warm median", 1, "ms", "lower"),
    ("inspect", "median_ms", "inspect `{inspect}`", 1, "ms", "lower"),
    ("first_output", "first_ms", "first output of the kernel's first printing cell", 1, "ms", "lower"),
    ("first_output", "latency_ms", "first output of a printing cell, median of {output_reps}", 1, "ms",
     "lower"),
    ("print_flood", "seconds", "{lines} printed lines until idle", 1, "s", "lower"),
    ("print_flood", "messages", "… stream messages used", 1, "", ""),
    ("print_flood", "lines_lost", "… lines lost", 1, "", ""),
    ("idle_rss", "rss_mb", "RSS after warm-up", 1, "MB", "lower"),
    ("idle_rss", "tree_rss_mb", "RSS with child processes", 1, "MB", "lower"),
    ("idle_cpu", "cpu_ms", "CPU used while idle for {idle} s (10 ms ticks)", 1, "ms", "lower"),
    ("memory_growth", "growth_mb", "RSS growth over {memory} executions", 1, "MB", ""),
    ("interrupt", "latency_ms", "interrupt → execute_reply", 1, "ms", "lower"),
    ("interrupt", "survived", "answers after interrupt", 1, "", ""),
]


def values(res: dict, step: str, field: str) -> list:
    """The figure from each round, None where that round had none."""
    out = []
    for rnd in res["rounds"]:
        fig = rnd.get(step)
        out.append(None if fig is None or "error" in fig else fig.get(field))
    return out


def _num(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int) or abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"


def cell(res: dict, step: str, field: str, scale: float, notes: list, label: str) -> str:
    """Median (min–max) over the rounds that produced the figure; rounds whose step failed are
    counted in a marker pointing to a note (one note per kernel and step, shared by its rows)."""
    if res["status"] != "ok":
        return res["status"]
    errors = [r[step]["error"] for r in res["rounds"] if "error" in r.get(step, {})]
    marker = ""
    if errors:
        ran = sum(step in r for r in res["rounds"])
        note = f"{label} {step}, {len(errors)} of {ran} rounds: {errors[0]}"
        if note not in notes:
            notes.append(note)
        short = "timeout" if errors[0].startswith("TimeoutError") else "died" if "KernelDied" in errors[0] \
            else "failed"
        marker = f"{short} [{notes.index(note) + 1}]"
    vs = [v for v in values(res, step, field) if v is not None]
    if not vs:
        return marker or "—"
    if isinstance(vs[0], bool):
        text = "/".join(_num(v) for v in vs)
    else:
        vs = [v * scale for v in vs]
        med = statistics.median(vs)
        text = _num(med) if len(vs) == 1 else f"{_num(med)} ({_num(min(vs))}–{_num(max(vs))})"
    return f"{text}; {len(errors)} {marker}" if marker else text


def fmt_ratio(r: float) -> str:
    """A ratio as a reader takes it in: 0.42, 1/250 below a tenth, 37 above ten."""
    if r < 0.1:
        return f"1/{1 / r:,.0f}"
    return f"{r:.2f}" if r < 10 else f"{r:,.0f}"


def _ratios(ref: dict, peer: dict, step: str, field: str) -> tuple:
    """(ratio of the medians, [per-round ratios]) or (None, []) when either side has no figure."""
    if ref["status"] != "ok" or peer["status"] != "ok":
        return None, []
    a, b = values(ref, step, field), values(peer, step, field)
    a_ok, b_ok = [x for x in a if x], [x for x in b if x]
    if not a_ok or not b_ok:
        return None, []
    return statistics.median(a_ok) / statistics.median(b_ok), [x / y for x, y in zip(a, b) if x and y]


def ratio(ref: dict, peer: dict, step: str, field: str) -> str:
    med, pairs = _ratios(ref, peer, step, field)
    if med is None:
        return "—"
    if len(pairs) > 1:
        return f"{fmt_ratio(med)} ({fmt_ratio(min(pairs))}–{fmt_ratio(max(pairs))})"
    return fmt_ratio(med)


def _label(template: str, n: dict, sn: dict) -> str:
    """A row label with the run's own numbers and the language's own snippets filled in."""
    lines = n.get("print_lines") or sn["print_loop"][1]
    return template.format(noop=sn["noop"], complete=sn["complete"][0], inspect=sn["inspect"][0],
                           lines=f"{lines:,}", pipelined=n["pipelined"], output_reps=n.get("output_reps", 1),
                           memory=f"{n['memory']:,}",
                           idle=f"{n['idle_seconds']:g}")


def group_tables(results: dict, group: str, reference: str, notes: list) -> list:
    labels = [k for k, r in results.items() if r["group"] == group]
    if not labels:
        return []
    n = results[labels[0]]["n"]
    sn = SNIPPETS[group]
    out = [f"### {group.capitalize()} kernels", "",
           f"N: {n['roundtrip']} round trips, {n['pipelined']} pipelined, {n['reps']} reps of "
           f"complete/inspect, {n['memory']:,} executions for memory growth; rounds: "
           f"{max((len(results[k]['rounds']) for k in labels), default=0)}.", "",
           "| | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    rows = Rows()
    for step, field, tmpl, scale, unit, _ in METRICS:
        name = _label(tmpl, n, sn) + (f" ({unit})" if unit else "")
        rows.add(name, [cell(results[k], step, field, scale, notes, k) for k in labels])
    out += rows.lines
    peers = [k for k in labels if k != reference]
    if reference in results and peers:
        rows = Rows()
        for step, field, tmpl, _, _, better in METRICS:
            if better:
                rows.add(_label(tmpl, n, sn), [ratio(results[reference], results[k], step, field)
                                               for k in peers])
        if rows.lines:
            out += ["", f"Ratios {reference} / peer (median, min–max over rounds). Lower is better "
                        "except executes/s.", "",
                    "| | " + " | ".join(peers) + " |", "|---" * (len(peers) + 1) + "|", *rows.lines]
    return out + [""]


class Rows:
    """Table rows, leaving out a row with no figure in any column (a step no kernel of the table
    measures, e.g. with --quick or --kernels) and a row whose label was already used."""

    def __init__(self) -> None:
        self.lines: list = []
        self._seen: set = set()

    def add(self, label: str, cells: list) -> None:
        if label in self._seen or all(c in ("—", "missing", "failed") for c in cells):
            return
        self._seen.add(label)
        self.lines.append(f"| {label} | " + " | ".join(cells) + " |")


# The figures of the short summary printed at the end of a run: the ones the targets are about.
HEADLINES = [("roundtrip", "median_us", "no-op round trip"), ("pipelined", "executes_per_s", "executes/s"),
             ("cell100", "median_ms", "100-line cell"), ("first_output", "latency_ms", "first output"),
             ("print_flood", "seconds", "print flood to idle"), ("idle_rss", "tree_rss_mb", "RSS (tree)")]


def summary(results: dict, reference: dict, full_report: str) -> str:
    """A few lines for the terminal: targets met, then each reference's headline ratios per peer."""
    met = [(t[1], *judge(results, reference, t)) for t in TARGETS]
    judged = [m for m in met if not m[2].startswith("not measured")]
    out = ["## Summary", "", f"Targets: {sum(m[2].startswith('**met**') for m in judged)} of "
           f"{len(judged)} measured met ({len(TARGETS) - len(judged)} not measured).", ""]
    out += [f"- {verdict.replace('**', '')}: {name}: {figure}" for name, figure, verdict in judged]
    for group, ref in reference.items():
        peers = [k for k, r in results.items() if r["group"] == group and k != ref
                 and r["status"] == "ok" and k not in ("floor", "core")]
        if ref not in results or results[ref]["status"] != "ok" or not peers:
            continue
        rows = Rows()
        for step, field, label in HEADLINES:
            rows.add(label, [fmt_ratio(m) if (m := _ratios(results[ref], results[k], step, field)[0])
                             else "—" for k in peers])
        if rows.lines:
            out += ["", f"{ref} / peer, medians (lower is better except executes/s):", "",
                    "| | " + " | ".join(peers) + " |", "|---" * (len(peers) + 1) + "|", *rows.lines]
    return "\n".join(out + ["", f"Full tables: {full_report}"])


# group, what is promised, step, field, peer (None: an absolute limit), limit, "max" or "min" (which side
# of the limit the ratio reference / peer, or the reference's own figure, must stay on)
TARGETS = [
    ("python", "`pass` round trip ≤ 0.7× xeus-python", "roundtrip", "median_us", "xpython", 0.7, "max"),
    ("python", "pipelined executes/s ≥ xeus-python", "pipelined", "executes_per_s", "xpython", 1.0, "min"),
    ("python", "100-line cell ≤ xeus-python", "cell100", "median_ms", "xpython", 1.0, "max"),
    ("python", "completion (warm median) ≤ ipykernel", "complete", "median_ms", "ipykernel", 1.0, "max"),
    ("python", "100k printed lines: time to idle ≤ ipykernel, zero lost", "print_flood", "seconds",
     "ipykernel", 1.0, "max"),
    ("python", "first output ≤ 20 ms", "first_output", "latency_ms", None, 20.0, "max"),
    # with child processes: a kernel's helper processes are part of what it costs
    ("python", "RSS after warm-up (with child processes) ≤ 0.65× ipykernel", "idle_rss", "tree_rss_mb",
     "ipykernel", 0.65, "max"),
    ("bash", "`true` round trip ≤ 1/50 of bash_kernel", "roundtrip", "median_us", "bash_kernel", 1 / 50,
     "max"),
    ("bash", "100-line cell ≤ 1/200 of bash_kernel", "cell100", "median_ms", "bash_kernel", 1 / 200, "max"),
    ("bash", "launch → first execute_reply ≤ 1/5 of bash_kernel", "launch", "first_execute_s", "bash_kernel",
     1 / 5, "max"),
    ("bash", "20k echo lines no slower than bash_kernel, zero lost", "print_flood", "seconds", "bash_kernel",
     1.0, "max"),
]


def _holds(x: float, limit: float, side: str) -> bool:
    return x <= limit if side == "max" else x >= limit


def judge(results: dict, reference: dict, target: tuple) -> tuple:
    """(figure text, verdict text) for one target."""
    group, _, step, field, peer, limit, side = target
    ref = results.get(reference[group])
    if ref is None or ref["status"] != "ok" or (peer and (peer not in results
                                                          or results[peer]["status"] != "ok")):
        return "—", "not measured (kernel not run)"
    if peer:
        med, per_round = _ratios(ref, results[peer], step, field)
        if med is None:
            return "—", "not measured (no figure: see the tables)"
        figure = f"{fmt_ratio(med)}× (limit {fmt_ratio(limit)})"
    else:
        per_round = [v for v in values(ref, step, field) if v is not None]
        if not per_round:
            return "—", "not measured (no figure: see the tables)"
        med = statistics.median(per_round)
        figure = f"{_num(med)} ms (limit {limit:g} ms)"  # the absolute targets are all latencies
    ok = _holds(med, limit, side)
    held = sum(_holds(x, limit, side) for x in per_round)
    extra = []
    if step == "print_flood":
        lost = [r["print_flood"].get("lines_lost") for r in ref["rounds"]
                if "error" not in r.get("print_flood", {"error": 1})]
        idle_lost = any(r["print_flood"].get("idle_lost") for r in ref["rounds"]
                        if "error" not in r.get("print_flood", {"error": 1}))
        lost_total = sum(x or 0 for x in lost)
        figure += f"; {lost_total:,} lines lost" + ("; idle status lost" if idle_lost else "")
        ok = ok and lost_total == 0 and not idle_lost
        if lost_total:
            extra.append("lines were lost")
    verdict = "**met**" if ok else "**not met**"
    if len(per_round) > 1:
        extra.append(f"held in {held} of {len(per_round)} rounds")
    return figure, verdict + (f" ({'; '.join(extra)})" if extra else "")


def targets_section(results: dict, reference: dict) -> list:
    rows, met, judged = [], 0, 0
    for target in TARGETS:
        figure, verdict = judge(results, reference, target)
        if not verdict.startswith("not measured"):
            judged += 1
            met += verdict.startswith("**met**")
        rows.append(f"| {reference[target[0]]} | {target[1]} | {figure} | {verdict} |")
    unjudged = f"; {len(TARGETS) - judged} not measured" if judged < len(TARGETS) else ""
    return ["## Targets", "",
            f"{met} of {len(TARGETS)} targets met{unjudged}. Judged on medians over rounds; ratios are "
            "reference / peer.", "",
            "| kernel | target | measured | verdict |", "|---|---|---|---|", *rows, ""]


def core_section(results: dict) -> list:
    """What pykernel's core costs over the bare protocol loop, and what the Python layer adds on top."""
    names = ("floor", "core", "pykernel")
    if any(n not in results or results[n]["status"] != "ok" for n in names):
        return []

    def med(label, step, field):
        vs = [v for v in values(results[label], step, field) if v]
        return statistics.median(vs) if vs else None

    rt = {n: med(n, "roundtrip", "median_us") for n in names}
    per = {n: (1e6 / r if (r := med(n, "pipelined", "executes_per_s")) else None) for n in names}
    if None in rt.values() or None in per.values():
        return []
    out = ["## The core's own cost", "",
           "`core` is pykernel's kernel core with a language that runs nothing (bench/core_kernel.py); "
           "`floor` is a bare protocol loop on the same wire layer (bench/floor.py). Both send exactly "
           "what an execute needs: one request in; busy, execute_input, execute_reply and idle out "
           "(5 messages). The differences are medians over rounds.", "",
           "| µs | floor | core | pykernel | core − floor | pykernel − core |", "|---|---|---|---|---|---|"]
    for label, fig in (("`pass` round trip, median", rt), ("per execute, pipelined", per)):
        out.append(f"| {label} | {fig['floor']:.0f} | {fig['core']:.0f} | {fig['pykernel']:.0f} | "
                   f"{fig['core'] - fig['floor']:.0f} | {fig['pykernel'] - fig['core']:.0f} |")
    def per_message(diff: float) -> str:
        if diff >= 0:
            return f"adds {diff / 5:.0f} µs per message"
        return f"is {-diff / 5:.0f} µs per message faster than the one-thread floor (no measurable cost)"

    out += ["", f"On a lone round trip the core {per_message(rt['core'] - rt['floor'])}; with requests "
                f"pipelined it {per_message(per['core'] - per['floor'])}. Running the code (IPython, output "
                f"capture) adds {rt['pykernel'] - rt['core']:.0f} µs per `pass`.", ""]
    return out


def interrupt_notes(results: dict, notes: list) -> None:
    """One note per kernel whose interrupt went wrong in any round: what happened, in how many."""
    for label, res in results.items():
        figs = [r["interrupt"] for r in res["rounds"]
                if "interrupt" in r and "error" not in r["interrupt"]]
        bad = [f for f in figs
               if str(f.get("status", "")).startswith("no reply") or f.get("survived") is False]
        if bad:
            notes.append(f"{label} interrupt ({bad[0].get('mode')} mode), in {len(bad)} of {len(figs)} "
                         f"rounds: {bad[0].get('status')}; answers afterwards: "
                         f"{'yes' if bad[0].get('survived') else 'no'}")


OBSERVATIONS = ["## Observations", "", "(written by hand after a run; kept when the report is regenerated)",
                ""]


def markdown(results: dict, meta: dict, reference: dict) -> str:
    """The whole report; `reference` maps each language group to the label ratios are taken against."""
    notes: list = []
    body = ["# Kernel benchmark results", "", *targets_section(results, reference), *OBSERVATIONS,
            *core_section(results), "## Run", ""] + [f"- {k}: {v}" for k, v in meta.items()] + [
            "", "## Kernels", ""]
    for label, r in results.items():
        impl = r["rounds"][0].get("launch", {}) if r["rounds"] else {}
        body.append(f"- {label}: spec `{r['spec']}`, {r['status']}"
                    + (f" — {impl.get('implementation')}, protocol {impl.get('protocol_version')}, "
                       f"interrupt_mode {r['interrupt_mode']}" if impl.get("implementation") else "")
                    + (f" — {r['reason']}" if r["reason"] else ""))
    body += ["", "## Figures", ""]
    for group, ref in reference.items():
        body += group_tables(results, group, ref, notes)
    interrupt_notes(results, notes)
    if notes:
        body += ["## Notes", ""] + [f"{i}. {t}" for i, t in enumerate(notes, 1)] + [""]
    return "\n".join(body)


def source_state(repo: Path) -> str:
    """The commit the kernels under test were run from, and whether their sources differed from it
    (pykernel and its bash kernel are editable installs of this working tree)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return "unknown (not a git checkout)"
    changed = git("status", "--porcelain", "--", "pykernel", "examples/bash_kernel", "bench").splitlines()
    return f"git {head}" + (f", with {len(changed)} uncommitted changes in pykernel/, examples/bash_kernel/, "
                            "bench/" if changed else ", clean")


def context(command: str, seconds: float, manifest: Path, source: str = "") -> dict:
    """Machine, versions and the command, for the report's header."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    meta = {"command": f"`{command}`", "wall time": f"{seconds:.0f} s",
            "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{os.cpu_count()} CPUs, {cpu}, {mem_kb / 2**20:.1f} GiB RAM, {platform.platform()}",
            "client": f"Python {sys.version.split()[0]}, pyzmq {zmq.__version__}, libzmq {zmq.zmq_version()}"}
    try:
        versions = json.loads(manifest.read_text())["versions"]
        meta["bench env"] = ", ".join(f"{k} {v}" for k, v in versions.items() if v)
    except (OSError, ValueError, KeyError):
        meta["bench env"] = "unknown (no bench/.venv/bench-setup.json)"
    if source:
        meta["source"] = source
    return meta


def _section(text: str, title: str) -> tuple:
    """(start, end) of the section headed `## {title}`, or None."""
    start = text.find(f"## {title}\n")
    if start < 0:
        return None
    end = text.find("\n## ", start + 1)
    return start, (end + 1 if end >= 0 else len(text))


#: Sections of RESULTS.md that another command writes (bench/latency.py): kept as they are.
OTHER_SECTIONS = ("In the browser: what a JupyterLab user waits on",)


def write(path: Path, text: str) -> None:
    """Write the report, keeping the hand-written Observations section of an existing file and the
    sections other benchmarks put there."""
    old = path.read_text() if path.exists() else ""
    kept, new = _section(old, "Observations"), _section(text, "Observations")
    if kept and new:
        text = text[:new[0]] + old[kept[0]:kept[1]].rstrip() + "\n\n" + text[new[1]:]
    for title in OTHER_SECTIONS:
        other = _section(old, title)
        if other:
            text = text.rstrip() + "\n\n" + old[other[0]:other[1]].rstrip() + "\n"
    path.write_text(text)
