"""Output throughput of two pykernel source trees, side by side in interleaved rounds.

    python bench/output_ab.py OLD_TREE NEW_TREE [--rounds N] [--cases a,b]

A tree may be followed by kernel arguments after "::", e.g. `NEW_TREE::--KernelApp.iopub_hwm=0`.

Each round starts `python -m pykernel` from each tree (alternating which goes first) and times, from
the execute_request to its `idle`, with one raw zmq client reading everything:
- flood: `for i in range(100000): print(i)` (the 100k-line flood of bench/run.py);
- print100: 100 MiB printed in 1 KiB lines;
- display50: one display_data of 50 MB of text.
It checks that every line and byte arrived. Medians over rounds are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import zmq

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pykernel.transport import free_port  # noqa: E402
from pykernel.wire import Session  # noqa: E402

CASES = {
    "flood": ("for i in range(100000): print(i)", "".join(f"{i}\n" for i in range(100000))),
    "print100": ("import sys\nline = 'x' * 1023 + '\\n'\nfor _ in range(100 * 1024):\n"
                 "    sys.stdout.write(line)", None),
    "display50": ("from IPython.display import display\n"
                  "display({'text/plain': 'y' * 50_000_000}, raw=True)", None),
}
EXPECTED = {"flood": len(CASES["flood"][1]), "print100": 100 << 20, "display50": 50_000_000}


class Client:
    def __init__(self, tree: str, workdir: str):
        tree, *extra = tree.split("::")
        self.key = uuid.uuid4().hex
        ports = {p: free_port() for p in ("shell_port", "iopub_port", "stdin_port",
                                          "control_port", "hb_port")}
        conn = os.path.join(workdir, f"k-{uuid.uuid4().hex}.json")
        with open(conn, "w") as f:
            json.dump({"transport": "tcp", "ip": "127.0.0.1", "key": self.key,
                       "signature_scheme": "hmac-sha256", **ports}, f)
        env = dict(os.environ, PYTHONPATH=tree)
        self.proc = subprocess.Popen([sys.executable, "-m", "pykernel", "-f", conn,
                                      "--no-parent-watch", *extra], cwd=tree, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.session = Session(self.key.encode())
        ctx = zmq.Context.instance()
        self.shell = ctx.socket(zmq.DEALER)
        self.shell.connect(f"tcp://127.0.0.1:{ports['shell_port']}")
        self.iopub = ctx.socket(zmq.SUB)
        self.iopub.connect(f"tcp://127.0.0.1:{ports['iopub_port']}")
        self.iopub.subscribe(b"")
        self._welcome()
        self.run("pass")

    def _welcome(self, timeout: float = 60.0) -> None:
        """Wait for the kernel's iopub_welcome: from then on nothing published is missed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.iopub.poll(1000) and self.session.deserialize(
                    self.iopub.recv_multipart()).msg_type == "iopub_welcome":
                return
        raise TimeoutError("no iopub_welcome")

    def run(self, code: str, timeout: float = 300.0) -> tuple[float, int]:
        """Seconds to idle, and characters of output (stream text or text/plain) received."""
        frames = self.session.serialize("execute_request", {
            "code": code, "silent": False, "store_history": False, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True})
        msg_id = json.loads(frames[2])["msg_id"]
        start = time.perf_counter()
        self.shell.send_multipart(frames)
        size = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.iopub.poll(1000):
                continue
            msg = self.session.deserialize(self.iopub.recv_multipart())
            if msg.parent_header.get("msg_id") != msg_id:
                continue
            if msg.msg_type == "stream":
                size += len(msg.content["text"])
            elif msg.msg_type == "display_data":
                size += len(msg.content["data"].get("text/plain", ""))
            elif msg.msg_type == "status" and msg.content["execution_state"] == "idle":
                return time.perf_counter() - start, size
        raise TimeoutError(code)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.shell.close(linger=0)
        self.iopub.close(linger=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cases", default=",".join(CASES))
    args = ap.parse_args()
    cases = {c: CASES[c] for c in args.cases.split(",")}
    trees = {"old": args.old, "new": args.new}
    times: dict = {(t, c): [] for t in trees for c in cases}
    with tempfile.TemporaryDirectory() as work:
        for r in range(args.rounds):
            order = list(trees) if r % 2 == 0 else list(trees)[::-1]
            for label in order:
                client = Client(trees[label], work)
                try:
                    for case, (code, _) in cases.items():
                        seconds, size = client.run(code)
                        if size != EXPECTED[case]:
                            print(f"{label} {case}: {size} of {EXPECTED[case]} characters",
                                  file=sys.stderr)
                        times[label, case].append(seconds)
                finally:
                    client.close()
            print(f"round {r + 1} done", file=sys.stderr)
    print("| case | old: median (min) s | new: median (min) s | new / old, medians |\n"
          "|---|---|---|---|")
    for case in cases:
        old, new = times["old", case], times["new", case]
        ratio = statistics.median(new) / statistics.median(old)
        print(f"| {case} | {statistics.median(old):.3f} ({min(old):.3f}) | "
              f"{statistics.median(new):.3f} ({min(new):.3f}) | {ratio:.2f} |")


if __name__ == "__main__":
    main()
