"""The rounds of a benchmark run: which kernels, how many of everything, and in what order.

Theory of operation
- Kernels are compared only with kernels of their own language group (Python; bash), against the
  group's reference (pykernel; pykernel-bash); figures are ratios reference / peer.
- Rounds interleave: in each round every kernel is launched in turn (A B C A B C ...), so slow drift of
  the machine spreads over all kernels instead of landing on one. Each round gives one sample per figure;
  the report shows the median and min-max over rounds. Costly measurements (idle CPU, memory growth)
  run in the first round only, the print flood in the first `flood_rounds`. Interrupt runs last in
  every round, since it may leave the kernel dead.
- A kernel that is missing, fails to start or hangs is reported with the reason and the run goes on:
  every request has a deadline, and after a timeout or death the kernel is restarted for the next step.
  A kernel that does not start in the first round is not tried again.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from . import measure
from .client import Kernel, KernelSpec, LaunchError

# label, kernelspec name, language group; REFERENCE names each group's reference.
KERNELS = [
    ("floor", "floor", "python"), ("core", "bench-core", "python"), ("pykernel", "pykernel", "python"),
    ("ipykernel", "python3", "python"),
    ("xpython", "xpython", "python"), ("akernel", "akernel", "python"), ("async-kernel", "async", "python"),
    ("pykernel-bash", "bash_pykernel", "bash"), ("bash_kernel", "bash", "bash"),
]
REFERENCE = {"python": "pykernel", "bash": "pykernel-bash"}
# run no code: no output, completion, inspection or interrupt to measure. "core" is pykernel's core
# with a language that does nothing (core_kernel.py): set against the floor, the core's own cost.
PROTOCOL_ONLY = {"floor", "core"}


@dataclass(frozen=True)
class Plan:
    rounds: int
    roundtrip: int
    pipelined: int
    reps: int
    memory: int
    warmup: int = 10
    idle_seconds: float = 3.0
    flood_rounds: int = 1
    output_reps: int = 1  # printing cells per round for first-output latency (each takes 1 s)
    print_lines: int | None = None  # None: the language's own count (100,000 Python, 20,000 bash)

    def for_group(self, group: str) -> "Plan":
        """bash kernels answer in ~100 ms, not ~1 ms: the same N would take hours."""
        if group != "bash":
            return self
        return replace(self, roundtrip=max(5, self.roundtrip // 20), pipelined=max(5, self.pipelined // 20),
                       reps=max(1, self.reps // 10), memory=max(20, self.memory // 20), warmup=3)


FULL = Plan(rounds=5, roundtrip=1000, pipelined=1000, reps=20, memory=10_000, flood_rounds=3,
            output_reps=3)
QUICK = Plan(rounds=2, roundtrip=200, pipelined=200, reps=5, memory=500, idle_seconds=2.0)


class Runner:
    """Launches one kernel at a time and runs the steps of a round against it."""

    def __init__(self, python: str, bindir: str | None, workdir: Path):
        self.python, self.bindir, self.workdir = python, bindir, workdir
        self.unsupported: set = set()

    def steps(self, label: str, spec: KernelSpec, plan: Plan, heavy: bool, flood: bool) -> list:
        sn = measure.snippets(spec.language)
        code_only = label not in PROTOCOL_ONLY
        print_code, lines = sn["print_loop"]
        lines = plan.print_lines or lines
        steps = [
            ("warm_up", True, lambda k: measure.warm_up(k, sn["noop"], plan.warmup)),
            ("roundtrip", True, lambda k: measure.roundtrip(k, sn["noop"], plan.roundtrip)),
            ("pipelined", True, lambda k: measure.pipelined(k, sn["noop"], plan.pipelined)),
            ("cell100", True, lambda k: measure.cell(k, sn["cell100"], max(1, plan.reps // 2))),
            ("complete", code_only, lambda k: measure.complete(k, *sn["complete"], plan.reps)),
            ("inspect", code_only, lambda k: measure.inspect(k, *sn["inspect"], plan.reps)),
            ("idle_rss", True, measure.idle_rss),
            ("first_output", code_only,
             lambda k: measure.first_output(k, sn["first_output"], plan.output_reps)),
            ("idle_cpu", heavy, lambda k: measure.idle_cpu(k, plan.idle_seconds)),
            ("print_flood", flood and code_only,
             lambda k: measure.print_flood(k, print_code.format(n=lines), lines)),
            ("memory_growth", heavy, lambda k: measure.memory_growth(k, sn["small"], plan.memory)),
            ("interrupt", code_only, lambda k: measure.interrupt(k, sn["sleep"], sn["noop"])),
        ]
        return [(name, fn) for name, wanted, fn in steps if wanted]

    def launch(self, spec: KernelSpec) -> tuple:
        kernel = Kernel(spec, self.python, self.workdir, self.bindir)
        return kernel, measure.launch(kernel, measure.snippets(spec.language)["noop"])

    def round(self, label: str, spec: KernelSpec, plan: Plan, heavy: bool,
              flood: bool | None = None) -> dict:
        """One launch of a kernel and every step of the round: {step: figures or {"error": why}}.
        `heavy`: with the first-round-only steps; `flood`: with the print flood (default: `heavy`)."""
        out: dict = {}
        try:
            kernel, out["launch"] = self.launch(spec)
        except LaunchError as e:
            return {"launch": {"error": str(e)}}
        try:
            for name, fn in self.steps(label, spec, plan, heavy, heavy if flood is None else flood):
                if (label, name) in self.unsupported:
                    out[name] = {"unsupported": True}
                    continue
                if kernel is None:
                    kernel = self._relaunch(spec, out, name)
                    if kernel is None:
                        continue
                try:
                    out[name] = fn(kernel)
                except Exception as e:  # noqa: BLE001 -- any failure is this kernel's result; go on
                    out[name] = {"error": f"{type(e).__name__}: {e}"}
                    kernel.close(grace=0.5)
                    kernel = None
                if name in ("complete", "inspect") and out[name].get("median_ms", 0) is None:
                    self.unsupported.add((label, name))
        finally:
            if kernel is not None:
                kernel.close()
        return out

    def _relaunch(self, spec: KernelSpec, out: dict, step: str):
        try:
            return self.launch(spec)[0]
        except LaunchError as e:
            out[step] = {"error": f"restart failed: {e}"}
            return None


def select(names: str | None) -> list:
    if not names:
        return list(KERNELS)
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    chosen = [k for k in KERNELS if k[0] in wanted or k[1] in wanted]
    unknown = set(wanted) - {k[0] for k in chosen} - {k[1] for k in chosen}
    if unknown:
        sys.exit(f"unknown kernels: {', '.join(sorted(unknown))}; known: "
                 + ", ".join(k[0] for k in KERNELS))
    return chosen


def run(kernels: list, plan: Plan, kernel_dirs: list, python: str, bindir: str | None,
        log=sys.stderr) -> dict:
    """Every round of every kernel, interleaved. Returns {label: {...}} for report.py."""
    results = {}
    for label, spec_name, group in kernels:
        spec = KernelSpec.find(spec_name, kernel_dirs)
        results[label] = {"spec": spec_name, "group": group, "rounds": [],
                          "status": "ok" if spec else "missing",
                          "reason": "" if spec else f"no kernelspec {spec_name!r} in "
                                                    + ", ".join(map(str, kernel_dirs)),
                          "interrupt_mode": spec.interrupt_mode if spec else None,
                          "n": vars(plan.for_group(group))}
    with tempfile.TemporaryDirectory(prefix="kernel-bench-") as tmp:
        runner = Runner(python, bindir, Path(tmp))
        for r in range(plan.rounds):
            for label, spec_name, group in kernels:
                res = results[label]
                if res["status"] != "ok" or (r > 0 and not res["rounds"][0].get("launch", {}).get(
                        "kernel_info_s")):
                    continue  # missing, or failed to start in round one: don't retry each round
                spec = KernelSpec.find(spec_name, kernel_dirs)
                t0 = time.monotonic()
                res["rounds"].append(runner.round(label, spec, plan.for_group(group), heavy=r == 0,
                                                  flood=r < plan.flood_rounds))
                print(f"round {r + 1}/{plan.rounds} {label}: {time.monotonic() - t0:.1f} s", file=log,
                      flush=True)
        for res in results.values():
            err = res["rounds"][0].get("launch", {}).get("error") if res["rounds"] else None
            if err:
                res["status"], res["reason"] = "failed", err
    return results
