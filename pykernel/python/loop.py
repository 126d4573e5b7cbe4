"""The asyncio loop behind top-level `await`, and what keeps its tasks going between cells.

Theory of operation
- Cells run as IPython runs them: a cell without `await` runs as plain code, outside any loop (so
  `asyncio.run()` and libraries that run their own loop work in it); a cell with top-level
  `await` / `async for` / `async with` runs on a loop through `LoopRunner`, IPython's `loop_runner`.
- One loop per thread, kept between cells: the main thread's is IPython's own (and the thread's
  current loop, so `asyncio.get_event_loop()` in a plain cell returns it too); a subshell thread gets
  its own loop.
- Between requests the main thread waits for messages, not on the loop. So that tasks a cell started
  (`asyncio.create_task`, `ensure_future`) keep running while the kernel is idle, `resume` hands the
  main loop to a helper thread that runs it until `pause` takes it back, before the main thread runs
  anything else of the user's. Nothing of this happens unless the loop has tasks: plain cells pay one
  attribute check. Tasks carry the context they were created in, so their output goes to their cell.
- An interrupt while the loop waits (the cell's code is not running, so it cannot get the
  KeyboardInterrupt) cancels the cell's task: it ends at its `await` with CancelledError.
"""

from __future__ import annotations

import threading
from typing import Any


class LoopRunner:
    """IPython's `loop_runner` (see the module docstring)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._idle: threading.Thread | None = None
        self._idle_loop: Any = None

    def loop(self) -> Any:
        import asyncio

        if threading.current_thread() is threading.main_thread():
            from IPython.core import async_helpers

            loop = _main_loop()
            if loop is None:
                loop = async_helpers.get_asyncio_loop()
            async_helpers._asyncio_event_loop = loop
            asyncio.set_event_loop(loop)
            return loop
        loop = getattr(self._local, "loop", None)
        if loop is None or loop.is_closed():
            loop = self._local.loop = asyncio.new_event_loop()
        return loop

    def __call__(self, coro: Any) -> Any:
        loop = self.loop()
        task = loop.create_task(coro)
        try:
            return loop.run_until_complete(task)
        except KeyboardInterrupt:
            if task.done():
                raise
            task.cancel()
            return loop.run_until_complete(task)

    def __str__(self) -> str:
        return "asyncio"

    # ---- between requests (main thread only) ------------------------------------------------------

    def pause(self) -> None:
        """Take the main loop back from the idle thread, if it has it."""
        thread = self._idle
        if thread is None:
            return
        self._idle = None
        self._idle_loop.call_soon_threadsafe(self._idle_loop.stop)
        thread.join()

    def resume(self) -> None:
        """Run the main loop's pending tasks on a helper thread until the next `pause`."""
        if self._idle is not None or threading.current_thread() is not threading.main_thread():
            return
        loop = _main_loop()
        if loop is None or loop.is_running() or not _has_work(loop):
            return
        self._idle_loop = loop
        self._idle = threading.Thread(target=loop.run_forever, name="pykernel-asyncio",
                                      daemon=True)
        self._idle.start()


def _main_loop() -> Any:
    """The main thread's loop, if there is one yet: IPython's, or the one a plain cell made current
    (`asyncio.get_event_loop()`), which then becomes IPython's too. Never creates one."""
    import sys

    if "asyncio" not in sys.modules:
        return None
    from IPython.core import async_helpers

    loop = async_helpers._asyncio_event_loop
    if loop is None or loop.is_closed():
        import asyncio

        # the main thread's current loop, read without creating one
        local = getattr(asyncio.get_event_loop_policy(), "_local", None)
        loop = getattr(local, "_loop", None)
    return None if loop is None or loop.is_closed() else loop


def _has_work(loop: Any) -> bool:
    import asyncio

    return bool(asyncio.all_tasks(loop)) or bool(getattr(loop, "_scheduled", None))
