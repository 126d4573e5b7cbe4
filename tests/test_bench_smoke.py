"""The benchmark harness (bench/) runs end to end with tiny numbers.

Against the protocol floor and pykernel's bare core (bench/core_kernel.py) always, and against pykernel
when a "pykernel" kernelspec is installed where this Python's Jupyter looks for kernels. Kernels run
under this interpreter: no bench/.venv and no network needed. Timings are never asserted, only that
every figure is there and plausible.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report, rounds  # noqa: E402
from bench.client import KernelSpec  # noqa: E402

TINY = rounds.Plan(rounds=1, roundtrip=5, pipelined=5, reps=2, memory=20, warmup=2, idle_seconds=0.2,
                   print_lines=500)

# every step's figures, and which of them must be positive numbers
POSITIVE = {
    "launch": ["kernel_info_s", "first_execute_s"],
    "roundtrip": ["median_us", "p99_us"],
    "pipelined": ["executes_per_s", "seconds"],
    "cell100": ["median_ms"],
    "idle_rss": ["rss_mb", "tree_rss_mb"],
    "memory_growth": ["before_mb", "after_mb"],
    "complete": ["first_ms", "median_ms"],
    "inspect": ["median_ms"],
    "first_output": ["latency_ms", "first_ms", "total_ms"],
    "print_flood": ["seconds", "messages"],
    "interrupt": ["latency_ms"],
}
CODE_STEPS = {"complete", "inspect", "first_output", "print_flood", "interrupt"}


def write_spec(kernels: Path, name: str, argv: list, mode: str = "message") -> None:
    (kernels / name).mkdir(parents=True)
    spec = {"argv": argv, "display_name": name, "language": "python", "interrupt_mode": mode}
    (kernels / name / "kernel.json").write_text(json.dumps(spec))


@pytest.fixture
def kernels(tmp_path: Path) -> Path:
    d = tmp_path / "kernels"
    write_spec(d, "floor", [sys.executable, str(ROOT / "bench" / "floor.py"), "-f", "{connection_file}"])
    write_spec(d, "bench-core", [sys.executable, str(ROOT / "bench" / "core_kernel.py"), "-f",
                                 "{connection_file}"])
    write_spec(d, "exits", [sys.executable, "-c", "import sys; sys.exit(3)", "{connection_file}"])
    return d


def check_round(result: dict, code_steps: bool) -> None:
    assert not [(step, fig) for step, fig in result.items() if "error" in fig], result
    for step, fields in POSITIVE.items():
        if step in CODE_STEPS and not code_steps:
            assert step not in result
            continue
        for field in fields:
            value = result[step][field]
            assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, \
                (step, field, value)
    assert result["roundtrip"]["p99_us"] >= result["roundtrip"]["median_us"]
    assert result["idle_cpu"]["cpu_ms"] >= 0
    assert result["pipelined"]["not_ok"] == 0


def test_floor_round(kernels: Path, tmp_path: Path) -> None:
    spec = KernelSpec.find("floor", [kernels])
    runner = rounds.Runner(sys.executable, None, tmp_path)
    result = runner.round("floor", spec, TINY, heavy=True)
    check_round(result, code_steps=False)
    assert result["launch"]["implementation"] == "bench-floor 0"


def test_core_round(kernels: Path, tmp_path: Path) -> None:
    spec = KernelSpec.find("bench-core", [kernels])
    runner = rounds.Runner(sys.executable, None, tmp_path)
    result = runner.round("core", spec, TINY, heavy=True)
    check_round(result, code_steps=False)
    assert result["launch"]["implementation"].startswith("bench-core ")


def test_run_reports_missing_and_failed_kernels_and_carries_on(kernels: Path) -> None:
    chosen = [("floor", "floor", "python"), ("pykernel", "no-such-spec", "python"),
              ("ipykernel", "exits", "python")]
    results = rounds.run(chosen, TINY, [kernels], sys.executable, None, log=sys.stdout)
    assert results["floor"]["status"] == "ok" and len(results["floor"]["rounds"]) == 1
    assert results["pykernel"]["status"] == "missing" and "no-such-spec" in results["pykernel"]["reason"]
    assert results["ipykernel"]["status"] == "failed"
    assert "exit code 3" in results["ipykernel"]["reason"]

    text = report.markdown(results, {"command": "`test`"}, rounds.REFERENCE)
    assert "## Targets" in text
    rows = [line for line in text.splitlines() if line.startswith("| `pass` round trip, median")]
    assert len(rows) == 1  # figures; no ratios, the reference (pykernel) being missing
    assert rows[0].count("missing") == 1 and rows[0].count("failed") == 1
    assert "Ratios pykernel / peer" not in text


def test_report_keeps_observations(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    out.write_text("# old\n\n## Targets\n\nold verdicts\n\n## Observations\n\nseen by hand\n\n"
                   "## Run\n\nold figures\n")
    report.write(out, "# Kernel benchmark results\n\n## Targets\n\nnew verdicts\n\n"
                      + "\n".join(report.OBSERVATIONS) + "\n## Run\n\nnew figures\n")
    text = out.read_text()
    assert "seen by hand" in text and "written by hand after a run" not in text
    assert "new verdicts" in text and "new figures" in text
    assert "old verdicts" not in text and "old figures" not in text
    assert text.index("## Targets") < text.index("## Observations") < text.index("## Run")


def figures(**steps) -> dict:
    """A kernel's results with one round holding the given {step: {field: value}}."""
    return {"status": "ok", "group": "python", "rounds": [steps]}


def test_targets_are_judged_from_the_figures() -> None:
    results = {
        "pykernel": figures(roundtrip={"median_us": 500}, first_output={"latency_ms": 30.0},
                            print_flood={"seconds": 0.5, "lines_lost": 0, "idle_lost": False}),
        "xpython": figures(roundtrip={"median_us": 1000}),
        "ipykernel": figures(print_flood={"seconds": 1.0, "lines_lost": 0, "idle_lost": False}),
    }
    targets = {t[1]: t for t in report.TARGETS}
    verdicts = {name: report.judge(results, rounds.REFERENCE, t) for name, t in targets.items()}
    assert verdicts["`pass` round trip ≤ 0.7× xeus-python"][1] == "**met**"
    assert verdicts["first output ≤ 20 ms"][1] == "**not met**"
    assert verdicts["100k printed lines: time to idle ≤ ipykernel, zero lost"][1] == "**met**"
    assert verdicts["pipelined executes/s ≥ xeus-python"][1].startswith("not measured")
    assert verdicts["`true` round trip ≤ 1/50 of bash_kernel"][1].startswith("not measured")

    results["pykernel"]["rounds"][0]["print_flood"]["lines_lost"] = 3
    flood = report.judge(results, rounds.REFERENCE,
                         targets["100k printed lines: time to idle ≤ ipykernel, zero lost"])
    assert flood[1].startswith("**not met**") and "3 lines lost" in flood[0]


def pykernel_spec() -> KernelSpec | None:
    try:
        from jupyter_core.paths import jupyter_path
    except ImportError:
        return None
    return KernelSpec.find("pykernel", jupyter_path("kernels"))


def test_pykernel_round(tmp_path: Path) -> None:
    spec = pykernel_spec()
    if spec is None:
        pytest.skip("no 'pykernel' kernelspec installed for this Python's Jupyter")
    runner = rounds.Runner(sys.executable, str(Path(sys.executable).parent), tmp_path)
    result = runner.round("pykernel", spec, TINY, heavy=True)
    check_round(result, code_steps=True)
    flood = result["print_flood"]
    assert flood["lines"] == 500 and 0 <= flood["lines_lost"] <= 500
    assert isinstance(result["interrupt"]["survived"], bool)


def test_memory_floor_prints_every_stage() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "memfloor.py"), "3"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    stages = [line.split("  ")[0] for line in out.splitlines()]
    assert stages == ["python started", "import zmq", "IPython shell", "3 cells", "jedi completion",
                      "inspection"], out
    assert all(line.endswith(" MB") for line in out.splitlines())


def kernel(group: str, **steps) -> dict:
    plan = vars(TINY.for_group(group))
    return {"status": "ok", "group": group, "spec": group, "reason": "", "interrupt_mode": "signal",
            "n": plan, "rounds": [steps]}


def fake_results() -> dict:
    launch = {"kernel_info_s": 0.2, "first_execute_s": 0.3}
    return {
        "floor": kernel("python", launch=launch, roundtrip={"median_us": 100, "p99_us": 200}),
        "pykernel": kernel("python", launch=launch, roundtrip={"median_us": 500, "p99_us": 900},
                           pipelined={"executes_per_s": 1000}, first_output={"latency_ms": 4.0}),
        "ipykernel": kernel("python", launch=launch, roundtrip={"median_us": 2000, "p99_us": 3000},
                            pipelined={"executes_per_s": 200}, first_output={"latency_ms": 200.0}),
        "akernel": {**kernel("python"), "status": "missing", "reason": "no kernelspec"},
    }


def table_rows(text: str) -> list[list[str]]:
    """Each Markdown table's body rows, as cells."""
    tables, current = [], None
    for line in text.splitlines():
        if line.startswith("|---"):
            current = []
            tables.append(current)
        elif line.startswith("| ") and current is not None:
            current.append([c.strip() for c in line.strip("|").split("|")])
        else:
            current = None
    return tables


def test_report_tables_have_no_empty_or_duplicated_rows() -> None:
    text = report.markdown(fake_results(), {"command": "`test`"}, rounds.REFERENCE)
    tables = table_rows(text)
    assert tables
    for rows in tables:
        assert len({tuple(r) for r in rows}) == len(rows), rows
        for row in rows:
            assert any(c not in ("—", "missing", "failed") for c in row[1:]), row
    assert "| `pass` round trip, median (µs) |" in text
    assert "| inspect " not in text  # no kernel measured it: no row


def test_summary_gives_targets_and_headline_ratios() -> None:
    text = report.summary(fake_results(), rounds.REFERENCE, "bench/last-run.md")
    lines = text.splitlines()
    assert len(lines) < 25
    assert any(line.startswith("Targets: ") for line in lines)
    assert "- met: first output ≤ 20 ms: 4 ms (limit 20 ms)" in lines
    assert "| no-op round trip | 0.25 |" in lines and "| executes/s | 5.00 |" in lines
    assert "floor" not in text and "akernel" not in text  # protocol-only and missing kernels
    assert lines[-1] == "Full tables: bench/last-run.md"


def test_report_keeps_the_browser_latency_section(tmp_path: Path) -> None:
    from bench import latency

    out = tmp_path / "RESULTS.md"
    out.write_text("# old\n\n## Targets\n\nold verdicts\n\n## Run\n\nold figures\n")
    latency.write_section(out, f"## {latency.TITLE}\n\nfirst latency figures\n")
    latency.write_section(out, f"## {latency.TITLE}\n\nlatency figures\n")
    report.write(out, "# Kernel benchmark results\n\n## Targets\n\nnew verdicts\n\n## Run\n\nnew figures\n")
    text = out.read_text()
    assert "new figures" in text and "old figures" not in text
    assert text.count(f"## {latency.TITLE}") == 1 and "first latency" not in text
    assert text.index("## Run") < text.index("latency figures")


def test_kernel_websocket_frames_round_trip() -> None:
    from bench import kernelws

    parts = [b'{"msg_type": "execute_request"}', b"{}", b"{}", b'{"code": "1+1"}', b"\x00buffer"]
    frame = kernelws.pack("shell", parts)
    assert kernelws.unpack(frame) == ("shell", parts)
    assert int.from_bytes(frame[:8], "little") == len(parts) + 2  # offsets: channel start, then ends
