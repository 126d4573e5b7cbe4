"""`ProcessREPL`: one interpreter child, run one command at a time, each ending in a `done` record.

Theory of operation
- `start` makes the child (see the package's documentation for its pipes and FIFOs), its guard
  (guard.py) and its I/O thread (loop.py). `run` sends a command and waits for the events the I/O
  thread hands over (runs.py): `done TOKEN`, the child's `exit`, or a question for input.
- The end of a command: the language's command finishes by writing `done TOKEN STATUS` with a token
  made fresh for it. Output cannot end a cell, since it travels on other pipes, and no program
  prints a token it was never shown. `started TOKEN` tells that the command is running (and so
  fully read): interrupts wait for it, so a SIGINT never cuts into a command line being read.
- Records of other kinds than `started`, `done` and `read` go to `on_record`, whose answer, if not
  None, is written to `ack` as one line.
- State shared by the I/O thread, the thread in `run` and a signal handler calling `interrupt` is
  the current `Run` (and the `_early` interrupt), under one reentrant lock. Each part's state is
  its own object: the stdin watch (stdin.py) and the interrupt watch (interrupts.py).
- An interrupt at any moment of a cell ends it. One that comes before the command has started is
  kept and sent once it has. One that comes before the cell's command is even sent (`interrupt`
  with the cell's key, while no run of that cell is going on) is kept for the next `run` of that
  cell, which then sends nothing and reports the interrupt.
- Output arriving between runs (background jobs) goes to the last sink.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from typing import Callable, Hashable

from ... import posix
from ...kernel import StdinNotAllowed
from . import stdin
from .guard import Guard
from .interrupts import InterruptWatch
from .loop import Child, IoLoop
from .records import RecordParser
from .runs import Ask, Events, Outcome, Run, Sink

log = logging.getLogger("pykernel")


def _log_sink(name: str, text: str) -> None:
    log.info("interpreter %s: %s", name, text.rstrip())


def _runtime_tmp() -> str | None:
    path = os.environ.get("XDG_RUNTIME_DIR")
    return path if path and os.access(path, os.W_OK) else None


class ProcessREPL:
    """An interpreter process that runs one command at a time and says when each has finished.

    `argv` is started in a new session with $PYKERNEL_REPL_DIR naming the FIFO directory. The
    language's code in the child writes records there (see the package's documentation); `run`
    sends a command and returns when its `done` record arrives or the child dies. `proc` is where
    procfs is (a directory without it turns off what needs it), `pidfd=False` watches the child
    without pidfds: both are for running the portable paths on Linux.
    """

    def __init__(self, argv: list[str], *, env: dict | None = None, cwd: str | None = None,
                 on_output: Sink | None = None,
                 on_record: Callable[[list[str]], str | None] | None = None,
                 proc: str = "/proc", pidfd: bool = True):
        self.argv, self.env, self.cwd, self.on_record = list(argv), env, cwd, on_record
        self._proc, self._pidfd = proc, pidfd
        self.dir = tempfile.mkdtemp(prefix="pykernel-repl-", dir=_runtime_tmp())
        self.paths = {name: os.path.join(self.dir, name) for name in ("in", "ctl", "ack")}
        for path in self.paths.values():
            os.mkfifo(path, 0o600)
        # Held open read-write: the child's opens never block, and the kernel never sees EOF.
        self._ctl = os.open(self.paths["ctl"], os.O_RDWR | os.O_NONBLOCK)
        self._ack = os.open(self.paths["ack"], os.O_RDWR | os.O_NONBLOCK)
        self._in_id = stdin.file_id(self.paths["in"])
        self._wakeup = posix.Wakeup()
        self._parser = RecordParser()
        self._guard = Guard()
        self._sink: Sink = on_output or _log_sink
        self._events = Events()
        self._run_lock = threading.Lock()  # one run at a time
        self._lock = threading.RLock()  # run state; an interrupt (a signal handler) takes it too
        self._run: Run | None = None
        self._early: Hashable = None  # the cell an interrupt came for before its run
        self._child: Child | None = None
        self._closed = False
        self.exit_code: int | None = None

    # ---- lifecycle -------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child else None

    @property
    def alive(self) -> bool:
        return self._child is not None and self.exit_code is None

    @property
    def closed(self) -> bool:
        return self._closed

    def start(self, on_output: Sink | None = None) -> None:
        """Start the child (again, if it had ended). Does not wait for it to be ready. Its
        output goes to `on_output` from its first byte on (None: keep the current sink)."""
        if self._closed:
            raise RuntimeError("this interpreter has been closed")
        if self.alive:
            raise RuntimeError("the interpreter is already running")
        cmd_r, cmd_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        env = dict(os.environ if self.env is None else self.env, PYKERNEL_REPL_DIR=self.dir)
        try:
            proc = subprocess.Popen(self.argv, stdin=cmd_r, stdout=out_w, stderr=err_w, env=env,
                                    cwd=self.cwd, start_new_session=True, close_fds=True)
        except BaseException:
            posix.close_quietly(cmd_w, out_r, err_r)
            raise
        finally:
            posix.close_quietly(cmd_r, out_w, err_w)
        for fd in (out_r, err_r):
            os.set_blocking(fd, False)
        self._guard.dismiss_idle()
        self._guard.watch(proc.pid)
        self._parser.clear()
        self.exit_code = None
        if on_output is not None:
            self._sink = on_output
        self._child = Child(proc, cmd_w, out_r, err_r, self._pidfd)
        IoLoop(self._child, self, self._ctl, self._parser, self._wakeup).start()

    def close(self, grace: float = 1.0) -> None:
        """End the child and every process left in its groups (of this child and of the ones
        before it), and remove the FIFO directory. Later calls do nothing."""
        if self._closed:
            return
        self._closed = True
        self.kill(grace)
        self._guard.close()
        posix.close_quietly(self._ctl, self._ack)
        self._wakeup.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def kill(self, grace: float = 1.0) -> None:
        """End the child's session: SIGHUP (as when a terminal closes), SIGKILL after `grace`.
        Returns once the child's end has been handled (`alive` is False)."""
        child = self._child
        if child is None:
            return
        if child.proc.poll() is None:
            for sig in (signal.SIGHUP, signal.SIGCONT):
                posix.killpg(child.pid, sig)
            try:
                child.proc.wait(grace)
            except subprocess.TimeoutExpired:
                posix.killpg(child.pid, signal.SIGKILL)
                child.proc.wait()
        if child.thread is not None and child.thread is not threading.current_thread():
            child.thread.join()

    # ---- running ---------------------------------------------------------------------------------

    def run(self, command: str, token: str, *, on_output: Sink | None = None, ask: Ask | None =
            None, stdin: bool = True, finisher: str | None = None, timeout: float | None = None,
            cell: Hashable = None) -> Outcome:
        """Send `command` (whole lines) and wait for `done TOKEN ...` or the child's end.

        on_output receives stdout/stderr text from now on (None: keep the current sink). With
        `stdin`, the `in` FIFO is held open for the run and `ask(prompt, password)` is called (on
        this thread) whenever input is wanted. `finisher` is a line sent after each interrupt that
        makes the child report `done` if the interrupt cut the command short before it could.
        `cell` names the cell this run belongs to (see `interrupt`).
        """
        with self._run_lock:
            self._events.forget()
            child = self._child
            if child is None or not self.alive:
                return Outcome(exit_code=self.exit_code)
            run = Run(token, finisher, cell, self._stdin_watch(stdin),
                       InterruptWatch(child.pid, self._proc))
            if on_output is not None:
                self._sink = on_output
            with self._lock:
                early = cell is not None and self._early == cell
                self._early = None if early else self._early
                self._run = None if early else run
            if early:
                run.stdin.close()
                return Outcome(interrupted=True)
            self._wakeup.set()
            try:
                child.send(command)
                return self._events.wait(run, timeout,
                                         lambda prompt, pw: self._answer(run, ask, prompt, pw))
            finally:
                with self._lock:
                    self._run = None
                    run.stdin.close()

    def _stdin_watch(self, held: bool) -> stdin.StdinWatch:
        return stdin.StdinWatch(self.paths["in"] if held else None, self._in_id, self._proc)

    def _answer(self, run: Run, ask: Ask | None, prompt: str, password: bool) -> None:
        text = None
        try:
            text = None if ask is None else ask(prompt, password)
        except (KeyboardInterrupt, StdinNotAllowed, EOFError):  # EOFError: the frontend left
            pass
        except Exception:
            log.exception("asking for input failed")
        with self._lock:
            run.stdin.answer(text)
        self._wakeup.set()

    def send(self, text: str) -> None:
        """Write to the child's stdin outside of a run (its command input)."""
        if self._child is not None:
            self._child.send(text)

    def interrupt(self, cell: Hashable = None) -> bool:
        """SIGINT to the child's process group, once the running command has started. Safe to call
        from a signal handler. With `cell` (any key but None), an interrupt that comes while no
        run of that cell is going on is kept for the next run of that cell. Returns False when
        nothing was interrupted nor kept."""
        with self._lock:
            run = self._run
            if run is None or (cell is not None and run.cell != cell):
                self._early = cell if cell is not None else self._early
                return cell is not None
            run.interrupted = True
            if not run.started:
                run.pending_interrupt = True
                return True
            self._signal(run)
        return True

    def _signal(self, run: Run) -> None:
        child = self._child
        if child is not None:
            run.interrupts.send()
            if run.finisher:
                child.send(run.finisher)
            self._wakeup.set()

    def ack(self, line: str) -> None:
        """Write one line to the `ack` FIFO."""
        stdin.write_some(self._ack, (line.replace("\n", " ") + "\n").encode())

    # ---- what the I/O thread calls (loop.Host) ---------------------------------------------------

    def deliver(self, stream: str, text: str) -> None:
        try:
            self._sink(stream, text)
        except Exception:
            log.exception("the output sink failed")
        with self._lock:
            if self._run is not None:
                self._run.stdin.activity()

    def handle(self, record: list[str]) -> None:
        kind = record[0]
        with self._lock:
            run = self._run
            if run is not None:
                run.stdin.activity()
            if kind == "started":
                if run is not None and record[1:2] == [run.token]:
                    run.started = True
                    if run.pending_interrupt:
                        self._signal(run)
                return
        if kind == "done":
            self._events.put(tuple(record))
        elif kind == "read":
            self._want_input(record[1] if len(record) > 1 else "", record[2:3] == ["1"])
        elif self.on_record is not None:
            try:
                answer = self.on_record(record)
            except Exception as e:
                log.exception("handling a %r record failed", kind)
                answer = None if len(record) < 2 else f"{record[1]} {type(e).__name__}: {e}"
            if answer is not None:
                self.ack(answer)

    def due(self) -> float | None:
        with self._lock:
            run = self._run
            if run is None:
                return None
            dues = [d for d in (run.stdin.due(), run.interrupts.due()) if d is not None]
        return min(dues, default=None)

    def tick(self, child: Child) -> None:
        with self._lock:
            run = self._run
            if run is None:
                return
            reading = run.stdin.look(child.pid)
            run.interrupts.check()
        if reading:
            self._want_input("", False)

    def ended(self, child: Child, exit_code: int) -> None:
        self.exit_code = exit_code
        self._events.put(("exit", exit_code))

    def _want_input(self, prompt: str, password: bool) -> None:
        with self._lock:
            run = self._run
            if run is None or not run.stdin.ask():
                return
        self._events.put(("input", run, prompt, password))

