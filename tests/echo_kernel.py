"""A tiny language written only against the kernel core, to prove the core without IPython.

Code is echoed back on stdout, except for a few commands the tests use:
    error TEXT      an error reply (ename EchoError)
    input PROMPT    asks the frontend for a line and echoes it
    sleep S         sleeps S seconds (interruptible)
    spin S          burns CPU for S seconds while holding the GIL as much as Python lets it
    child           starts `sleep 300` and prints its pid
    system CMD      runs CMD with os.system (which ignores SIGINT in the kernel while CMD runs)
    lines N         writes N numbered lines, one write each
    stderr TEXT     writes TEXT to stderr
    result TEXT     an execute_result of TEXT
    display TEXT    a display_data of TEXT
    clear           clear_output
    page TEXT       a page payload
"""

import os
import subprocess
import time

from traitlets import Unicode

from pykernel.app import launch
from pykernel.kernel import Kernel, error_content


class EchoKernel(Kernel):
    implementation = "echo"
    kernel_name = "echo"
    display_name = "Echo"
    language_info = {"name": "echo", "mimetype": "text/plain", "file_extension": ".txt"}
    banner = "Echo kernel"
    greeting = Unicode("", help="Text put before every echo.").tag(config=True)

    def do_execute(self, ex):
        cmd, _, arg = ex.code.partition(" ")
        if cmd == "error":
            self.publish("error", {"ename": "EchoError", "evalue": arg, "traceback": [arg]})
            return error_content("EchoError", arg, [arg])
        if cmd == "input":
            self.publish_stream("stdout", self.request_input(arg) + "\n")
        elif cmd == "sleep":
            time.sleep(float(arg))
        elif cmd == "spin":
            end = time.monotonic() + float(arg)
            while time.monotonic() < end:
                pass
        elif cmd == "child":
            self.publish_stream("stdout", f"{subprocess.Popen(['sleep', '300']).pid}\n")
        elif cmd == "system":
            self.publish_stream("stdout", f"status {os.system(arg)}\n")
        elif cmd == "lines":
            for i in range(int(arg)):
                self.publish_stream("stdout", f"{i}\n")
        elif cmd == "stderr":
            self.publish_stream("stderr", arg)
        elif cmd == "result":
            self.publish("execute_result", {"execution_count": ex.execution_count,
                                            "data": {"text/plain": arg}, "metadata": {}})
        elif cmd == "display":
            self.publish_display({"text/plain": arg})
        elif cmd == "clear":
            self.publish_clear_output()
        elif cmd == "page":
            return {"status": "ok", "payload": [{"source": "page", "data": {"text/plain": arg},
                                                 "start": 0}]}
        elif not ex.silent:
            self.publish_stream("stdout", self.greeting + ex.code)
        return {"status": "ok"}

    def do_inspect(self, code, cursor_pos, detail_level):
        word = code[:cursor_pos].rsplit(" ", 1)[-1]
        found = word in ("echo", "sleep")
        return {"found": found, "data": {"text/plain": f"{word}: an echo command"} if found else {},
                "metadata": {}}

    def do_complete(self, code, cursor_pos):
        words = ["echo", "error", "input", "sleep", "spin"]
        start = code.rfind(" ", 0, cursor_pos) + 1
        prefix = code[start:cursor_pos]
        return {"matches": [w for w in words if w.startswith(prefix)], "cursor_start": start,
                "cursor_end": cursor_pos, "metadata": {}}

    def do_is_complete(self, code):
        return {"status": "incomplete", "indent": ""} if code.endswith("\\") else {"status": "complete"}


if __name__ == "__main__":
    launch(EchoKernel)
