"""A kernel websocket client for the latency bench: JupyterLab's own framing, one cell at a time.

JupyterLab talks to Jupyter Server's `/api/kernels/<id>/channels` with the
`v1.kernel.websocket.jupyter.org` subprotocol: each binary frame is a little-endian uint64 count of
offsets, the offsets (uint64 each), then the channel name and the message parts at those offsets.
The server relays those parts to and from ZeroMQ without parsing them, so this client measures the
path a browser's messages take. `run_cell` returns, for one `execute_request`:
- `arrivals`: ms after sending at which each message of the cell came in (busy, execute_input,
  execute_result, execute_reply, idle), and `done` when both the reply and idle were in;
- `sent_wall`, `idle_wall`: wall-clock seconds of sending and of idle's arrival, and the kernel's
  own header dates of busy and idle, from which the breakdown (to the kernel, in the kernel, back
  from the kernel) is computed.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import datetime

from tornado.websocket import websocket_connect

PROTOCOL = "v1.kernel.websocket.jupyter.org"


def pack(channel: str, parts: list[bytes]) -> bytes:
    """One v1 frame: `channel` and the message parts (header, parent_header, metadata, content)."""
    chunks = [channel.encode(), *parts]
    start = 8 * (len(chunks) + 2)  # the count, then len(chunks) + 1 offsets
    offsets = [start]
    for chunk in chunks:
        offsets.append(offsets[-1] + len(chunk))
    head = len(offsets).to_bytes(8, "little") + b"".join(o.to_bytes(8, "little") for o in offsets)
    return head + b"".join(chunks)


def unpack(frame: bytes) -> tuple[str, list[bytes]]:
    """(channel, parts) of one v1 frame."""
    count = int.from_bytes(frame[:8], "little")
    offsets = [int.from_bytes(frame[8 * (i + 1):8 * (i + 2)], "little") for i in range(count)]
    pieces = [frame[a:b] for a, b in zip(offsets, offsets[1:])]
    return pieces[0].decode(), pieces[1:]


def execute_request(session: str, code: str) -> tuple[str, bytes]:
    msg_id = uuid.uuid4().hex
    header = {"msg_id": msg_id, "session": session, "username": "bench", "version": "5.4",
              "date": datetime.now().astimezone().isoformat(), "msg_type": "execute_request"}
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
               "allow_stdin": False, "stop_on_error": True}
    parts = [json.dumps(p).encode() for p in (header, {}, {}, content)]
    return msg_id, pack("shell", parts)


def kernel_time(date: str) -> float:
    """A header date (ISO 8601) as wall-clock seconds."""
    return datetime.fromisoformat(date).timestamp()


async def run_cell(ws, session: str, code: str) -> dict:
    msg_id, frame = execute_request(session, code)
    cell = {"arrivals": {}, "sent_wall": time.time()}
    t0 = time.perf_counter()
    await ws.write_message(frame, binary=True)
    arrivals = cell["arrivals"]
    while "execute_reply" not in arrivals or "idle" not in arrivals:
        frame = await asyncio.wait_for(ws.read_message(), 30)
        if frame is None:
            raise ConnectionError("the server closed the kernel websocket")
        _, (header, parent, _, content, *_) = unpack(frame)
        if json.loads(parent).get("msg_id") != msg_id:
            continue
        header = json.loads(header)
        name = header["msg_type"]
        if name == "status":
            name = json.loads(content)["execution_state"]
            cell[f"{name}_date"] = kernel_time(header["date"])
            if name == "idle":
                cell["idle_wall"] = time.time()
        arrivals.setdefault(name, (time.perf_counter() - t0) * 1000)
    arrivals["done"] = max(arrivals.values())
    return cell


async def cells(url: str, code: str, n: int, warm: int = 3) -> list[dict]:
    """`n` timed runs of `code` (after `warm` untimed ones) over the kernel websocket at `url`."""
    session = uuid.uuid4().hex
    ws = await websocket_connect(f"{url}&session_id={session}", subprotocols=[PROTOCOL])
    try:
        for _ in range(warm):
            await run_cell(ws, session, code)
        return [await run_cell(ws, session, code) for _ in range(n)]
    finally:
        ws.close()
        while await asyncio.wait_for(ws.read_message(), 30) is not None:  # the server's close frame
            pass
