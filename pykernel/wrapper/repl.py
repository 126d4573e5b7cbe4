"""`ProcessREPL`: drive an interpreter child process cell by cell, for kernels that wrap one.

Theory of operation
- The child runs in its own session, so its process group is its own: an interrupt is a SIGINT to
  that group, and a frontend's SIGINT to the kernel's group never reaches it unasked. Its stdin is a
  pipe the kernel writes commands to; its stdout and stderr are two more pipes, read separately.
- Beside those, a private directory (`dir`, given to the child as $PYKERNEL_REPL_DIR) holds three
  FIFOs that the child's code opens by path: `ctl` (records from the child), `ack` (lines back to
  it) and `in` (the stdin of a cell). Paths rather than inherited descriptors: the programs a cell
  starts inherit nothing extra, and any of them can reach the kernel.
- A record is `COUNT\\0FIELD\\0...FIELD\\0` (in bash: `printf '%s\\0' $# "$@" >"$dir/ctl"`). This module
  understands `started TOKEN`, `done TOKEN STATUS [FIELD...]` and `read PROMPT PASSWORD`; any other
  kind goes to `on_record`, whose answer, if not None, is written to `ack` as one line.
- The end of a cell: the language's command for a cell finishes by writing `done TOKEN STATUS` with
  a token made fresh for the cell. Output cannot end a cell, since it travels on other pipes, and no
  program prints a token it was never shown. `started` tells that the command is running (and so
  fully read): interrupts wait for it, so a SIGINT never cuts into a command line being read.
- One I/O thread per child reads everything as it comes and hands stdout/stderr text to the sink,
  in order. Before acting on a record it drains what the output pipes already hold, so output
  written before a record is delivered before it. Output arriving between cells (background jobs)
  goes to the last sink. The child's death is seen on a pidfd, not on EOF, which background jobs
  holding the pipes would delay forever.
- Interrupts. A SIGINT that lands in a child between its fork and its exec is lost (the
  interpreter's code there takes it, the program never sees it). After each interrupt the I/O
  thread looks again a few times, with growing pauses: if a process it reached has since changed
  its command line, or the interpreter started a new one, the SIGINT is sent again.
- Every child's process group has a guard: a tiny `sh` in a session of its own, reading a pipe only
  this process holds. `close` ends the group and dismisses the guard; if this process dies without
  closing (SIGKILL), the guard reads end of file and hangs up, then kills, the group.
- Stdin. A cell's stdin is the `in` FIFO, held open by the kernel during the cell. The kernel learns
  that input is wanted in two ways: a `read` record (sent by a language's own input command, with
  the prompt and whether to hide the answer), or, for any other program, a process of the child's
  tree blocked in read(2) on that FIFO (see readers.py; looked at once the cell has been quiet for a
  few milliseconds). The answer is written into the FIFO; when there is no answer (the frontend has
  no stdin, or the wait was interrupted) the kernel closes its end and the reader gets end of file.
"""

from __future__ import annotations

import codecs
import fcntl
import logging
import os
import queue
import select
import shutil
import signal
import subprocess
import tempfile
import termios
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from ..kernel import StdinNotAllowed
from .. import procs
from . import readers

log = logging.getLogger("pykernel")

Sink = Callable[[str, str], None]  # (stream name, text)
Ask = Callable[[str, bool], "str | None"]  # (prompt, password) -> a line, or None for end of file

_QUIET = 0.005  # seconds of silence before looking for a blocked reader
_SLOWEST = 0.1  # the longest wait between two looks while a cell runs
_RECHECK = 0.05  # after an interrupt, first look for a lost SIGINT (then 2x, 4x, ...)
_RESENDS = 5  # at most this many repeats of one interrupt
# the guard of a child's process group ($1): "stop" on its stdin dismisses it; end of file means
# this process died, and the group is hung up, then killed
_GUARD = ('read -r word; [ "$word" = stop ] && exit 0; kill -HUP "-$1"; kill -CONT "-$1";'
          ' for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 "-$1" || exit 0; sleep 0.2; done;'
          ' kill -KILL "-$1"')


@dataclass
class Outcome:
    """How a run ended."""

    status: int | None = None  # from the done record
    fields: list[str] = field(default_factory=list)  # the done record's extra fields
    interrupted: bool = False  # `interrupt()` was called during the run
    started: bool = False  # the command said `started` (so it may have done something)
    exit_code: int | None = None  # the child ended (shell style: 128+N for signal N)
    timed_out: bool = False


class _Run:
    def __init__(self, token: str, finisher: str | None):
        self.token = token
        self.finisher = finisher
        self.in_fd: int | None = None
        self.started = False
        self.interrupted = False
        self.pending_interrupt = False
        self.input_pending = False
        now = time.monotonic()
        self.last_activity = self.last_check = now
        self.checked = False  # looked for a reader since the last activity
        self.backoff = _QUIET
        # after a SIGINT: the processes it reached (pid -> command line), and when to look again
        self.signalled: dict[int, tuple[int, bytes]] | None = None
        self.recheck: float | None = None
        self.recheck_delay = _RECHECK
        self.resent = 0


class _Child:
    def __init__(self, proc: subprocess.Popen, cmd: int, out: int, err: int):
        self.proc, self.cmd = proc, cmd
        self.thread: threading.Thread | None = None
        self.streams = {out: "stdout", err: "stderr"}
        self.decoders = {fd: codecs.getincrementaldecoder("utf-8")("replace") for fd in (out, err)}
        try:
            self.pidfd: int | None = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):
            self.pidfd = None


def _log_sink(name: str, text: str) -> None:
    log.info("interpreter %s: %s", name, text.rstrip())


def _available(fd: int) -> int:
    buf = bytearray(4)
    fcntl.ioctl(fd, termios.FIONREAD, buf)
    return int.from_bytes(buf, "little")


def _runtime_tmp() -> str | None:
    path = os.environ.get("XDG_RUNTIME_DIR")
    return path if path and os.access(path, os.W_OK) else None


class ProcessREPL:
    """An interpreter process that runs one command at a time and says when each has finished.

    `argv` is started in a new session with $PYKERNEL_REPL_DIR naming the FIFO directory. The
    language's code in the child writes records there (see the module's documentation); `run`
    sends a command and returns when its `done` record arrives or the child dies.
    """

    def __init__(self, argv: list[str], *, env: dict | None = None, cwd: str | None = None,
                 on_output: Sink | None = None, on_record: Callable[[list[str]], str | None] |
                 None = None):
        self.argv = list(argv)
        self.env = env
        self.cwd = cwd
        self.on_record = on_record
        self.dir = tempfile.mkdtemp(prefix="pykernel-repl-", dir=_runtime_tmp())
        self.paths = {name: os.path.join(self.dir, name) for name in ("in", "ctl", "ack")}
        for path in self.paths.values():
            os.mkfifo(path, 0o600)
        # Held open read-write: the child's opens never block, and the kernel never sees EOF.
        self._ctl = os.open(self.paths["ctl"], os.O_RDWR | os.O_NONBLOCK)
        self._ack = os.open(self.paths["ack"], os.O_RDWR | os.O_NONBLOCK)
        self._in_id = readers.file_id(self.paths["in"])
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._wake_r, self._wake_w):
            os.set_blocking(fd, False)
        self._sink: Sink = on_output or _log_sink
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._run_lock = threading.Lock()  # one run at a time
        self._lock = threading.RLock()  # run state; an interrupt (a signal handler) takes it too
        self._run: _Run | None = None
        self._child: _Child | None = None
        self._ctl_buf = bytearray()
        self._guards: list[tuple[int, subprocess.Popen, int]] = []  # (pgid, guard, its pipe)
        self._closed = False
        self.exit_code: int | None = None

    # ---- lifecycle -------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._child.proc.pid if self._child else None

    @property
    def alive(self) -> bool:
        return self._child is not None and self.exit_code is None

    @property
    def closed(self) -> bool:
        return self._closed

    def start(self) -> None:
        """Start the child (again, if it had ended). Does not wait for it to be ready."""
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
            for fd in (cmd_w, out_r, err_r):
                os.close(fd)
            raise
        finally:
            for fd in (cmd_r, out_w, err_w):
                os.close(fd)
        for fd in (out_r, err_r):
            os.set_blocking(fd, False)
        for fd in (cmd_w, out_r, err_r):
            os.set_inheritable(fd, False)
        self._dismiss_idle_guards()
        self._guard(proc.pid)
        self._ctl_buf.clear()
        self.exit_code = None
        self._child = child = _Child(proc, cmd_w, out_r, err_r)
        child.thread = threading.Thread(target=self._pump, args=(child,), daemon=True,
                                        name=f"pykernel-repl-{proc.pid}")
        child.thread.start()

    def _guard(self, pgid: int) -> None:
        """A watchman for the child's process group, should this process die without closing:
        it waits for end of file on a pipe only this process holds, then hangs up the group and
        kills what is left of it. The child's session is not ours, so nothing else would."""
        guard_r, guard_w = os.pipe()
        try:
            guard = subprocess.Popen(["/bin/sh", "-c", _GUARD, "pykernel-guard", str(pgid)],
                                     stdin=guard_r, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True,
                                     close_fds=True)
        except OSError as e:
            os.close(guard_w)
            log.warning("no guard for the interpreter's processes: %s", e)
            return
        finally:
            os.close(guard_r)
        self._guards.append((pgid, guard, guard_w))

    def _dismiss_idle_guards(self) -> None:
        """Let the guards of groups that have no process left go."""
        for entry in list(self._guards):
            pgid, guard, pipe = entry
            try:
                os.killpg(pgid, 0)
                continue
            except PermissionError:
                continue
            except ProcessLookupError:
                pass
            self._stop_guard(guard, pipe)
            self._guards.remove(entry)

    @staticmethod
    def _stop_guard(guard: subprocess.Popen, pipe: int) -> None:
        try:
            os.write(pipe, b"stop\n")
        except OSError:
            pass
        os.close(pipe)
        guard.wait()

    def close(self, grace: float = 1.0) -> None:
        """End the child and every process left in its groups (of this child and of the ones
        before it), and remove the FIFO directory. Later calls do nothing."""
        if self._closed:
            return
        self._closed = True
        self.kill(grace)
        for pgid, guard, pipe in self._guards:
            _killpg(pgid, signal.SIGKILL)  # background jobs that ignored the hangup
            self._stop_guard(guard, pipe)
        self._guards.clear()
        for fd in (self._ctl, self._ack, self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def kill(self, grace: float = 1.0) -> None:
        """End the child's session: SIGHUP (as when a terminal closes), SIGKILL after `grace`.
        Returns once the child's end has been handled (`alive` is False)."""
        child = self._child
        if child is None:
            return
        if child.proc.poll() is None:
            for sig in (signal.SIGHUP, signal.SIGCONT):
                _killpg(child.proc.pid, sig)
            try:
                child.proc.wait(grace)
            except subprocess.TimeoutExpired:
                _killpg(child.proc.pid, signal.SIGKILL)
                child.proc.wait()
        if child.thread is not threading.current_thread():
            child.thread.join()

    # ---- running ---------------------------------------------------------------------------------

    def run(self, command: str, token: str, *, on_output: Sink | None = None, ask: Ask | None =
            None, stdin: bool = True, finisher: str | None = None, timeout: float | None = None
            ) -> Outcome:
        """Send `command` (whole lines) and wait for `done TOKEN ...` or the child's end.

        on_output receives stdout/stderr text from now on (None: keep the current sink). With
        `stdin`, the `in` FIFO is held open for the run and `ask(prompt, password)` is called (on
        this thread) whenever input is wanted. `finisher` is a line sent after each interrupt that
        makes the child report `done` if the interrupt cut the command short before it could.
        """
        with self._run_lock:
            while True:  # leftovers of earlier runs
                try:
                    self._events.get_nowait()
                except queue.Empty:
                    break
            if not self.alive or self._closed:
                return Outcome(exit_code=self.exit_code)
            run = _Run(token, finisher)
            if on_output is not None:
                self._sink = on_output
            if stdin:
                run.in_fd = os.open(self.paths["in"], os.O_RDWR | os.O_NONBLOCK)
            with self._lock:
                self._run = run
            self._wake()
            try:
                self._send(command)
                return self._wait(run, ask, timeout)
            finally:
                with self._lock:
                    self._run = None
                    if run.in_fd is not None:
                        os.close(run.in_fd)
                        run.in_fd = None

    def _wait(self, run: _Run, ask: Ask | None, timeout: float | None) -> Outcome:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                event = self._events.get(timeout=left)
            except queue.Empty:
                return Outcome(interrupted=run.interrupted, started=run.started, timed_out=True)
            kind = event[0]
            if kind == "done" and event[1] == run.token:
                status = int(event[2]) if event[2].lstrip("-").isdigit() else None
                return Outcome(status, list(event[3:]), run.interrupted, started=True)
            if kind == "exit":
                return Outcome(interrupted=run.interrupted, started=run.started,
                               exit_code=event[1])
            if kind == "input" and event[1] is run:
                self._answer(run, ask, event[2], event[3])

    def _answer(self, run: _Run, ask: Ask | None, prompt: str, password: bool) -> None:
        text = None
        try:
            text = None if ask is None else ask(prompt, password)
        except (KeyboardInterrupt, StdinNotAllowed, EOFError):  # EOFError: the frontend left
            pass
        except Exception:
            log.exception("asking for input failed")
        with self._lock:
            if run.in_fd is not None:
                if text is None:  # end of file for the reader, and for every later one
                    os.close(run.in_fd)
                    run.in_fd = None
                else:
                    _write_some(run.in_fd, (text + "\n").encode())
            run.input_pending = False
            self._activity(run)
        self._wake()

    def send(self, text: str) -> None:
        """Write to the child's stdin outside of a run (its command input)."""
        self._send(text)

    def _send(self, text: str) -> None:
        child = self._child
        data = text.encode()
        try:
            while data:
                data = data[os.write(child.cmd, data):]
        except OSError as e:  # the child is gone; its end is reported by the I/O thread
            log.debug("could not write to the interpreter: %s", e)

    def interrupt(self) -> bool:
        """SIGINT to the child's process group, once the running command has started. Safe to call
        from a signal handler. Returns False when no command is running."""
        with self._lock:
            run = self._run
            if run is None:
                return False
            run.interrupted = True
            if not run.started:
                run.pending_interrupt = True
                return True
        self._signal(run)
        return True

    def _signal(self, run: _Run) -> None:
        child = self._child
        if child is not None:
            run.signalled = _tree(child.proc.pid)
            _killpg(child.proc.pid, signal.SIGINT)
            if run.finisher:
                self._send(run.finisher)
            run.recheck = time.monotonic() + run.recheck_delay
            self._wake()

    def _check_lost_interrupt(self, child: _Child) -> None:
        """A SIGINT that reaches a child between its fork and its exec is taken by the shell's
        code still running there, and the program it then runs never sees it (the shell, seeing the
        child not die of SIGINT, takes it as handled). Such a process has changed its command line
        since the signal, or was started by the interpreter itself after it: then the SIGINT is
        sent again. A program that handles SIGINT on its own does neither, and is left alone."""
        with self._lock:
            run = self._run
            if run is None or run.recheck is None or time.monotonic() < run.recheck:
                return
            before = run.signalled or {}
            now = _tree(child.proc.pid)
            lost = any(pid in now and now[pid] != line for pid, line in before.items()) or \
                any(pid not in before and line[0] == child.proc.pid for pid, line in now.items())
            run.recheck_delay *= 2
            if lost and run.resent < _RESENDS:
                run.resent += 1
                log.debug("an interrupt was lost in a starting program; sending it again")
                run.signalled = now
                _killpg(child.proc.pid, signal.SIGINT)
            run.recheck = (time.monotonic() + run.recheck_delay
                           if run.recheck_delay <= 16 * _RECHECK else None)

    def ack(self, line: str) -> None:
        """Write one line to the `ack` FIFO."""
        _write_some(self._ack, (line.replace("\n", " ") + "\n").encode())

    # ---- the I/O thread --------------------------------------------------------------------------

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def _pump(self, child: _Child) -> None:
        poller = select.poll()
        watched = [*child.streams, self._ctl, self._wake_r]
        if child.pidfd is not None:
            watched.append(child.pidfd)
        for fd in watched:
            poller.register(fd, select.POLLIN)
        try:
            while True:
                ready = {fd for fd, _ in poller.poll(self._timeout(child))}
                for fd in list(child.streams):
                    if fd in ready and not self._read_output(child, fd):
                        poller.unregister(fd)
                        del child.streams[fd]
                if self._wake_r in ready:
                    _drain(self._wake_r)
                if self._ctl in ready:
                    self._read_records(child)
                if (child.pidfd in ready) if child.pidfd is not None else \
                        child.proc.poll() is not None:
                    self._died(child)
                    return
                self._look_for_readers(child)
                self._check_lost_interrupt(child)
        except Exception:
            log.exception("the interpreter's I/O thread failed")
            self._died(child)

    def _timeout(self, child: _Child) -> int | None:
        with self._lock:
            run = self._run
            dues = [] if run is None or run.recheck is None else [run.recheck]
            if not (run is None or run.in_fd is None or run.input_pending or
                    not readers.SUPPORTED):
                dues.append(self._due(run))
        if not dues:
            return None if child.pidfd is not None else 200
        return max(0, int((min(dues) - time.monotonic()) * 1000) + 1)

    @staticmethod
    def _due(run: _Run) -> float:
        if not run.checked:
            return min(run.last_activity + _QUIET, run.last_check + _SLOWEST)
        return run.last_check + run.backoff

    def _activity(self, run: _Run | None) -> None:
        if run is not None:
            run.last_activity = time.monotonic()
            run.checked = False
            run.backoff = _QUIET

    def _read_output(self, child: _Child, fd: int, limit: int = 1 << 16) -> bool:
        try:
            data = os.read(fd, limit)
        except BlockingIOError:
            return True
        if not data:
            return False
        text = child.decoders[fd].decode(data)
        if text:
            try:
                self._sink(child.streams[fd], text)
            except Exception:
                log.exception("the output sink failed")
        with self._lock:
            self._activity(self._run)
        return True

    def _drain_output(self, child: _Child) -> None:
        for fd in list(child.streams):
            for _ in range(64):  # bounded: a busy background writer must not hold us here
                try:
                    if _available(fd) == 0 or not self._read_output(child, fd):
                        break
                except OSError:
                    break

    def _read_records(self, child: _Child) -> None:
        while True:
            try:
                data = os.read(self._ctl, 1 << 16)
            except BlockingIOError:
                break
            if not data:
                break
            self._ctl_buf += data
        while True:
            record = self._next_record()
            if record is None:
                return
            self._drain_output(child)
            self._handle(child, record)

    def _next_record(self) -> list[str] | None:
        buf = self._ctl_buf
        end = buf.find(b"\0")
        if end < 0:
            return None
        try:
            count = int(buf[:end])
        except ValueError:
            log.warning("unreadable record from the interpreter; dropped %d bytes", len(buf))
            buf.clear()
            return None
        fields, pos = [], end + 1
        for _ in range(count):
            end = buf.find(b"\0", pos)
            if end < 0:
                return None
            fields.append(buf[pos:end].decode("utf-8", "surrogateescape"))
            pos = end + 1
        del buf[:pos]
        return fields or None

    def _handle(self, child: _Child, record: list[str]) -> None:
        kind = record[0]
        with self._lock:
            run = self._run
            self._activity(run)
        if kind == "started":
            with self._lock:
                if run is None or record[1:2] != [run.token]:
                    return
                run.started = True
                pending = run.pending_interrupt
            if pending:
                self._signal(run)
        elif kind == "done":
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

    def _want_input(self, prompt: str, password: bool) -> None:
        with self._lock:
            run = self._run
            if run is None or run.in_fd is None or run.input_pending:
                return
            if _available(run.in_fd):  # the answer to an earlier question is still unread
                return
            run.input_pending = True
        self._events.put(("input", run, prompt, password))

    def _look_for_readers(self, child: _Child) -> None:
        with self._lock:
            run = self._run
            if run is None or run.in_fd is None or run.input_pending or not readers.SUPPORTED:
                return
            now = time.monotonic()
            if now < self._due(run):
                return
            run.backoff = min(run.backoff * 2, _SLOWEST) if run.checked else _QUIET * 2
            run.checked, run.last_check = True, now
        if readers.blocked_reading(child.proc.pid, self._in_id):
            self._want_input("", False)

    def _died(self, child: _Child) -> None:
        try:
            self._drain_output(child)
            self._read_records(child)
        except OSError:
            pass
        for fd, decoder in child.decoders.items():
            tail = decoder.decode(b"", final=True)
            if tail and fd in child.streams:
                self._sink(child.streams[fd], tail)
        code = child.proc.wait()
        self.exit_code = 128 - code if code < 0 else code
        self._events.put(("exit", self.exit_code))
        for fd in (child.cmd, *child.decoders, child.pidfd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass


def _write_some(fd: int, data: bytes) -> None:
    try:
        written = os.write(fd, data)
    except OSError as e:
        log.warning("could not write to the interpreter: %s", e)
        return
    if written < len(data):
        log.warning("the interpreter's input is full; %d bytes dropped", len(data) - written)


def _tree(pid: int) -> dict[int, tuple[int, bytes]]:
    """The processes below `pid`, each with its parent's pid and its command line."""
    out = {}
    for p in procs.descendants(pid):
        st = procs.stat(p)
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if st is not None:
                    out[p] = (st[1], f.read())
        except OSError:
            pass
    return out


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
