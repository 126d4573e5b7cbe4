"""One command's run: its state, how it ended, and the hand-over from the I/O thread.

The I/O thread never answers a run itself: it puts events on a queue (`done` records, the
child's `exit`, a question for input) and the thread waiting in `ProcessREPL.run` takes them, so
that asking the frontend for input, which can take minutes, happens on the caller's thread.
Events left from an earlier run (a late `done` after a timeout) are forgotten when a run begins,
and a `done` of another token is ignored.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass, field
from typing import Callable, Hashable, Iterator

from .interrupts import InterruptWatch
from .stdin import StdinWatch

Sink = Callable[[str, str], None]  # (stream name, text)
Ask = Callable[[str, bool], "str | None"]  # (prompt, password) -> a line, or None for end of file


@dataclass
class Outcome:
    """How a run ended."""

    status: int | None = None  # from the done record
    fields: list[str] = field(default_factory=list)  # the done record's extra fields
    interrupted: bool = False  # `interrupt()` was called during the run
    started: bool = False  # the command said `started` (so it may have done something)
    exit_code: int | None = None  # the child ended (shell style: 128+N for signal N)
    timed_out: bool = False


@dataclass
class Run:
    """The state of the running command; the REPL's lock guards it."""

    token: str
    finisher: str | None
    cell: Hashable
    stdin: StdinWatch
    interrupts: InterruptWatch
    started: bool = False
    interrupted: bool = False
    pending_interrupt: bool = False  # asked for before `started`


class Events:
    """The queue from the I/O thread to the thread in `run`."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()

    def put(self, event: tuple) -> None:
        self._queue.put(event)

    def forget(self) -> None:
        """Drop the leftovers of earlier runs."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def wait(self, run: Run, timeout: float | None, answer: Callable[[str, bool], None]
             ) -> Outcome:
        """Until `run` is done, the child has ended, or `timeout`; `answer(prompt, password)` is
        called for each question for input of this run."""
        try:
            for event in self._until(timeout):
                kind = event[0]
                if kind == "done" and event[1] == run.token:
                    status = int(event[2]) if event[2].lstrip("-").isdigit() else None
                    return Outcome(status, list(event[3:]), run.interrupted, started=True)
                if kind == "exit":
                    return Outcome(interrupted=run.interrupted, started=run.started,
                                   exit_code=event[1])
                if kind == "input" and event[1] is run:
                    answer(event[2], event[3])
        except TimeoutError:
            pass
        return Outcome(interrupted=run.interrupted, started=run.started, timed_out=True)

    def _until(self, timeout: float | None) -> Iterator[tuple]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                yield self._queue.get(timeout=left)
            except queue.Empty:
                raise TimeoutError from None
