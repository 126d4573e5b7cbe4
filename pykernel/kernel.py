"""The kernel core: what every language gets. Knows nothing of IPython.

Theory of operation
- `Kernel.dispatch` is the one place a request is handled: it publishes `busy`, calls the handler named
  after the message type (`execute_request`, `kernel_info_request`, ...), and publishes `idle`, for
  every request on shell and control. A handler that raises, or content of the wrong shape, becomes an
  error reply: never silence, never a dead kernel.
- The request being handled is held in a contextvar (`current_request`): publishing, stdin and replies
  find their parent there, never by guessing from a thread's name.
- Threads: the main thread runs the main shell (user code runs there, so SIGINT can interrupt it); the
  control thread serves control and notices iopub subscriptions; each subshell has a thread. See
  `shells.py` for how shell messages reach those threads.
- Interrupts, in both modes, are a SIGINT to the kernel's own process (message mode sends it itself,
  with `send_interrupt`). Python's C-level handler writes the signal to a pipe at once; the
  `pykernel-signals` thread reads it and calls `do_interrupt` there, so a language can cancel work
  even while the main thread is inside a C call. The main thread, at its next bytecode, runs
  `do_keyboard_interrupt`, which by default raises KeyboardInterrupt in the running code. At shutdown
  the running code is interrupted the same way and then gets KeyboardInterrupt whatever the language
  does with interrupts, so the process exits in time. An interrupt that comes after a cell's `busy`
  but before the language runs it ends the cell as it starts; `do_interrupt` runs in the context of
  the cell it interrupts (`parent_header()` is that cell's), also then.
- stop_on_error: when a cell fails, the execute_requests received for its shell before the error
  reply goes out (queued, or readable on the socket) are answered `aborted`; a request that arrives
  after the reply went out runs, as it may be the frontend's answer to the error (see `shells.py`).
- The main shell reads no request until the first iopub subscription (or `subscriber_wait` seconds
  after binding): a client reconnecting after a restart may send its first cell before its SUB
  socket is back, and that cell's output would go to nobody. Control is served meanwhile.

Names: a language and the core are one object, so every kind of name has its own form and no name
is in two rows (tests/test_dispatch.py checks these sets against the classes; `WrapperKernel`
refuses a subclass that defines a core action, handler or plumbing method). A request goes down the first three
rows: the handler `execute_request` calls the core hook `do_execute`, which `WrapperKernel`
implements by calling the wrapper language's `execute`. docs/write-a-kernel.md shows the same table.

| tier | names | defined by | called by |
|---|---|---|---|
| handler (`HANDLERS`) | the message type: `execute_request`, `comm_open`, ... | the core | the core, per request |
| core hook (`HOOKS`) | `do_execute`, `do_complete`, ..., `do_interrupt`, `cleanup` | `WrapperKernel`, or a kernel on the core directly (the Python kernel) | the core |
| wrapper hook (`wrapper.kernel.HOOKS`) | `execute`, `complete`, `inspect`, `is_complete`, `history`, `interrupt`, `shutdown` | a wrapper language | `WrapperKernel` |
| wrapper API (`wrapper.kernel.API`) | `print`, `stdout`, `stderr`, `display`, `update_display`, `clear_output`, `input`, `ainput`, `execution`, `register_comm_target`, `open_comm` | `WrapperKernel` | a wrapper language |
| core action (`ACTIONS`) | `publish`, `publish_stream`, `publish_display`, `publish_clear_output`, `request_input`, `send_interrupt`, `stop`, `parent_header` | the core | languages |
| plumbing (`PLUMBING`) | `dispatch`, `send_reply`, `start`, ... | the core | the core and its app |
"""

from __future__ import annotations

import contextvars
import logging
import os
import select
import signal
import sys
import threading
import time
import traceback
from typing import Any, Callable

from traitlets import Float
from traitlets.config import Configurable

from . import __version__, procs
from .shells import Shells, Shell
from .streams import StreamCoalescer
from .usage import Usage
from .transport import Transport, Wakeup
from .wire import PROTOCOL_VERSION, Message, Session

log = logging.getLogger("pykernel")

current_request: contextvars.ContextVar["Request | None"] = contextvars.ContextVar(
    "pykernel_request", default=None)


#: Told, before `idle`, to the frontends of a request during which one of them stopped reading
STALL_NOTICE = ("[pykernel: a frontend stopped reading output; what was printed while it did not "
                "read was not sent to it]\n")


class BadRequest(Exception):
    """The content of a request has the wrong shape; answered with an error reply."""


class StdinNotAllowed(RuntimeError):
    """`input()` was called for a request that did not allow stdin."""


class Request:
    """A request being handled: the message, the channel it came on, the shell serving it, and
    whether its handler has returned (`done`; threads it started may still hold it)."""

    __slots__ = ("kernel", "msg", "channel", "shell", "done")

    def __init__(self, kernel: "Kernel", msg: Message, channel: str, shell: Shell | None):
        self.kernel, self.msg, self.channel, self.shell = kernel, msg, channel, shell
        self.done = False

    @property
    def content(self) -> dict:
        return self.msg.content

    def get(self, name: str, kind: type | tuple, default: Any = ...) -> Any:
        """A content field, checked: missing (without default) or of the wrong type is a BadRequest."""
        value = self.msg.content.get(name, default)
        if value is ...:
            raise BadRequest(f"{self.msg.msg_type}: missing field {name!r}")
        if value is not default and not isinstance(value, kind) or (
                kind is int and isinstance(value, bool)):
            raise BadRequest(f"{self.msg.msg_type}: field {name!r} must be "
                             f"{getattr(kind, '__name__', kind)}, not {type(value).__name__}")
        return value

    def reply(self, content: dict, metadata: dict | None = None) -> None:
        self.kernel.send_reply(self, content, metadata)

    def publish(self, msg_type: str, content: dict, metadata: dict | None = None,
                buffers: list | None = None) -> None:
        self.kernel.publish(msg_type, content, parent=self.msg.header, metadata=metadata,
                            buffers=buffers)


class Execution:
    """What an execute_request asks for, checked, plus the execution count it runs under."""

    __slots__ = ("code", "silent", "store_history", "user_expressions", "allow_stdin",
                 "stop_on_error", "execution_count", "request")

    def __init__(self, req: Request, execution_count: int):
        self.request = req
        self.code = req.get("code", str)
        self.silent = req.get("silent", bool, False)
        # silent forces store_history off, whatever the client sent
        self.store_history = req.get("store_history", bool, True) and not self.silent
        self.user_expressions = req.get("user_expressions", dict, {})
        self.allow_stdin = req.get("allow_stdin", bool, False)
        self.stop_on_error = req.get("stop_on_error", bool, True)
        self.execution_count = execution_count

    @property
    def cell_id(self) -> str | None:
        return self.request.msg.metadata.get("cellId")


def _cursor(req: Request, code: str) -> int:
    """The request's cursor_pos (code points), clamped into the code; None or absent = the end."""
    pos = req.get("cursor_pos", (int, type(None)), None)
    return len(code) if pos is None else max(0, min(pos, len(code)))


def error_content(ename: str, evalue: str, tb: list[str] | None = None) -> dict:
    return {"status": "error", "ename": ename, "evalue": evalue, "traceback": tb or []}


#: The names of each tier (see the module docstring); no name is in two of them.
HANDLERS = frozenset({
    "execute_request", "complete_request", "inspect_request", "history_request",
    "is_complete_request", "kernel_info_request", "comm_info_request", "comm_open", "comm_msg",
    "comm_close", "shutdown_request", "connect_request", "interrupt_request", "debug_request",
    "create_subshell_request", "delete_subshell_request", "list_subshell_request",
    "usage_request"})
HOOKS = frozenset({
    "do_execute", "do_complete", "do_inspect", "do_history", "do_is_complete", "do_debug",
    "do_shutdown", "do_interrupt", "do_keyboard_interrupt", "cleanup", "supported_features",
    "kernelspec_metadata", "configurables"})
ACTIONS = frozenset({
    "publish", "publish_stream", "publish_display", "publish_clear_output", "request_input",
    "send_interrupt", "stop", "parent_header"})
PLUMBING = frozenset({
    "dispatch", "abort", "reject_subshell", "send_reply", "kernel_info", "install_signal_handlers",
    "start", "kernelspec_defaults"})


class Kernel(Configurable):
    """The core of a kernel. Subclass it (or `pykernel.wrapper.WrapperKernel`) for a language."""

    #: kernelspec defaults for `python -m MODULE install`
    kernel_name = "pykernel"
    display_name = "pykernel"
    kernel_module: str | None = None  # default: the top-level package of the class
    logo_dir: str | None = None
    implementation = "pykernel"
    implementation_version = __version__
    language_info: dict = {"name": "text", "mimetype": "text/plain", "file_extension": ".txt"}
    banner = ""
    help_links: list = []
    #: 'signal' or 'message'; what the kernelspec tells frontends to use.
    interrupt_mode = "signal"

    exit_grace = Float(3.0, help="Seconds to wait for running code to stop after a shutdown "
                       "request before the process exits regardless.").tag(config=True)
    subscriber_wait = Float(2.0, help="Seconds after binding during which the first shell request "
                            "waits for a first iopub subscriber, so that its output is not "
                            "published to nobody (a client reconnecting after a restart).").tag(
                                config=True)

    def __init__(self, transport: Transport, session: Session, **kwargs: Any):
        super().__init__(**kwargs)
        self.transport = transport
        self.session = session
        self.execution_count = 0
        self._count_lock = threading.Lock()
        self._iopub_topic = f"kernel.{session.session_id}.".encode()
        self.shells = Shells(self, transport)
        self.stopping = threading.Event()
        self._executing = False  # the main shell is running a language's execute hook
        # The main shell's execute_request, from before its `busy` to after its `idle`: an
        # interrupt in that time is for this cell, also before `_executing` (see `_on_sigint`).
        self._main_request: Request | None = None
        self._interrupt_pending = False  # one came while that request was starting
        self.comms = None  # set by languages that support comms (see comms.py)
        self.streams = StreamCoalescer(self._send_stream)
        self.shell_handlers: dict[str, Callable[[Request], None]] = {
            name: getattr(self, name) for name in (
                "execute_request", "complete_request", "inspect_request", "history_request",
                "is_complete_request", "kernel_info_request", "comm_info_request", "comm_open",
                "comm_msg", "comm_close", "shutdown_request", "connect_request")}
        self.control_handlers = {k: v for k, v in self.shell_handlers.items()
                                 if k != "execute_request"}
        self.control_handlers.update({name: getattr(self, name) for name in (
            "interrupt_request", "debug_request", "create_subshell_request",
            "delete_subshell_request", "list_subshell_request", "usage_request")})
        self._usage = Usage()
        self.exit_timer: threading.Timer | None = None  # ends the process if the stop hangs

    # ---- actions: what a language calls ----------------------------------------------------------

    def publish(self, msg_type: str, content: dict, parent: dict | None = None,
                metadata: dict | None = None, buffers: list | None = None) -> None:
        """Publish on iopub. Without `parent`, the request being handled in this context is the
        parent (or none, outside any request)."""
        if parent is None:
            parent = self.parent_header()
        self.streams.flush()
        self._publish(msg_type, content, parent, metadata, buffers)

    def _publish(self, msg_type: str, content: dict, parent: dict, metadata: dict | None = None,
                 buffers: list | None = None) -> None:
        frames = self.session.serialize(msg_type, content, parent=parent, metadata=metadata,
                                        buffers=buffers,
                                        identities=[self._iopub_topic + msg_type.encode()])
        self.transport.publish(frames)

    def _send_stream(self, name: str, text: str, parent: dict) -> None:
        self._publish("stream", {"name": name, "text": text}, parent)

    def parent_header(self) -> dict:
        """The header of the request being handled in this context ({} outside any request)."""
        req = current_request.get()
        return req.msg.header if req is not None else {}

    def publish_stream(self, name: str, text: str, parent: dict | None = None) -> None:
        """Write to the frontend's stdout or stderr. Coalesced: see streams.py."""
        self.streams.write(name, text, self.parent_header() if parent is None else parent)

    def publish_display(self, data: dict, metadata: dict | None = None,
                        transient: dict | None = None, update: bool = False,
                        parent: dict | None = None) -> None:
        """Publish display_data (or update_display_data) of a mime bundle."""
        content = {"data": data, "metadata": metadata or {}, "transient": transient or {}}
        self.publish("update_display_data" if update else "display_data", content, parent)

    def publish_clear_output(self, wait: bool = False, parent: dict | None = None) -> None:
        self.publish("clear_output", {"wait": wait}, parent)

    def request_input(self, prompt: str = "", password: bool = False) -> str:
        """Ask the frontend that sent the running execute_request for a line of input."""
        req = current_request.get()
        if req is None or not req.msg.content.get("allow_stdin", False):
            raise StdinNotAllowed("this frontend does not support input requests")
        frames = self.session.serialize("input_request", {"prompt": prompt, "password": password},
                                        parent=req.msg.header, identities=req.msg.identities)
        reply = self.transport.stdin_exchange(frames, lambda m: m.msg_type == "input_reply",
                                              req.msg.peer)
        value = reply.content.get("value", "")
        return value if isinstance(value, str) else str(value)

    # ---- dispatch --------------------------------------------------------------------------------

    def dispatch(self, msg: Message, channel: str, shell: Shell | None = None) -> None:
        handlers = self.shell_handlers if channel == "shell" else self.control_handlers
        req = Request(self, msg, channel, shell)
        token = current_request.set(req)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %s", channel, msg.msg_type, msg.msg_id)
        main_execute = msg.msg_type == "execute_request" and shell is not None and shell.is_main
        if main_execute:  # before `busy`: a frontend may interrupt as soon as it sees that
            self._main_request = req
        self.publish("status", {"execution_state": "busy"}, msg.header)
        stalls = getattr(self.transport, "stalls", 0)
        try:
            if msg.problem:  # signed, with a good header, but its content could not be read
                raise BadRequest(msg.problem)
            handler = handlers.get(msg.msg_type)
            if handler is None:
                log.warning("unknown message type %r on %s", msg.msg_type, channel)
                if msg.msg_type.endswith("_request"):
                    req.reply(error_content("UnknownMessageType",
                                            f"{msg.msg_type} is not supported on {channel}"))
            else:
                handler(req)
        except BadRequest as e:
            log.warning("%s", e)
            if msg.msg_type.endswith("_request"):
                req.reply(error_content("BadRequest", str(e)))
        except Exception as e:
            log.exception("error handling %s", msg.msg_type)
            if msg.msg_type.endswith("_request"):
                req.reply(error_content(type(e).__name__, str(e),
                                        traceback.format_exception(e)))
        finally:
            if getattr(self.transport, "stalls", 0) != stalls:  # see transport.py, Bounded iopub
                self.publish_stream("stderr", STALL_NOTICE, msg.header)
            req.done = True
            self.publish("status", {"execution_state": "idle"}, msg.header)
            if main_execute:
                self._main_request = None
                self._interrupt_pending = False
            current_request.reset(token)

    def abort(self, msg: Message, shell: Shell) -> None:
        """Answer a queued execute_request that an earlier error cancelled (stop_on_error)."""
        self.publish("status", {"execution_state": "busy"}, msg.header)
        Request(self, msg, "shell", shell).reply({"status": "aborted"})
        self.publish("status", {"execution_state": "idle"}, msg.header)

    def reject_subshell(self, msg: Message) -> None:
        log.warning("%s for unknown subshell %r", msg.msg_type, msg.subshell_id)
        self.publish("status", {"execution_state": "busy"}, msg.header)
        if msg.msg_type.endswith("_request"):
            Request(self, msg, "shell", None).reply(
                error_content("SubshellNotFound", f"no subshell {msg.subshell_id!r}"))
        self.publish("status", {"execution_state": "idle"}, msg.header)

    def send_reply(self, req: Request, content: dict, metadata: dict | None = None) -> None:
        self.streams.flush()
        msg_type = req.msg.msg_type.rsplit("_", 1)[0] + "_reply"
        frames = self.session.serialize(msg_type, content, parent=req.msg, metadata=metadata)
        if req.channel == "control":
            self.transport.send_control(frames)
        else:
            self.transport.send_shell(frames)

    # ---- shell handlers --------------------------------------------------------------------------

    def execute_request(self, req: Request) -> None:
        ex = Execution(req, 0)
        with self._count_lock:
            if ex.store_history:
                self.execution_count += 1
            ex.execution_count = count = self.execution_count
        main = req.shell is not None and req.shell.is_main
        try:
            if main:
                self._executing = True
                if self._interrupt_pending:  # it came after `busy`, before this cell could run
                    self._interrupt_pending = False
                    raise KeyboardInterrupt
            if not ex.silent:
                req.publish("execute_input", {"code": ex.code, "execution_count": count})
            reply = self.do_execute(ex)
        except KeyboardInterrupt:
            reply = error_content("KeyboardInterrupt", "", ["KeyboardInterrupt"])
            req.publish("error", {k: reply[k] for k in ("ename", "evalue", "traceback")})
        except Exception as e:
            log.exception("the language's execute failed")
            reply = error_content(type(e).__name__, str(e), traceback.format_exception(e))
            req.publish("error", {k: reply[k] for k in ("ename", "evalue", "traceback")})
        finally:
            if main:
                self._executing = False
        reply.setdefault("status", "ok")
        reply["execution_count"] = count
        if reply["status"] == "ok":
            reply.setdefault("user_expressions", {})
            reply.setdefault("payload", [])
        if reply["status"] != "ok" and ex.stop_on_error and req.shell is not None:
            # Cells queued behind this one (pipelined: "run all") are cancelled: exactly those
            # received before the reply goes out, which were surely sent before the error could
            # be seen. Nothing is taken after it: that may be a frontend's answer to the error.
            queued = req.shell.take_queued()
            req.reply(reply)
            req.shell.abort(queued)
        else:
            req.reply(reply)

    def complete_request(self, req: Request) -> None:
        code = req.get("code", str)
        req.reply({"status": "ok", **self.do_complete(code, _cursor(req, code))})

    def inspect_request(self, req: Request) -> None:
        code = req.get("code", str)
        pos = _cursor(req, code)
        detail = req.get("detail_level", int, 0)
        req.reply({"status": "ok", **self.do_inspect(code, pos, detail)})

    def history_request(self, req: Request) -> None:
        c = req.content
        kind = req.get("hist_access_type", str, "tail")
        if kind not in ("tail", "range", "search"):
            raise BadRequest(f"history_request: unknown hist_access_type {kind!r}")
        for name, t in (("output", bool), ("raw", bool), ("n", (int, type(None))),
                        ("session", int), ("start", int), ("stop", int), ("pattern", str),
                        ("unique", bool)):
            if name in c:
                req.get(name, t)
        req.reply({"status": "ok", "history": self.do_history(kind, c)})

    def is_complete_request(self, req: Request) -> None:
        req.reply(self.do_is_complete(req.get("code", str)))

    def kernel_info_request(self, req: Request) -> None:
        req.reply(self.kernel_info())

    def kernel_info(self) -> dict:
        return {
            "status": "ok",
            "protocol_version": PROTOCOL_VERSION,
            "implementation": self.implementation,
            "implementation_version": self.implementation_version,
            "language_info": self.language_info,
            "banner": self.banner,
            "help_links": self.help_links,
            "debugger": "debugger" in self.supported_features(),
            "supported_features": self.supported_features(),
        }

    def supported_features(self) -> list[str]:
        return ["kernel subshells"]

    def comm_info_request(self, req: Request) -> None:
        target = req.get("target_name", (str, type(None)), None)
        comms = self.comms.comm_info(target) if self.comms is not None else {}
        req.reply({"status": "ok", "comms": comms})

    def comm_open(self, req: Request) -> None:
        if self.comms is not None:
            self.comms.comm_open(req)

    def comm_msg(self, req: Request) -> None:
        if self.comms is not None:
            self.comms.comm_msg(req)

    def comm_close(self, req: Request) -> None:
        if self.comms is not None:
            self.comms.comm_close(req)

    def connect_request(self, req: Request) -> None:
        info = self.transport.info
        req.reply({"status": "ok", **{p: getattr(info, p) for p in (
            "shell_port", "iopub_port", "stdin_port", "hb_port", "control_port")}})

    # ---- control handlers ------------------------------------------------------------------------

    def shutdown_request(self, req: Request) -> None:
        restart = req.get("restart", bool, False)
        try:
            self.do_shutdown(restart)
        finally:
            content = {"status": "ok", "restart": restart}
            req.reply(content)
            req.publish("shutdown_reply", content)
            self.stop()

    def interrupt_request(self, req: Request) -> None:
        req.reply({"status": "ok"})
        self.send_interrupt(children=True)

    def debug_request(self, req: Request) -> None:
        req.reply(self.do_debug(req.content))

    def create_subshell_request(self, req: Request) -> None:
        req.reply({"status": "ok", "subshell_id": self.shells.create()})

    def delete_subshell_request(self, req: Request) -> None:
        sid = req.get("subshell_id", str)
        if not self.shells.delete(sid):
            req.reply(error_content("SubshellNotFound", f"no subshell {sid!r}"))
            return
        req.reply({"status": "ok"})

    def usage_request(self, req: Request) -> None:
        req.reply(self._usage.reply())

    def list_subshell_request(self, req: Request) -> None:
        req.reply({"status": "ok", "subshell_id": self.shells.ids()})

    # ---- interrupt and stop ----------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self._on_sigint)
        # SIGTERM (a frontend's kill before SIGKILL, a container stop): an orderly stop, so child
        # processes are ended and the language saves its state
        signal.signal(signal.SIGTERM, lambda signum, frame: self.stop())
        # Python writes each signal's number to this pipe from its C-level handler, at once, while
        # the Python-level handler waits for the main thread's next bytecode.
        self._signal_pipe = Wakeup()
        signal.set_wakeup_fd(self._signal_pipe.w, warn_on_full_buffer=False)
        procs.start_internal_thread(self._watch_signals, "pykernel-signals")

    def _watch_signals(self) -> None:
        pipe = self._signal_pipe.r
        wakeup = getattr(self.transport, "shell_wakeup", None)
        while True:
            select.select([pipe], [], [])
            try:
                signums = os.read(pipe, 512)
            except BlockingIOError:
                continue
            # A signal taken by a thread other than the main one (a user's thread) must still
            # wake the main thread's wait for messages, so that its Python handler runs.
            if wakeup is not None:
                wakeup.set()
            req = self._main_request
            if signal.SIGINT in signums and req is not None:
                # in the context of the cell it interrupts, so that the hook can tell which
                token = current_request.set(req)
                try:
                    self.do_interrupt()
                except Exception:
                    log.exception("the language's interrupt hook failed")
                finally:
                    current_request.reset(token)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if not self._executing:
            if self._main_request is not None:  # a cell is starting: it ends as it starts
                self._interrupt_pending = True
            else:
                log.info("interrupt ignored: the kernel is idle")
            return
        self.do_keyboard_interrupt()
        if self.stopping.is_set():
            # exiting: the running code ends, whatever the language does with interrupts
            raise KeyboardInterrupt

    def send_interrupt(self, children: bool = False) -> None:
        """Interrupt the running execute: a SIGINT to this process, as a frontend's signal-mode
        interrupt is (message mode does this, and signals the children too). An idle kernel
        ignores it."""
        if self._main_request is None:
            log.info("interrupt ignored: the kernel is idle")
            return
        if children:
            procs.signal_children(signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)

    def stop(self) -> None:
        """Begin an orderly exit: the main loop returns, the app tears down."""
        self.stopping.set()
        subscribed = getattr(self.transport, "subscribed", None)
        if subscribed is not None:
            subscribed.set()  # a shell held for a first subscriber stops waiting
        self.shells.wake()
        self.transport.control_wakeup.set()

    # ---- the loops -------------------------------------------------------------------------------

    def start(self) -> None:
        """Serve until shutdown. Runs the main shell on the calling (main) thread."""
        # Frontends that subscribed while the kernel was loading get their welcome before anything.
        self.transport.check_subscriptions()
        self.publish("status", {"execution_state": "starting"}, {})
        self.control_thread = procs.start_internal_thread(self._serve_control, "pykernel-control")
        try:
            self._wait_for_subscriber()
            self.shells.serve_main()
        finally:
            self.stop()
            self.control_thread.join(self.exit_grace)
            procs.terminate_children()

    def _wait_for_subscriber(self) -> None:
        """Hold the shell until someone listens on iopub, for at most `subscriber_wait` seconds
        after binding. Requests arriving meanwhile wait in the socket; control is served, and the
        control thread notices the subscription (and `stop` ends the wait)."""
        subscribed = getattr(self.transport, "subscribed", None)
        if subscribed is None:
            return
        left = self.subscriber_wait - (time.monotonic() - self.transport.bound_at)
        if left > 0 and not subscribed.wait(left):
            log.info("no iopub subscriber after %.1fs; serving shell anyway", self.subscriber_wait)

    def _serve_control(self) -> None:
        poll = self.transport.control_poller()
        while not self.stopping.is_set():
            for msg in poll(None) or ():
                self.dispatch(msg, "control")
        procs.terminate_children()
        # the main thread may be busy in user code: interrupt it, and do not wait on it forever
        if self._executing:
            self.send_interrupt()
        self.exit_timer = threading.Timer(self.exit_grace, self._force_exit)
        self.exit_timer.daemon = True
        self.exit_timer.start()

    def _force_exit(self) -> None:
        log.warning("the kernel did not stop within %.1fs; exiting now", self.exit_grace)
        procs.terminate_children()
        sys.stderr.flush()
        os._exit(0)

    # ---- kernelspec ----------------------------------------------------------------------------

    @classmethod
    def configurables(cls) -> list[type]:
        """Other configurable classes whose traits `--Class.trait=value` may set."""
        return []

    @classmethod
    def kernelspec_metadata(cls) -> dict:
        return {"supported_encryption": ["curve"]}

    @classmethod
    def kernelspec_defaults(cls) -> dict:
        return {"module": cls.kernel_module or cls.__module__.split(".")[0],
                "default_name": cls.kernel_name, "default_display_name": cls.display_name,
                "language": cls.language_info["name"], "interrupt_mode": cls.interrupt_mode,
                "metadata": cls.kernelspec_metadata(), "logo_dir": cls.logo_dir,
                "protocol_version": PROTOCOL_VERSION}

    # ---- language hooks --------------------------------------------------------------------------

    def do_execute(self, ex: Execution) -> dict:
        """Run `ex.code`; publish output; return the reply content ({'status': 'ok', ...} or
        error_content(...)). The core adds execution_count."""
        raise NotImplementedError

    def do_complete(self, code: str, cursor_pos: int) -> dict:
        return {"matches": [], "cursor_start": cursor_pos, "cursor_end": cursor_pos,
                "metadata": {}}

    def do_inspect(self, code: str, cursor_pos: int, detail_level: int) -> dict:
        return {"found": False, "data": {}, "metadata": {}}

    def do_history(self, hist_access_type: str, content: dict) -> list:
        return []

    def do_is_complete(self, code: str) -> dict:
        return {"status": "unknown"}

    def do_debug(self, request: dict) -> dict:
        return {}

    def do_shutdown(self, restart: bool) -> None:
        """Release the language's resources; called before the shutdown reply is sent."""

    def do_interrupt(self) -> None:
        """Called on the kernel's signal thread as soon as an interrupt arrives during an execute,
        also while the main thread is inside a C call: cancel the running work there (a database's
        interrupt, a signal to a child). Must not block; runs beside the main thread."""

    def do_keyboard_interrupt(self) -> None:
        """Called on the main thread, from the Python-level SIGINT handler, when an interrupt
        arrives during an execute (after or beside `do_interrupt`). The default raises
        KeyboardInterrupt in the running code; a language that cancels its work another way may
        return instead."""
        raise KeyboardInterrupt

    def cleanup(self) -> None:
        """Called on the main thread after the loops stop, before the sockets close."""
