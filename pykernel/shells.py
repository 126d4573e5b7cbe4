"""Shells and subshells (JEP 91): which thread reads the shell socket, and which thread runs what.

Theory of operation
- Direct mode (no subshells, the common case): the main thread owns the shell socket, polls it
  itself and runs each request; no other thread and no queue is involved.
- Routed mode (one or more subshells): a router thread owns the shell socket and hands each message to
  its shell's inbox by the header's `subshell_id`; the main shell and every subshell take their work
  from their inbox, each on its own thread, in order. Replies from non-owner threads reach the socket
  through the transport's outbox.
- The switch: whoever reads the socket holds `read_lock` while doing so. Creating the first subshell
  sets `routed` and wakes the main thread's poll, so the main thread lets go of the lock and the new
  router takes it (at once, if the main thread is busy executing). Deleting the last subshell stops
  the router, which wakes the main thread so it takes the socket back.
- stop_on_error: before a failed cell's reply goes out, `Shell.take_queued` takes every request
  already received for that shell: its queue, and what is readable on the socket (in direct mode
  read at once; in routed mode the router is asked to route what it can read, and waited for).
  `Shell.abort` answers the execute_requests among them with `status: aborted` and keeps the other
  requests, in order, to run next. Nothing is taken after the reply went out: a request that
  arrives then may be the frontend's answer to the error, and runs.
"""

from __future__ import annotations

import logging
import signal
import threading
import uuid
from collections import deque
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING

from . import procs

log = logging.getLogger("pykernel")

if TYPE_CHECKING:
    from .kernel import Kernel
    from .transport import Transport
    from .wire import Message

_WAKE = object()
_STOP = object()


class Shell:
    """One shell: the main one (`id` None) or a subshell. Runs its requests in order."""

    def __init__(self, shells: "Shells", subshell_id: str | None):
        self.shells = shells
        self.id = subshell_id
        self.is_main = subshell_id is None
        self.pending: deque = deque()
        self.inbox: SimpleQueue = SimpleQueue()
        self.thread: threading.Thread | None = None

    def run_pending(self) -> None:
        dispatch = self.shells.kernel.dispatch
        while self.pending:
            dispatch(self.pending.popleft(), "shell", self)

    def serve(self) -> None:
        """A subshell's thread: run what the router hands over until told to stop."""
        # Made by the control thread, which blocks the frontend's signals; a subshell runs user
        # code, whose child processes must get them.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, procs.FRONTEND_SIGNALS)
        while True:
            item = self.inbox.get()
            if item is _STOP:
                return
            if item is not _WAKE:
                self.pending.append(item)
                self.run_pending()

    def take_queued(self) -> list["Message"]:
        """Everything received for this shell and not yet run, taken out of the queue."""
        queued = list(self.pending) + self.shells.drain(self)
        self.pending.clear()
        return queued

    def abort(self, queued: list["Message"]) -> None:
        """Answer the execute_requests among `queued` as aborted; the rest run as usual."""
        kernel = self.shells.kernel
        for msg in queued:
            if msg.msg_type == "execute_request":
                kernel.abort(msg, self)
            else:
                self.pending.append(msg)


class Shells:
    def __init__(self, kernel: "Kernel", transport: "Transport"):
        self.kernel = kernel
        self.transport = transport
        self.main = Shell(self, None)
        self.subs: dict[str, Shell] = {}
        self.routed = False
        self.read_lock = threading.Lock()
        self._lock = threading.Lock()  # create/delete
        self._router: threading.Thread | None = None
        self._router_stop = threading.Event()
        self._sync_lock = threading.Lock()
        self._syncs: list[threading.Event] | None = None  # a list while a router runs

    def ids(self) -> list[str]:
        return list(self.subs)

    # ---- routing ---------------------------------------------------------------------------------

    def route(self, msg: "Message", main_out: list | None = None) -> None:
        sid = msg.subshell_id
        if sid is None:
            (main_out if main_out is not None else self.main.pending).append(msg)
            return
        shell = self.subs.get(sid)
        if shell is None:
            self.kernel.reject_subshell(msg)
        else:
            shell.inbox.put(msg)

    def serve_main(self) -> None:
        """The main thread's loop, until the kernel stops."""
        main, stopping, transport = self.main, self.kernel.stopping, self.transport
        poll = transport.shell_poller()
        while not stopping.is_set():
            if main.pending:
                main.run_pending()
            elif self.routed:
                item = main.inbox.get()
                if item is not _WAKE:
                    main.pending.append(item)
            elif self.read_lock.acquire(timeout=0.05):
                try:
                    if self.routed:
                        continue
                    transport.claim_shell()
                    msgs = poll(None)
                finally:
                    self.read_lock.release()
                for msg in msgs or ():
                    self.route(msg)

    def _route_loop(self, stop: threading.Event) -> None:
        with self.read_lock:
            self.transport.claim_shell()
            poll = self.transport.shell_poller()
            with self._sync_lock:
                self._syncs = []
            try:
                while not stop.is_set() and not self.kernel.stopping.is_set():
                    msgs = poll(None)
                    if not msgs:  # woken: maybe by a signal, whose handler the main thread must run
                        self.main.inbox.put(_WAKE)
                    self._hand_over(msgs or ())
                    if self._syncs:
                        self._answer_syncs(read=True)
            finally:
                self._answer_syncs(read=False, last=True)
        self.main.inbox.put(_WAKE)

    def _hand_over(self, msgs) -> None:
        for msg in msgs:
            if msg.subshell_id is None:
                self.main.inbox.put(msg)
            else:
                self.route(msg)

    def _answer_syncs(self, read: bool, last: bool = False) -> None:
        """The router's side of `_sync_router`: route what is readable now, then release those who
        asked before this read."""
        with self._sync_lock:
            waiting, self._syncs = self._syncs or [], None if last else []
        if read and waiting:
            self._hand_over(self.transport.recv_shell_nowait())
        for done in waiting:
            done.set()

    def _sync_router(self) -> None:
        """Wait until the router has routed everything readable on the socket now."""
        done = threading.Event()
        with self._sync_lock:
            if self._syncs is None:  # no router (any more): nothing is read behind our back
                return
            self._syncs.append(done)
        self.transport.shell_wakeup.set()
        if not done.wait(5.0):
            log.warning("the shell router did not answer; aborting only what it had routed")

    def drain(self, shell: Shell) -> list:
        """Requests already received for `shell`, taken out of its queue, including what is
        readable on the socket now (read here in direct mode, routed first in routed mode)."""
        out: list = []
        if self.routed:
            self._sync_router()
        elif shell.is_main and self.read_lock.acquire(blocking=False):
            try:
                if not self.routed:
                    self.transport.claim_shell()
                    for msg in self.transport.recv_shell_nowait():
                        self.route(msg, out)
            finally:
                self.read_lock.release()
        while True:
            try:
                item = shell.inbox.get_nowait()
            except Empty:
                return out
            if item is _STOP:
                shell.inbox.put(_STOP)
                return out
            if item is not _WAKE:
                out.append(item)

    # ---- subshell lifecycle ----------------------------------------------------------------------

    def create(self) -> str:
        sid = str(uuid.uuid4())
        shell = Shell(self, sid)
        shell.thread = threading.Thread(target=shell.serve, name=f"pykernel-subshell-{sid[:8]}",
                                        daemon=True)
        shell.thread.start()
        with self._lock:
            self.subs[sid] = shell
            if not self.routed:
                if self._router is not None:
                    self._router.join()
                self._router_stop = threading.Event()
                self._router = threading.Thread(target=self._route_loop, args=(self._router_stop,),
                                                name="pykernel-shell-router", daemon=True)
                self.routed = True
                self._router.start()
                self.transport.shell_wakeup.set()  # the main thread lets go of the socket
        return sid

    def delete(self, sid: str) -> bool:
        with self._lock:
            shell = self.subs.pop(sid, None)
            if shell is None:
                return False
            shell.inbox.put(_STOP)
            if not self.subs and self.routed:
                self.routed = False
                self._router_stop.set()
                self.transport.shell_wakeup.set()  # the router sees the stop
        return True

    def wake(self) -> None:
        """Wake every shell thread so it notices the kernel is stopping."""
        self.transport.shell_wakeup.set()
        self.main.inbox.put(_WAKE)
        for shell in list(self.subs.values()):
            shell.inbox.put(_STOP)
