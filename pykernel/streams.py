"""Stream output, coalesced: the first write goes out at once, a burst goes out as few messages.

Theory of operation
- `write` appends text to a buffer and, when the buffer was empty, wakes a flusher thread (one
  wake-up per batch: a wake-up on every write cost more than the rest of the write). The flusher
  sends whatever is buffered as soon as it gets the GIL: a lone `print` reaches the frontend within
  a millisecond, while a tight loop of prints keeps adding to the buffer while the flusher waits for
  its turn, so a 100k-line loop is a few dozen messages, not 100k. No timer delays anything.
- Order: everything that leaves the buffer leaves under `_send_lock`, and the kernel calls `flush`
  before it publishes any other message or a reply, so stream text is never overtaken by display
  output, an error, a reply or `idle` that came after it.
- Consecutive writes are merged only when they have the same stream name and the same parent, into
  messages of about `max_chunk` characters at most; a longer write is cut into such pieces.
- Lines: `print` writes its text and its line end separately. If the flusher finds the buffer
  ending inside a line, it waits for the rest of the line (woken by the next write), at most
  `LINE_WAIT`, so a line is not cut in two messages when the writer lost the GIL between the two
  writes (fd capture's checks before a write make system calls). A prompt without a line end goes
  out after that wait.
- Bounded: once `max_buffer` characters wait (the flusher is held up, e.g. by a frontend that reads
  iopub slowly: see transport.py), `write` sends them itself, so the writer waits for the frontend
  instead of the buffer growing without limit.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from . import procs

Send = Callable[[str, str, dict], None]

LINE_WAIT = 0.002  # seconds the flusher waits for the rest of a line (see "Lines")


class StreamCoalescer:
    def __init__(self, send: Send, max_chunk: int = 1 << 20, max_buffer: int = 4 << 20,
                 line_wait: float = LINE_WAIT):
        self._send = send
        self._line_wait = line_wait
        self._max_chunk = max_chunk
        self._max_buffer = max_buffer
        self._size = 0  # characters in _buf
        self._buf: list[list] = []  # [name, parent, [texts], size]
        self._buf_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._wake = threading.Event()
        self._more = threading.Event()  # a write came while the flusher waits for a line's end
        self._line_wanted = False  # the flusher waits for a line's end
        self._closed = False
        self._thread = procs.start_internal_thread(self._run, "pykernel-streams")

    def write(self, name: str, text: str, parent: dict) -> None:
        if len(text) > self._max_chunk:  # messages stay bounded parts of a subscriber's queue
            for i in range(0, len(text), self._max_chunk):
                self.write(name, text[i:i + self._max_chunk], parent)
            return
        if not text:
            return
        with self._buf_lock:
            last = self._buf[-1] if self._buf else None
            if last is not None and last[0] == name and last[1] is parent and \
                    last[3] < self._max_chunk:
                last[2].append(text)
                last[3] += len(text)
            else:
                self._buf.append([name, parent, [text], len(text)])
            self._size += len(text)
            full = self._size > self._max_buffer
        if full:
            self.flush()
        elif last is None:  # the flusher is woken when the buffer stops being empty
            self._wake.set()
        elif self._line_wanted:
            self._more.set()

    def flush(self) -> None:
        """Send everything buffered, in order, before returning."""
        with self._send_lock:  # also waits for a send the flusher has under way
            if not self._buf:
                return
            with self._buf_lock:
                items, self._buf, self._size = self._buf, [], 0
            for name, parent, texts, _ in items:
                self._send(name, "".join(texts), parent)

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait()
            self._wake.clear()
            self._finish_line()
            try:
                self.flush()
            except Exception:  # the transport is closing; nothing left to send to
                if not self._closed:
                    raise

    def _finish_line(self) -> None:
        """Wait, at most `line_wait` seconds, until the buffered text ends a line."""
        deadline = time.monotonic() + self._line_wait
        while not self._closed:
            with self._buf_lock:
                ended = not self._buf or self._buf[-1][2][-1].endswith("\n")
                if not ended:
                    self._more.clear()
                    self._line_wanted = True
            left = deadline - time.monotonic()
            if ended or left <= 0 or not self._more.wait(left):
                break
        self._line_wanted = False

    def close(self) -> None:
        self.flush()
        self._closed = True
        self._wake.set()
