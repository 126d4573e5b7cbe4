"""The history of executed code, kept in memory for kernels that have no store of their own.

Entries are `(session, line, input)`, or `(session, line, (input, output))` when output is asked
for; `line` is the execution count and `session` is always `SESSION` (there is one session per
kernel process). The three access types follow IPython's meaning, which frontends rely on:
- tail: the last `n` entries;
- range: the entries of a session with `start <= line < stop` (session 0 means this one);
- search: entries whose input matches the glob `pattern` (`*`, `?`, `[...]`), the last `n` of them,
  with `unique` keeping only the latest of equal inputs.
"""

from __future__ import annotations

import fnmatch
import re
import threading

SESSION = 1


class History:
    def __init__(self, limit: int = 10000):
        self._entries: list[list] = []  # [line, input, output or None]
        self._lock = threading.Lock()
        self._limit = limit

    def add(self, line: int, code: str) -> None:
        with self._lock:
            self._entries.append([line, code, None])
            if len(self._entries) > self._limit:
                del self._entries[: len(self._entries) - self._limit]

    def set_output(self, line: int, output: str) -> None:
        with self._lock:
            for entry in reversed(self._entries):
                if entry[0] == line:
                    entry[2] = output
                    return

    def query(self, hist_access_type: str, *, output: bool = False, n: int | None = None,
              session: int = 0, start: int = 0, stop: int | None = None, pattern: str = "*",
              unique: bool = False, **_ignored) -> list:
        with self._lock:
            entries = list(self._entries)
        if hist_access_type == "tail":
            picked = entries[-n:] if n else (entries if n is None else [])
        elif hist_access_type == "range":
            if session not in (0, SESSION):
                return []
            picked = [e for e in entries if e[0] >= start and (stop is None or e[0] < stop)]
        elif hist_access_type == "search":
            match = re.compile(fnmatch.translate(pattern)).match
            picked = [e for e in entries if match(e[1])]
            if unique:
                seen: set[str] = set()
                picked = [e for e in reversed(picked) if not (e[1] in seen or seen.add(e[1]))][::-1]
            if n:
                picked = picked[-n:]
        else:
            raise ValueError(f"unknown hist_access_type {hist_access_type!r}")
        if output:
            return [(SESSION, line, (code, out)) for line, code, out in picked]
        return [(SESSION, line, code) for line, code, _ in picked]
