"""The Jupyter wire format: frames <-> messages. Pure: no sockets, no threads, stdlib only.

A message on every channel but the heartbeat is the multipart frame list

    [identity ...] b"<IDS|MSG>" signature header parent_header metadata content [buffer ...]

Rules of this module:
- `Session.deserialize` verifies the signature over the four raw dict frames *before* parsing any JSON,
  in constant time, and rejects a signature it has already accepted (replay), keeping a bounded history.
- Anything wrong with bytes that came from a peer raises `ProtocolError` and nothing else: callers drop
  the message, log it, and carry on. Misuse of this module by our own code raises ordinary exceptions.
  When the signature and header are good but another part is not, the subclass `MalformedMessage`
  carries what was read, so that the request can still get an error reply.
- `Session.serialize` never fails on content a language hands it: values JSON cannot hold (datetimes,
  bytes, NaN, numpy scalars, lone surrogates) are converted, not raised.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import math
import numbers
import os
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Iterable, Sequence

DELIMITER = b"<IDS|MSG>"
PROTOCOL_VERSION = "5.6"  # 5.5 plus the startup handshake (JEP 66, see handshake.py)

_DIGESTS = {"hmac-sha256": hashlib.sha256, "hmac-sha512": hashlib.sha512, "hmac-md5": hashlib.md5}


class ProtocolError(Exception):
    """A peer sent bytes that are not a valid, correctly signed Jupyter message."""


class MalformedMessage(ProtocolError):
    """A correctly signed message whose header is fine but whose other parts are not: it can be
    answered (`message` holds the header and identities, and empty dicts for the bad parts)."""

    def __init__(self, reason: str, message: "Message"):
        super().__init__(reason)
        self.message = message


@dataclass(slots=True)
class Message:
    """One decoded message. `identities` are the zmq routing frames it arrived with."""

    header: dict
    parent_header: dict
    metadata: dict
    content: dict
    buffers: list = field(default_factory=list)
    identities: list = field(default_factory=list)
    #: set when the message could not be read whole (see MalformedMessage): answer with an error
    problem: str = ""
    #: the transport's handle of the connection the message came on (-1: unknown)
    peer: int = -1

    @property
    def msg_type(self) -> str:
        return self.header["msg_type"]

    @property
    def msg_id(self) -> str:
        return self.header.get("msg_id", "")

    @property
    def subshell_id(self) -> str | None:
        return self.header.get("subshell_id")


def utcnow_iso() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        if obj.tzinfo is None:
            obj = obj.replace(tzinfo=timezone.utc)
        return obj.isoformat()
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(obj)).decode("ascii")
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, uuid.UUID):
        return str(obj)
    return repr(obj)


def _finite(obj: Any) -> Any:
    """Replace NaN and infinities (which JSON cannot carry) with null, recursively."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


_encode = json.JSONEncoder(default=_json_default, ensure_ascii=False, allow_nan=False,
                           separators=(",", ":")).encode


def dumps(obj: Any) -> bytes:
    """Serialize to compact UTF-8 JSON that every Jupyter client can parse."""
    try:
        text = _encode(obj)
    except ValueError:
        text = json.dumps(_finite(json.loads(json.dumps(obj, default=_json_default))),
                          ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: let JSON escape them instead
        return json.dumps(json.loads(text), ensure_ascii=True, separators=(",", ":")).encode()


def _loads_dict(frame: bytes, what: str) -> dict:
    try:
        value = json.loads(frame)
    except UnicodeDecodeError as e:
        raise ProtocolError(f"{what} is not valid UTF-8 ({e.reason} at byte {e.start})") from None
    except RecursionError:
        raise ProtocolError(f"{what} is nested too deeply to parse") from None
    except ValueError as e:
        raise ProtocolError(f"{what} is not JSON: {e}") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} is a JSON {type(value).__name__}, not an object")
    return value


class Signer:
    """HMAC signing and verification with replay protection. An empty key means unsigned."""

    def __init__(self, key: bytes, scheme: str = "hmac-sha256", history: int = 1 << 16):
        if scheme not in _DIGESTS:
            raise ValueError(f"unsupported signature_scheme {scheme!r}; use one of {sorted(_DIGESTS)}")
        self.key = key
        self._hmac = hmac.new(key, digestmod=_DIGESTS[scheme]) if key else None
        self._seen: set[bytes] = set()
        self._order: deque[bytes] = deque()
        self._history = history

    def sign(self, parts: Iterable[bytes]) -> bytes:
        if self._hmac is None:
            return b""
        h = self._hmac.copy()
        for p in parts:
            h.update(p)
        return h.hexdigest().encode("ascii")

    def verify(self, signature: bytes, parts: Sequence[bytes]) -> None:
        if self._hmac is None:
            return
        if not signature:
            raise ProtocolError("unsigned message")
        if not hmac.compare_digest(signature, self.sign(parts)):
            raise ProtocolError("invalid signature")
        if signature in self._seen:
            raise ProtocolError("replayed signature")
        self._seen.add(signature)
        self._order.append(signature)
        if len(self._order) > self._history:
            self._seen.discard(self._order.popleft())


class Session:
    """Builds and reads messages for one kernel session (one id per kernel start)."""

    def __init__(self, key: bytes = b"", signature_scheme: str = "hmac-sha256",
                 username: str = "kernel", session_id: str | None = None):
        self.signer = Signer(key, signature_scheme)
        self.session_id = session_id or uuid.uuid4().hex
        self.username = username
        self._counter = itertools.count(1)
        self._pid = os.getpid()
        # A request's replies and output all carry its header as parent: serialize it once.
        self._parent_cache: tuple[dict | None, bytes] = (None, b"{}")

    def header(self, msg_type: str, subshell_id: str | None = None) -> dict:
        h = {
            "msg_id": f"{self.session_id}_{self._pid}_{next(self._counter)}",
            "session": self.session_id,
            "username": self.username,
            "date": utcnow_iso(),
            "msg_type": msg_type,
            "version": PROTOCOL_VERSION,
        }
        if subshell_id is not None:
            h["subshell_id"] = subshell_id
        return h

    def serialize(self, msg_type: str, content: dict, parent: Message | dict | None = None,
                  metadata: dict | None = None, buffers: Sequence | None = None,
                  identities: Sequence[bytes] | None = None, header: dict | None = None) -> list:
        """Frames for a new message. `parent` may be a Message (its header becomes the parent header
        and, unless given, its identities the routing frames and its subshell the header's) or a dict
        (a bare parent header)."""
        if isinstance(parent, Message):
            parent_header = parent.header
            if identities is None:
                identities = parent.identities
        else:
            parent_header = parent or {}
        if header is None:
            header = self.header(msg_type, parent_header.get("subshell_id"))
        cached, parent_bytes = self._parent_cache
        if cached is not parent_header:
            parent_bytes = dumps(parent_header)
            self._parent_cache = (parent_header, parent_bytes)
        parts = [dumps(header), parent_bytes, dumps(metadata) if metadata else b"{}",
                 dumps(content)]
        frames = list(identities or ())
        frames.append(DELIMITER)
        frames.append(self.signer.sign(parts))
        frames.extend(parts)
        if buffers:
            frames.extend(buffers)
        return frames

    # ---- jupyter_client's Session API, for code written against it (get_ipython().kernel.session)

    @property
    def session(self) -> str:
        """The session id, by the name jupyter_client gives it."""
        return self.session_id

    def send(self, stream: Any, msg_or_type: dict | str, content: dict | None = None,
             parent: dict | None = None, ident: bytes | Sequence[bytes] | None = None,
             buffers: Sequence | None = None, track: bool = False, header: dict | None = None,
             metadata: dict | None = None) -> dict:
        """As jupyter_client's `Session.send`: build a message and hand its frames to
        `stream.send_multipart`. `msg_or_type` is a type or a whole message dict; `parent` a
        message dict or a bare header. Returns the message as a dict (`track` is not supported)."""
        if isinstance(msg_or_type, dict):
            msg = msg_or_type
            header = msg["header"]
            msg_type = header["msg_type"]
            content = msg.get("content") if content is None else content
            metadata = msg.get("metadata") if metadata is None else metadata
            parent = msg.get("parent_header") if parent is None else parent
        else:
            msg_type = msg_or_type
        if parent and isinstance(parent.get("header"), dict):
            parent = parent["header"]
        parent = parent or {}
        header = header or self.header(msg_type, parent.get("subshell_id"))
        identities = [ident] if isinstance(ident, bytes) else list(ident or ())
        stream.send_multipart(self.serialize(msg_type, content or {}, parent, metadata, buffers,
                                             identities, header))
        return {"header": header, "parent_header": parent, "metadata": metadata or {},
                "content": content or {}, "buffers": list(buffers or ()),
                "msg_id": header["msg_id"], "msg_type": msg_type}

    def deserialize(self, frames: Sequence[bytes]) -> Message:
        """Verify and decode a received frame list. Raises ProtocolError for anything malformed."""
        try:
            i = frames.index(DELIMITER)
        except ValueError:
            raise ProtocolError("no <IDS|MSG> delimiter") from None
        if len(frames) < i + 6:
            raise ProtocolError(f"{len(frames) - i - 1} frames after the delimiter, need at least 5")
        parts = frames[i + 2:i + 6]
        self.signer.verify(frames[i + 1], parts)
        header = _loads_dict(parts[0], "header")
        msg_type = header.get("msg_type")
        if not isinstance(msg_type, str) or not msg_type:
            raise ProtocolError("header has no msg_type")
        subshell = header.get("subshell_id")
        if subshell is not None and not isinstance(subshell, str):
            raise ProtocolError("header subshell_id is not a string")
        msg = Message(header, {}, {}, {}, list(frames[i + 6:]), list(frames[:i]))
        try:
            msg.parent_header = _loads_dict(parts[1], "parent_header")
            msg.metadata = _loads_dict(parts[2], "metadata")
            msg.content = _loads_dict(parts[3], "content")
        except ProtocolError as e:
            raise MalformedMessage(f"{msg_type}: {e}", msg) from None
        return msg
