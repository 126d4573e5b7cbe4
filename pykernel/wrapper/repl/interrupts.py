"""The interrupt watch: a SIGINT to the interpreter's group, and making sure it was not lost.

Theory of operation
- An interrupt is a SIGINT to the child's process group. It waits for the command to have
  `started` (see process.py), so that it never cuts into a command line being read.
- A SIGINT that lands in a child between its fork and its exec is lost: the interpreter's code
  still running there takes it, and the program it then runs never sees it (the interpreter,
  seeing the child not die of SIGINT, takes it as handled).
- So, before each SIGINT, the watch notes the processes below the child (pid -> parent, command
  line, from procfs), and looks again after RECHECK seconds, then 2x, 4x, ... up to 16x. If a
  process it reached has since changed its command line, or the interpreter started a new one,
  the SIGINT is sent again (at most RESENDS times). A program that handles SIGINT on its own does
  neither, and is left alone.
- Without procfs (not Linux, or `proc` pointing nowhere) the notes are empty and nothing is ever
  sent again: an interrupt that lands in that narrow window is lost, as in a terminal.
"""

from __future__ import annotations

import logging
import signal
import time

from ... import posix, procs

log = logging.getLogger("pykernel")

RECHECK = 0.05  # after an interrupt, first look for a lost SIGINT (then 2x, 4x, ...)
RESENDS = 5  # at most this many repeats of one interrupt

Tree = dict[int, tuple[int, bytes]]  # pid -> (parent pid, command line)


def tree(pid: int, proc: str = "/proc") -> Tree:
    """The processes below `pid`, each with its parent's pid and its command line."""
    out = {}
    for p in procs.descendants(pid, proc):
        st = procs.stat(p, proc)
        try:
            with open(f"{proc}/{p}/cmdline", "rb") as f:
                if st is not None:
                    out[p] = (st[1], f.read())
        except OSError:
            pass
    return out


class InterruptWatch:
    """The interrupts of one run of process `root` (its group's leader). Not thread-safe: the
    REPL's lock guards it."""

    def __init__(self, root: int, proc: str = "/proc"):
        self.root, self._proc = root, proc
        self.sent = 0  # interrupts asked for
        self.resent = 0  # SIGINTs sent again
        self._noted: Tree = {}
        self._recheck: float | None = None
        self._delay = RECHECK

    def send(self) -> None:
        """SIGINT to the group, and a look again later."""
        self._noted = tree(self.root, self._proc)
        posix.killpg(self.root, signal.SIGINT)
        self.sent += 1
        self._delay = RECHECK
        self._recheck = time.monotonic() + self._delay

    def due(self) -> float | None:
        """When to look for a lost SIGINT next (monotonic time), or None: nothing to look for."""
        return self._recheck

    def check(self) -> bool:
        """If it is time, look for a lost SIGINT and send it again; True if it was."""
        if self._recheck is None or time.monotonic() < self._recheck:
            return False
        before, now = self._noted, tree(self.root, self._proc)
        lost = any(pid in now and now[pid] != line for pid, line in before.items()) or \
            any(pid not in before and line[0] == self.root for pid, line in now.items())
        resend = lost and self.resent < RESENDS
        if resend:
            log.debug("an interrupt was lost in a starting program; sending it again")
            self._noted = now
            posix.killpg(self.root, signal.SIGINT)
            self.resent += 1
        self._delay *= 2
        self._recheck = time.monotonic() + self._delay if self._delay <= 16 * RECHECK else None
        return resend
