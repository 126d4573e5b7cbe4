"""A wrapper kernel with an `interrupt()` hook (sync, or with `--async-hook` an `async def`), to
test when and where the hook runs. Its `execute` understands:

    wait            blocks until the interrupt hook releases it (returns "released")
    sleep S         sleeps S seconds; the hook does not stop it
    anything else   is returned as the result

The hook reports on the kernel's stderr the thread it ran on.
"""

import asyncio
import sys
import threading
import time

from pykernel.wrapper import WrapperKernel, launch


class HookKernel(WrapperKernel):
    implementation = kernel_name = "hooks"
    language_info = {"name": "hooks", "mimetype": "text/plain", "file_extension": ".txt"}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.released = threading.Event()

    def execute(self, code):
        cmd, _, arg = code.partition(" ")
        if cmd == "wait":
            self.released.clear()
            self.print("waiting")
            self.released.wait()
            return "released"
        if cmd == "sleep":
            self.print("sleeping")
            time.sleep(float(arg))
        return code

    def interrupt(self):
        self.released.set()
        print(f"interrupt hook ran on {threading.current_thread().name}", file=sys.stderr,
              flush=True)


class AsyncHookKernel(HookKernel):
    async def interrupt(self):
        await asyncio.sleep(0)
        self.released.set()
        print(f"async interrupt hook ran on {threading.current_thread().name}", file=sys.stderr,
              flush=True)


if __name__ == "__main__":
    if "--async-hook" in sys.argv:
        sys.argv.remove("--async-hook")
        launch(AsyncHookKernel)
    else:
        launch(HookKernel)
