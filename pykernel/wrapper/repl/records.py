"""The records a wrapped interpreter sends on its private channel: bytes in, records out (sans-IO).

A record is `COUNT\\0FIELD\\0...FIELD\\0`: the number of fields in decimal, then each field, every
one ended by a NUL byte. The first field is the record's kind. In bash one record is
`printf '%s\\0' $# "$@" >"$PYKERNEL_REPL_DIR/ctl"`; a record shorter than PIPE_BUF is written at
once, so the records of several writers (background jobs) never mix.

Rules
- No I/O here: `RecordParser.feed` takes bytes as they come, in pieces of any size, and `next`
  hands out whole records, as lists of str (UTF-8; bytes that are not are kept as surrogates, so
  a file name survives the round trip).
- A bad count (not a decimal number, zero, or more than MAX_FIELDS) is the peer's mistake:
  `next` raises RecordError once and drops everything buffered, since no later boundary can be
  trusted; the parser then goes on with the bytes that come after.
- `encode` is for the code using this module: a field with a NUL byte in it cannot be sent, and
  is a ValueError.
"""

from __future__ import annotations

#: The most fields a record may have; a larger count is taken for garbage, not waited for.
MAX_FIELDS = 4096


class RecordError(Exception):
    """The interpreter sent bytes that are not a record."""


def encode(fields: list[str]) -> bytes:
    """One record made of `fields` (the first is its kind)."""
    if not fields:
        raise ValueError("a record has at least its kind")
    data = [field.encode("utf-8", "surrogateescape") for field in fields]
    if any(b"\0" in d for d in data):
        raise ValueError("a record field cannot hold a NUL byte")
    return b"".join(d + b"\0" for d in [str(len(data)).encode(), *data])


class RecordParser:
    """Turns the bytes read from the channel into records."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def pending(self) -> int:
        """Bytes received that are not (yet) part of a whole record."""
        return len(self._buf)

    def clear(self) -> None:
        self._buf.clear()

    def next(self) -> list[str] | None:
        """The next whole record, or None until more bytes arrive."""
        buf = self._buf
        end = buf.find(b"\0")
        if end < 0:
            return None
        count = bytes(buf[:end])
        if not count.isdigit() or not 0 < int(count) <= MAX_FIELDS:
            dropped = len(buf)
            buf.clear()
            raise RecordError(f"a record cannot start with {count[:20]!r}; {dropped} bytes dropped")
        fields, pos = [], end + 1
        for _ in range(int(count)):
            end = buf.find(b"\0", pos)
            if end < 0:
                return None
            fields.append(buf[pos:end].decode("utf-8", "surrogateescape"))
            pos = end + 1
        del buf[:pos]
        return fields
