"""The guard of an interpreter's process groups: nothing the interpreter started outlives this
process, even when this process dies without cleaning up (SIGKILL).

Theory of operation
- The interpreter runs in a session of its own, so its process group is its own: a frontend's
  SIGINT to the kernel's group never reaches it unasked, and no terminal or session leader will
  ever hang it up. That duty falls to this process.
- Each group gets a guard: a tiny `sh` in a session of its own, reading a pipe only this process
  holds the writing end of. `dismiss` writes "stop" and the guard leaves. If this process dies,
  the pipe's end is closed by the system: the guard reads end of file and hangs up the group (as
  a closing terminal would), then kills what is left of it after about two seconds.
- `close` does the same at once for every group still guarded: hang-up for the ones that listen,
  SIGKILL for the jobs that ignored it.
- A guard costs a process: when a new interpreter starts, the guards of groups that have no
  process left are dismissed (`dismiss_idle`).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess

from ... import posix

log = logging.getLogger("pykernel")

# $1 is the group. "stop" on stdin dismisses the guard; end of file means its owner died.
_SCRIPT = ('read -r word; [ "$word" = stop ] && exit 0; kill -HUP "-$1"; kill -CONT "-$1";'
           ' for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 "-$1" || exit 0; sleep 0.2; done;'
           ' kill -KILL "-$1"')


class Guard:
    """The guards of the process groups of one interpreter (of each child it has had)."""

    def __init__(self) -> None:
        self._guards: list[tuple[int, subprocess.Popen, int]] = []  # (pgid, guard, its pipe)

    @property
    def groups(self) -> list[int]:
        return [pgid for pgid, _, _ in self._guards]

    def watch(self, pgid: int) -> bool:
        """Guard process group `pgid`; False (and a warning) when no guard could be started."""
        guard_r, guard_w = os.pipe()
        try:
            guard = subprocess.Popen(["/bin/sh", "-c", _SCRIPT, "pykernel-guard", str(pgid)],
                                     stdin=guard_r, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True,
                                     close_fds=True)
        except OSError as e:
            os.close(guard_w)
            log.warning("no guard for the interpreter's processes: %s", e)
            return False
        finally:
            os.close(guard_r)
        self._guards.append((pgid, guard, guard_w))
        return True

    def dismiss_idle(self) -> None:
        """Let the guards of groups that have no process left go."""
        for entry in list(self._guards):
            if not posix.group_exists(entry[0]):
                self._guards.remove(entry)
                _dismiss(entry[1], entry[2])

    def close(self) -> None:
        """End every guarded group (SIGKILL: what ignored the hang-up too) and dismiss the guards."""
        guards, self._guards = self._guards, []
        for pgid, guard, pipe in guards:
            posix.killpg(pgid, signal.SIGKILL)
            _dismiss(guard, pipe)


def _dismiss(guard: subprocess.Popen, pipe: int) -> None:
    try:
        os.write(pipe, b"stop\n")
    except OSError:
        pass
    os.close(pipe)
    guard.wait()
