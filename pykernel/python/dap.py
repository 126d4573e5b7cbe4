"""A Debug Adapter Protocol client over TCP, for talking to debugpy inside the kernel process.

Theory of operation
- Framing is pure: `DapParser.feed(bytes)` returns the complete messages found so far, `encode(msg)`
  frames one (`Content-Length: N\\r\\n\\r\\n` + N bytes of UTF-8 JSON). No sockets there.
- `DapConnection` owns one socket and one reader thread. `request()` sends with a sequence number of
  its own and blocks until the response whose `request_seq` matches arrives (or a timeout passes);
  the reader thread hands responses to the waiting caller and events to `on_event`, in the order
  debugpy sent them. Requests may come from any thread; in the kernel they come from control.
- The reader thread is marked so that debugpy never traces or suspends it (a suspended reader would
  leave every request waiting forever). `on_event` runs on that thread, so it must never call
  `request()`: the response it waited for could only be read by the thread that is waiting.
- When the socket closes, every waiting request gets a failed response at once: nothing waits on a
  peer that is gone.
"""

from __future__ import annotations

import itertools
import json
import logging
import socket
import threading
from typing import Any, Callable

log = logging.getLogger("pykernel")

_SEPARATOR = b"\r\n\r\n"


class DapProtocolError(Exception):
    """The peer sent bytes that are not a DAP message."""


def encode(msg: dict) -> bytes:
    body = json.dumps(msg, ensure_ascii=False, allow_nan=False).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


class DapParser:
    """Turns a byte stream into DAP messages."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._length: int | None = None  # of the body being read, once its header is parsed

    def feed(self, data: bytes) -> list[dict]:
        self._buf += data
        out = []
        while True:
            if self._length is None:
                end = self._buf.find(_SEPARATOR)
                if end < 0:
                    return out
                self._length = _content_length(bytes(self._buf[:end]))
                del self._buf[:end + len(_SEPARATOR)]
            if len(self._buf) < self._length:
                return out
            body = bytes(self._buf[:self._length])
            del self._buf[:self._length]
            self._length = None
            try:
                msg = json.loads(body)
            except ValueError as e:
                raise DapProtocolError(f"a DAP message is not JSON: {e}") from None
            if not isinstance(msg, dict):
                raise DapProtocolError("a DAP message is not a JSON object")
            out.append(msg)


def _content_length(header: bytes) -> int:
    for line in header.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                break
            if length >= 0:
                return length
    raise DapProtocolError(f"no valid Content-Length in DAP header {header!r}")


def mark_untraced(thread: threading.Thread) -> None:
    """Tell debugpy to neither trace nor suspend `thread` (its own threads carry the same marks)."""
    thread.pydev_do_not_trace = True  # type: ignore[attr-defined]
    thread.is_pydev_daemon_thread = True  # type: ignore[attr-defined]


class _Waiter:
    __slots__ = ("command", "done", "response")

    def __init__(self, command: str) -> None:
        self.command = command
        self.done = threading.Event()
        self.response: dict | None = None


class DapConnection:
    """One DAP session with the adapter listening at (host, port)."""

    def __init__(self, host: str, port: int, on_event: Callable[[dict], None],
                 connect_timeout: float = 10.0):
        self._on_event = on_event
        self._sock = socket.create_connection((host, port), timeout=connect_timeout)
        self._sock.settimeout(None)
        self._send_lock = threading.Lock()
        self._seq = itertools.count(1)
        self._waiting: dict[int, _Waiter] = {}
        self._lock = threading.Lock()  # guards _waiting and closed
        self.closed = False
        self._reader = threading.Thread(target=self._read_loop, name="pykernel-dap-reader",
                                        daemon=True)
        mark_untraced(self._reader)
        self._reader.start()

    def request(self, command: str, arguments: dict | None = None,
                timeout: float | None = None) -> dict:
        """Send a request and return debugpy's response (a failed one if none came in time)."""
        seq = next(self._seq)
        msg: dict[str, Any] = {"seq": seq, "type": "request", "command": command}
        if arguments is not None:
            msg["arguments"] = arguments
        waiter = _Waiter(command)
        with self._lock:
            if self.closed:
                return _failed(command, seq, "the connection to debugpy is closed")
            self._waiting[seq] = waiter
        try:
            with self._send_lock:
                self._sock.sendall(encode(msg))
        except OSError as e:
            with self._lock:
                self._waiting.pop(seq, None)
            return _failed(command, seq, f"could not send to debugpy: {e}")
        if not waiter.done.wait(timeout):
            with self._lock:
                self._waiting.pop(seq, None)
            return _failed(command, seq, f"debugpy did not answer {command!r} within {timeout}s")
        assert waiter.response is not None
        return waiter.response

    def close(self) -> None:
        """Close the socket; waiting requests fail at once. Safe to call more than once."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._fail_waiting()

    def _read_loop(self) -> None:
        parser = DapParser()
        try:
            while True:
                data = self._sock.recv(1 << 16)
                if not data:
                    break
                for msg in parser.feed(data):
                    self._route(msg)
        except OSError:
            pass  # closed under us: close() was called
        except DapProtocolError as e:
            log.error("debugpy connection dropped: %s", e)
        finally:
            self._fail_waiting()

    def _route(self, msg: dict) -> None:
        kind = msg.get("type")
        if kind == "response":
            with self._lock:
                waiter = self._waiting.pop(msg.get("request_seq"), None)  # type: ignore[arg-type]
            if waiter is not None:
                waiter.response = msg
                waiter.done.set()
        elif kind == "event":
            try:
                self._on_event(msg)
            except Exception:
                log.exception("error handling debug event %r", msg.get("event"))
        else:  # a reverse request (runInTerminal, startDebugging): not offered by this client
            log.info("ignoring %s %r from debugpy", kind, msg.get("command"))

    def _fail_waiting(self) -> None:
        with self._lock:
            self.closed = True
            waiting, self._waiting = self._waiting, {}
        for seq, waiter in waiting.items():
            waiter.response = _failed(waiter.command, seq, "the connection to debugpy closed")
            waiter.done.set()


def _failed(command: str, seq: int, message: str) -> dict:
    return {"type": "response", "seq": 0, "request_seq": seq, "command": command,
            "success": False, "message": message}
