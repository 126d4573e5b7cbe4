"""Warm the completer while the kernel waits, so that the first Tab is as quick as the next ones.

Theory of operation
- The first completion of a session pays for importing jedi and for jedi's first inference (its
  grammar, the builtins' stubs): most of its time. A thread (`pykernel-warmup`) does the same work
  once after start, in steps. It begins when the first cell has run (so it never competes with
  that one), or after START_AFTER seconds for a frontend that does not execute; each step begins
  only when no request has come for QUIET seconds (`Activity`), so that steps fall between a
  user's cells rather than into a run of them.
- A step holds the GIL for most of its run (imports and inference are Python code): a request
  that arrives meanwhile gets it back at the switch interval (5 ms). Lowering that interval would
  shorten the wait but split a `print`'s text and its newline into two messages far more often
  (the stream flusher gets the GIL in between), so it is left alone.
- The warm-up and real completions share a lock (IPython's completer is not thread-safe): a
  completion asked during a step waits for it, then runs warm.
- Memory: it loads what the first completion would load anyway, no more, and is skipped when a
  completion came first. A kernel nobody completes in carries jedi's few MB from its start on.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Callable

from .. import procs

if TYPE_CHECKING:
    from .shell import PythonShell

log = logging.getLogger("pykernel")

START_AFTER = 2.0
QUIET = 0.05  # a step begins only after the kernel has had no request for this long (s)


class Activity:
    """How many requests are being handled, and an event set whenever none is."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self.begun = 0  # requests begun so far: unchanged over a wait means none came
        self.idle = threading.Event()
        self.idle.set()
        self.executed = threading.Event()  # set once a first execute_request has been handled

    def begin(self) -> None:
        with self._lock:
            self._count += 1
            self.begun += 1
            self.idle.clear()

    def end(self, executed: bool) -> None:
        with self._lock:
            self._count -= 1
            if not self._count:
                self.idle.set()
        if executed:
            self.executed.set()


class Warmup:
    """Runs the completer's first-time work in steps while the kernel is idle."""

    def __init__(self, shell: "PythonShell", activity: Activity, stopping: threading.Event):
        self.lock = threading.Lock()  # held by a step and by every real completion
        self.done = False  # a completion has run (warm-up or real): nothing left to warm
        self._shell, self._activity, self._stopping = shell, activity, stopping

    def start(self) -> None:
        procs.start_internal_thread(self._run, "pykernel-warmup")

    def _steps(self) -> list[Callable[[], object]]:
        from .introspect import complete

        # A module name: jedi's parser, grammar, project and module index, as any first
        # completion needs them, without the builtins' stubs (~25 MB that a name completion loads)
        return [lambda: __import__("parso"), lambda: __import__("jedi"),
                lambda: complete(self._shell, "import p", 8)]

    def _run(self) -> None:
        self._activity.executed.wait(START_AFTER)
        for step in self._steps():
            while not self._stopping.is_set():
                self._activity.idle.wait()
                begun = self._activity.begun
                if self._stopping.wait(QUIET) or begun != self._activity.begun:
                    continue  # not quiet for long enough: a cell may be on its way
                with self.lock:
                    if self.done or self._stopping.is_set():
                        return
                    if not self._activity.idle.is_set():
                        continue  # a request came in while we waited for the lock
                    self._step(step)
                    break
        self.done = True

    def _step(self, step: Callable[[], object]) -> None:
        started = time.perf_counter()
        try:
            step()
        except Exception:  # a broken jedi install: the first real completion will say so
            log.debug("completer warm-up step failed", exc_info=True)
        log.debug("completer warm-up step: %.1f ms", (time.perf_counter() - started) * 1e3)
