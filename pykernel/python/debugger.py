"""The Jupyter debugger for the Python kernel: `debug_request`s bridged to debugpy in this process.

Theory of operation
- `Debugger.handle(request)` takes the DAP request of a `debug_request` and returns the DAP
  response that becomes the `debug_reply`; DAP events go out on iopub as `debug_event`. It runs on
  the control thread and never waits on the main thread: while code is stopped at a breakpoint the
  main thread is suspended inside that code, and control must keep serving kernel_info, debug
  requests, interrupts and shutdown.
- debugpy is imported on the first `initialize`, never at kernel start. It runs in this process
  with no adapter process (`in_process_debug_adapter`): pydevd itself speaks DAP on a 127.0.0.1
  port, and `dap.DapConnection` talks to it. `listen` happens once per process; after a
  `disconnect` the next `initialize` connects to the same port again.
- Kernel threads must never be suspended: a suspended control thread would stop the debugger
  itself, and a suspended publishing thread could hold the iopub lock. They are marked untraced
  before debugpy starts, and `attach` excludes the kernel's own code (this package, the packages
  loaded before the first cell, the kernel's main script), so no thread ever stops or steps inside
  it; that also keeps kernel frames out of `stackTrace`.
- JupyterLab sends `attach {}` and never `configurationDone`: `attach` is completed with our
  arguments and followed by our own `configurationDone`; a frontend's `configurationDone` is
  answered here.
- Answered here: the Jupyter additions (`debugInfo`, `dumpCell`, `inspectVariables`,
  `richInspectVariables`, `copyToGlobals`), `source`, `modules`, and `variables` while nothing is
  stopped (debugvars.py). Everything else is forwarded to debugpy.
- Cells are compiled (`CellCompiler`) under `cell_filename(code)`,
  `<tmp>/pykernel_<pid>/<murmur2(code)>.py`: the name a frontend computes from debugInfo's
  hashMethod, hashSeed, tmpFilePrefix and tmpFileSuffix. Always, not only during a session: a
  function defined before the debugger was switched on still stops at its cell's breakpoints.
- `Debugger.for_shell` wires a debugger to an IPython shell; the kernel only forwards
  `debug_request`s to `handle` and calls `close` at shutdown.
- A value in a stopped frame (rich display, copy to globals) is fetched by a DAP `evaluate` that
  hands the object to `_capture` in this module; it is then formatted or stored here while the
  stopped thread stays suspended, so nothing runs concurrently with the user's code.
"""

from __future__ import annotations

import importlib.util
import keyword
import logging
import os
import shutil
import struct
import sys
import tempfile
import threading
import uuid
from typing import Any, Callable

from IPython.core.compilerop import CachingCompiler
from IPython.core.inputtransformer2 import leading_empty_lines

from . import debugvars
from .dap import DapConnection, mark_untraced

log = logging.getLogger("pykernel")

HASH_SEED = 0xC70F6907
TMP_FILE_SUFFIX = ".py"
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: what runs cells, even if not loaded yet when the debugger is created (asyncio: `await` cells)
_KERNEL_PACKAGES = {"IPython", "asyncio", "comm", "concurrent", "pykernel", "queue", "selectors",
                    "threading", "traitlets", "zmq"}
_PYDEVD_GROUPS = ("special variables", "function variables", "class variables",
                  "protected variables")
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF
_NATIVE_WORD = struct.calcsize("I")


def murmur2(data: bytes, seed: int) -> int:
    """MurmurHash2, 32 bits, little-endian blocks: what JupyterLab's debugger hashes cells with.
    Every cell is hashed when it is compiled, so the loop is kept tight."""
    length = len(data)
    h = (seed ^ length) & _MASK
    end = length - length % 4
    m, mask = _M, _MASK
    for k in _blocks(data[:end]):
        k = (k * m) & mask
        h = ((h * m) ^ ((k ^ (k >> 24)) * m)) & mask
    tail = data[end:]
    if tail:
        h ^= int.from_bytes(tail, "little")
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    return h ^ (h >> 15)


def _blocks(data: bytes) -> Any:
    """The little-endian 32-bit words of `data` (whose length is a multiple of 4)."""
    if sys.byteorder == "little" and _NATIVE_WORD == 4:
        return memoryview(data).cast("I")
    return (int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4))


def tmp_file_prefix() -> str:
    """The directory cells are dumped to and named under, with a trailing separator."""
    return os.path.join(tempfile.gettempdir(), f"pykernel_{os.getpid()}") + os.sep


def cell_filename(code: str) -> str:
    """The file name a cell's code is compiled under, as the frontend computes it."""
    try:
        data = code.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: the browser's TextEncoder writes U+FFFD for each
        data = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in code).encode("utf-8")
    return f"{tmp_file_prefix()}{murmur2(data, HASH_SEED)}{TMP_FILE_SUFFIX}"


class CellCompiler(CachingCompiler):
    """IPython's compiler, naming each cell `cell_filename(raw cell)`: the file the frontend
    sets breakpoints in, whether or not a debug session is on when the cell runs."""

    def get_code_name(self, raw_code: str, transformed_code: str, number: int) -> str:
        return cell_filename(raw_code)


_available: bool | None = None
_captured: dict[str, Any] = {}


def _capture(token: str, value: Any) -> str:
    """Called by an `evaluate` in a stopped frame, on the thread that is stopped."""
    _captured[token] = value
    return token


class _Failure(Exception):
    """A request that cannot be served: answered with `success: false` and this message."""


class Debugger:
    """Answers `debug_request`s for a kernel (see the module docstring)."""

    #: seconds to wait for debugpy to answer a request before replying with a failure
    timeout = 30.0

    _endpoint: tuple[str, int] | None = None  # debugpy listens once per process
    _listen_lock = threading.Lock()

    def __init__(self, kernel: Any, *, cell_filename: Callable[[str], str] | None = None,
                 namespace: Callable[[], dict] | None = None,
                 format_bundle: Callable[[Any], tuple[dict, dict]] | None = None,
                 just_my_code: bool = True):
        """`kernel` publishes the events. `cell_filename` names cells (default: this module's
        `cell_filename`, which is what debugInfo describes). `namespace` returns the user's live
        global namespace; `format_bundle` turns a value into (mime bundle, metadata), as IPython's
        `display_formatter.format` does. `just_my_code` keeps stepping and exception stops in the
        user's code; set it False to step into libraries too."""
        self._kernel = kernel
        self._cell_filename = cell_filename or globals()["cell_filename"]
        self._namespace = namespace or (lambda: getattr(getattr(kernel, "shell", None),
                                                        "user_ns", {}))
        self._format_bundle = format_bundle or _plain_bundle
        self.just_my_code = just_my_code
        # what runs the kernel, as loaded before any cell: never stepped into or stopped in
        self._kernel_modules = sorted(({name.partition(".")[0] for name in list(sys.modules)}
                                       | _KERNEL_PACKAGES) - {"__main__", "__mp_main__"})
        main = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
        self._kernel_files = [_PACKAGE_DIR] + ([main] if os.path.isfile(main) else [])
        self._conn: DapConnection | None = None
        self.started = False
        self._breakpoints: dict[str, list[dict]] = {}
        self._stopped: set[int] = set()
        self._state_lock = threading.Lock()
        self._vars = debugvars.VariableTable()
        self._seq = 0
        self._handlers: dict[str, Callable[[dict, dict], Any]] = {
            "initialize": self._initialize, "attach": self._attach,
            "configurationDone": self._configuration_done, "disconnect": self._disconnect,
            "setBreakpoints": self._set_breakpoints, "debugInfo": self._debug_info,
            "dumpCell": self._dump_cell, "inspectVariables": self._inspect_variables,
            "richInspectVariables": self._rich_inspect_variables,
            "copyToGlobals": self._copy_to_globals, "variables": self._variables,
            "source": self._source, "modules": self._modules, "terminate": self._terminate}

    @classmethod
    def for_shell(cls, kernel: Any, shell: Any, **kwargs: Any) -> "Debugger":
        """A debugger for `kernel`'s IPython `shell`, wired to it: the user's namespace, IPython's
        formatters for rich display, `before_cell` before every cell, and, while a session is on,
        a cell's leading empty lines kept (IPython drops them, which would shift every line of
        the cell away from the lines the frontend set breakpoints on). The shell compiles cells
        with `CellCompiler`. Create it before any user code runs: what is loaded by then is
        treated as the kernel's own code."""
        debugger = cls(kernel, namespace=lambda: shell.user_ns,
                       format_bundle=shell.display_formatter.format, **kwargs)
        cleanup = shell.input_transformer_manager.cleanup_transforms
        if leading_empty_lines in cleanup:
            cleanup[cleanup.index(leading_empty_lines)] = debugger._leading_empty_lines
        shell.events.register("pre_execute", debugger.before_cell)
        return debugger

    def _leading_empty_lines(self, lines: list[str]) -> list[str]:
        return lines if self.started else leading_empty_lines(lines)

    @staticmethod
    def available() -> bool:
        """Whether debugpy can be imported (checked once, without importing it)."""
        global _available
        if _available is None:
            _available = importlib.util.find_spec("debugpy") is not None
        return _available

    def cell_filename(self, code: str) -> str:
        """The file name a cell's code is compiled under."""
        return self._cell_filename(code)

    @property
    def stopped_threads(self) -> list[int]:
        with self._state_lock:
            return sorted(self._stopped)

    # ---- the request entry point -----------------------------------------------------------------

    def handle(self, request: dict) -> dict:
        """Answer one DAP request (the content of a debug_request) with a DAP response."""
        command = request.get("command")
        arguments = request.get("arguments")
        if not isinstance(arguments, dict):
            arguments = {}
        try:
            handler = self._handlers.get(command)  # type: ignore[arg-type]
            if handler is not None:
                result = handler(request, arguments)
                return result if _is_response(result) else self._response(request, result)
            if not self.started or self._conn is None:
                raise _Failure(f"{command!r} needs a started debugger: send 'initialize' first")
            self._mark_kernel_threads()  # kernel threads started since the last request
            return self._forward(request)
        except _Failure as e:
            return self._response(request, success=False, message=str(e))
        except Exception as e:
            log.exception("debug request %r failed", command)
            return self._response(request, success=False, message=f"{type(e).__name__}: {e}")

    def before_cell(self) -> None:
        """Call on the thread about to run a cell. While a session is on, gives that thread back
        the tracing it lost: Python drops a thread's trace function when an exception escapes it,
        and an interrupt while code is stopped raises KeyboardInterrupt inside debugpy's wait,
        which also leaves debugpy believing the thread is still stopped."""
        if not self.started or sys.gettrace() is not None or sys.version_info >= (3, 12):
            return  # (3.12+: debugpy uses sys.monitoring, which an exception does not switch off)
        import debugpy  # loaded already: the session started it

        try:  # no public call for this: mark the thread running, as a `continue` would have
            from _pydevd_bundle.pydevd_additional_thread_info import set_additional_thread_info
            from _pydevd_bundle.pydevd_thread_lifecycle import internal_run_thread

            internal_run_thread(threading.current_thread(), set_additional_thread_info)
        except Exception:
            log.warning("could not reset debugpy's state for %s", threading.current_thread(),
                        exc_info=True)
        debugpy.trace_this_thread(True)

    def close(self) -> None:
        """At kernel shutdown: end the debug session (stopped code runs on) and delete the
        dumped cells."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            conn.request("disconnect", {"restart": False, "terminateDebuggee": False}, timeout=2.0)
            conn.close()
        self._reset()
        shutil.rmtree(tmp_file_prefix(), ignore_errors=True)

    # ---- session ---------------------------------------------------------------------------------

    def _initialize(self, request: dict, arguments: dict) -> dict:
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        response = self._forward(request)
        self.started = bool(response.get("success"))
        return response

    def _connect(self) -> DapConnection:
        self._mark_kernel_threads()
        host, port = self._listen()
        return DapConnection(host, port, self._on_event)

    @classmethod
    def _listen(cls) -> tuple[str, int]:
        with cls._listen_lock:
            if cls._endpoint is None:
                # debugpy warns on stderr about frozen stdlib modules, which cells never are
                os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
                try:
                    import debugpy

                    host, port = debugpy.listen(("127.0.0.1", 0), in_process_debug_adapter=True)
                except Exception as e:
                    raise _Failure(f"could not start debugpy: {type(e).__name__}: {e}") from e
                cls._endpoint = (host, int(port))
            return cls._endpoint

    def _mark_kernel_threads(self) -> None:
        mark_untraced(threading.current_thread())
        for t in threading.enumerate():
            if t is threading.main_thread():
                continue
            if (t.name.startswith("pykernel-") and not t.name.startswith("pykernel-subshell-")) \
                    or t.name == "IPythonHistorySavingThread":
                mark_untraced(t)

    def _attach(self, request: dict, arguments: dict) -> dict:
        conn = self._require_connection()
        rules = [{"path": p, "include": False} for p in self._kernel_files]
        rules += [{"module": m, "include": False} for m in self._kernel_modules]
        args = {"justMyCode": self.just_my_code, "redirectOutput": False, **arguments,
                "rules": list(arguments.get("rules") or []) + rules}
        response = self._forward(request, args)
        if response.get("success"):
            done = conn.request("configurationDone", timeout=self.timeout)
            if not done.get("success"):
                raise _Failure(f"configurationDone failed: {done.get('message')}")
        return response

    def _configuration_done(self, request: dict, arguments: dict) -> None:
        self._require_connection()  # sent on attach already

    def _disconnect(self, request: dict, arguments: dict) -> dict:
        conn, self._conn = self._conn, None
        response = self._response(request)
        if conn is not None:
            if not conn.closed:
                # the kernel outlives its debug sessions: shutdown_request is how it ends
                args = {**arguments, "terminateDebuggee": False}
                response = self._forward(request, args, conn=conn)
            conn.close()
        self._reset()
        return response

    def _terminate(self, request: dict, arguments: dict) -> None:
        raise _Failure("the kernel is not terminated by its debugger: use shutdown_request, or "
                       "interrupt_request to stop the running cell")

    def _reset(self) -> None:
        self.started = False
        self._breakpoints = {}
        with self._state_lock:
            self._stopped.clear()

    def _on_event(self, event: dict) -> None:
        """debugpy's events (on the connection's reader thread): tracked, then published."""
        name, body = event.get("event"), event.get("body") or {}
        with self._state_lock:
            if name == "stopped" and isinstance(body.get("threadId"), int):
                self._stopped.add(body["threadId"])
            elif name == "continued":
                if body.get("allThreadsContinued", True):
                    self._stopped.clear()
                else:
                    self._stopped.discard(body.get("threadId"))  # type: ignore[arg-type]
            elif name in ("terminated", "exited"):
                self._stopped.clear()
        self._kernel.publish("debug_event", event, parent={})

    # ---- breakpoints and sources -----------------------------------------------------------------

    def _set_breakpoints(self, request: dict, arguments: dict) -> dict:
        self._require_connection()
        response = self._forward(request)
        path = (arguments.get("source") or {}).get("path")
        if response.get("success") and isinstance(path, str):
            # debugpy may move a breakpoint to another line: remember where it really is
            placed = (response.get("body") or {}).get("breakpoints", [])
            lines = [{"line": b["line"]} for b in placed if isinstance(b, dict) and "line" in b]
            if lines:
                self._breakpoints[path] = lines
            else:
                self._breakpoints.pop(path, None)
        return response

    def _debug_info(self, request: dict, arguments: dict) -> dict:
        return {"isStarted": self.started, "hashMethod": "Murmur2", "hashSeed": HASH_SEED,
                "tmpFilePrefix": tmp_file_prefix(), "tmpFileSuffix": TMP_FILE_SUFFIX,
                "breakpoints": [{"source": path, "breakpoints": lines}
                                for path, lines in self._breakpoints.items()],
                "stoppedThreads": self.stopped_threads, "richRendering": True,
                "exceptionPaths": ["Python Exceptions"], "copyToGlobals": True}

    def _dump_cell(self, request: dict, arguments: dict) -> dict:
        code = arguments.get("code")
        if not isinstance(code, str):
            raise _Failure("dumpCell needs 'code' (a string)")
        path = self.cell_filename(code)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as f:  # lines exactly as the cell's
            f.write(code)
        return {"sourcePath": path}

    def _source(self, request: dict, arguments: dict) -> Any:
        source = arguments.get("source") or {}
        path = source.get("path")
        if isinstance(path, str) and os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                return {"content": f.read()}
        if source.get("sourceReference") and self._conn is not None:
            return self._forward(request)
        raise _Failure(f"source unavailable: {path!r}")

    def _modules(self, request: dict, arguments: dict) -> dict:
        found = []
        for name, module in list(sys.modules.items()):
            origin = getattr(getattr(module, "__spec__", None), "origin", None)
            if isinstance(origin, str) and origin.endswith(".py"):
                found.append({"id": len(found), "name": name, "path": origin})
        start, count = _int(arguments, "startModule"), _int(arguments, "moduleCount")
        return {"modules": found[start:start + count] if count else found[start:],
                "totalModules": len(found)}

    # ---- variables -------------------------------------------------------------------------------

    def _inspect_variables(self, request: dict, arguments: dict) -> dict:
        self._vars.reset()
        return {"variables": self._vars.top(self._namespace())}

    def _variables(self, request: dict, arguments: dict) -> Any:
        if self.stopped_threads and self._conn is not None:
            response = self._forward(request)
            body = response.get("body")
            if isinstance(body, dict) and isinstance(body.get("variables"), list):
                body["variables"] = [v for v in body["variables"]
                                     if not debugvars.from_ipython(str(v.get("name", "")))]
            return response
        children = self._vars.children(_int(arguments, "variablesReference"),
                                       _int(arguments, "start"), _int(arguments, "count"))
        if children is None:
            raise _Failure("unknown variablesReference (list the variables again)")
        return {"variables": children}

    def _rich_inspect_variables(self, request: dict, arguments: dict) -> Any:
        name = arguments.get("variableName")
        if not _is_name(name):
            if name in _PYDEVD_GROUPS:  # debugpy's grouping rows: nothing to render
                return {"data": {}, "metadata": {}}
            raise _Failure(f"not a variable name: {name!r}")
        frame_id = arguments.get("frameId")
        if self.stopped_threads and frame_id is not None:
            value = self._value_in_frame(name, frame_id)
        else:
            namespace = self._namespace()
            if name not in namespace:
                raise _Failure(f"name {name!r} is not defined")
            value = namespace[name]
        data, metadata = self._format_bundle(value)
        return {"data": data, "metadata": {k: v for k, v in metadata.items() if k in data}}

    def _copy_to_globals(self, request: dict, arguments: dict) -> None:
        src, dst = arguments.get("srcVariableName"), arguments.get("dstVariableName")
        if not (_is_name(src) and _is_name(dst)):
            raise _Failure("copyToGlobals needs srcVariableName and dstVariableName")
        value = self._value_in_frame(src, arguments.get("srcFrameId"))  # type: ignore[arg-type]
        self._namespace()[dst] = value

    def _value_in_frame(self, name: str, frame_id: Any) -> Any:
        conn = self._require_connection()
        if not isinstance(frame_id, int):
            raise _Failure("a frameId of a stopped frame is needed")
        token = uuid.uuid4().hex
        expression = f"__import__({__name__!r}, fromlist=['_capture'])._capture({token!r}, {name})"
        response = conn.request("evaluate", {"expression": expression, "frameId": frame_id,
                                             "context": "watch"}, timeout=self.timeout)
        value = _captured.pop(token, _MISSING)
        if not response.get("success") or value is _MISSING:
            why = response.get("message") or (response.get("body") or {}).get("result")
            raise _Failure(f"cannot read {name!r} in frame {frame_id}: {why}")
        return value

    # ---- plumbing --------------------------------------------------------------------------------

    def _require_connection(self) -> DapConnection:
        if self._conn is None or self._conn.closed:
            raise _Failure("the debugger is not started: send 'initialize' first")
        return self._conn

    def _forward(self, request: dict, arguments: dict | None = None,
                 conn: DapConnection | None = None) -> dict:
        conn = conn or self._require_connection()
        if arguments is None:
            arguments = request.get("arguments")
        response = conn.request(str(request.get("command")), arguments, timeout=self.timeout)
        # the frontend matches the response by its own seq, not by ours
        return {**response, "request_seq": request.get("seq", 0),
                "command": request.get("command")}

    def _response(self, request: dict, body: dict | None = None, success: bool = True,
                  message: str | None = None) -> dict:
        self._seq += 1
        response: dict[str, Any] = {"type": "response", "seq": self._seq,
                                    "request_seq": request.get("seq", 0),
                                    "command": request.get("command"), "success": success}
        if body is not None:
            response["body"] = body
        if message is not None:
            response["message"] = message
        return response


_MISSING = object()


def _is_response(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "response"


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and value.isidentifier() and not keyword.iskeyword(value)


def _int(arguments: dict, name: str) -> int:
    value = arguments.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _plain_bundle(value: Any) -> tuple[dict, dict]:
    return {"text/plain": debugvars.value_repr(value)}, {}
