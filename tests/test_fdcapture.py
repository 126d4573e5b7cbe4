"""fd capture's parts without a kernel: FdInbox (real unix sockets read by libzmq) and FdText (bytes
to text, the marker barrier). The kernel-level behaviour is in test_python_streams.py."""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time

import pytest

from pykernel.python.fdcapture import MARKER, FdText
from pykernel.transport import FdInbox


@pytest.fixture
def inbox():
    box = FdInbox(2)
    yield box
    box.close()


def received(box: FdInbox, want: int, timeout: float = 10.0) -> list[tuple[int, bytes]]:
    """What the inbox delivers until `want` bytes have come (polling its fd, as the kernel does)."""
    import select

    poller = select.poll()
    poller.register(box.fileno(), select.POLLIN)
    out: list[tuple[int, bytes]] = []
    deadline = time.monotonic() + timeout
    while sum(len(d) for _, d in out) < want:
        out += box.recv_nowait()
        left = deadline - time.monotonic()
        assert left > 0, f"only {sum(len(d) for _, d in out)} of {want} bytes came"
        poller.poll(min(left, 0.5) * 1000)
    return out


def joined(chunks: list[tuple[int, bytes]], index: int) -> bytes:
    return b"".join(d for i, d in chunks if i == index)


def test_bytes_arrive_by_connection_in_order(inbox):
    os.write(inbox.fds[0], b"one ")
    os.write(inbox.fds[1], b"err")
    os.write(inbox.fds[0], b"two")
    chunks = received(inbox, 10)
    assert joined(chunks, 0) == b"one two"
    assert joined(chunks, 1) == b"err"


def test_a_writer_holding_the_gil_never_waits_for_python(inbox):
    # PyDLL keeps the GIL through write(): nothing in Python can read until it returns, so the
    # socket buffer (a few hundred kB) is emptied by libzmq alone.
    data = b"x" * (8 << 20)
    assert ctypes.PyDLL(None).write(inbox.fds[0], data, len(data)) == len(data)
    assert joined(received(inbox, len(data)), 0) == data


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="settled() reads Linux's /proc")
def test_settled_means_everything_written_before_can_be_received(inbox):
    # Writes from another thread, then the check: whenever settled() says yes, a non-blocking
    # receive must return all of it. 2,000 rounds, small and large writes on both connections.
    for n in range(2000):
        size = 1 + (n * 977) % 20_000
        writer = threading.Thread(target=os.write, args=(inbox.fds[n % 2], b"y" * size))
        writer.start()
        writer.join()
        deadline = time.monotonic() + 10
        while not inbox.settled():
            assert time.monotonic() < deadline, "the inbox never settled"
        got = inbox.recv_nowait()
        assert sum(len(d) for _, d in got) == size, f"round {n}: {size} bytes written"
        assert not inbox.has_news()


def test_has_news_after_a_write(inbox):
    assert not inbox.has_news()
    os.write(inbox.fds[1], b"news")
    deadline = time.monotonic() + 10
    while not inbox.has_news():
        assert time.monotonic() < deadline
    assert joined(received(inbox, 4), 1) == b"news"


def collecting(inbox: FdInbox) -> tuple[FdText, list]:
    published: list[tuple[str, str]] = []
    text = FdText(inbox, ["stdout", "stderr"], inbox.fds,
                  lambda name, text: published.append((name, text)), inbox.settled)
    return text, published


def text_of(published: list, name: str) -> str:
    return "".join(t for n, t in published if n == name)


def test_barrier_returns_everything_written_before_it_without_markers(inbox):
    text, published = collecting(inbox)
    for n in range(200):
        os.write(inbox.fds[n % 2], f"{n}\n".encode())
        text.barrier()
        name = ("stdout", "stderr")[n % 2]
        assert published and published[-1] == (name, f"{n}\n")
    assert MARKER.decode("latin-1") not in "".join(t for _, t in published)


def test_drain_publishes_what_was_written(inbox):
    text, published = collecting(inbox)
    os.write(inbox.fds[0], "héllo\n".encode())
    os.write(inbox.fds[1], b"warn\n")
    text.drain()
    assert text_of(published, "stdout") == "héllo\n"
    assert text_of(published, "stderr") == "warn\n"


@pytest.mark.parametrize("cut", range(1, len(MARKER) + 8))
def test_a_marker_split_between_chunks_is_taken_out(inbox, cut):
    text, published = collecting(inbox)
    stream = text._streams[0]
    stream.markers_due = 1
    data = b"before\0" + MARKER + b"after\n"
    cut += len(b"before\0") - 4  # cuts from inside "before" to past the marker's end
    assert stream.feed(data[:cut]) + stream.feed(data[cut:]) == "before\0after\n"
    assert stream.markers_due == 0 and stream.held == b""


def test_bytes_like_a_marker_start_are_held_only_while_a_marker_is_due(inbox):
    text, published = collecting(inbox)
    stream = text._streams[0]
    assert stream.feed(b"end\0pyk") == "end\0pyk"  # no marker due: nothing held back
    stream.markers_due = 1
    assert stream.feed(b"end\0pyk") == "end"
    assert stream.feed(b"!") == "\0pyk!"  # not a marker after all
    assert stream.feed(MARKER) == "" and stream.markers_due == 0


def test_multibyte_characters_split_between_chunks(inbox):
    text, published = collecting(inbox)
    stream = text._streams[1]
    data = "é€😀\n".encode()
    assert "".join(stream.feed(data[i:i + 1]) for i in range(len(data))) == "é€😀\n"


def test_finish_publishes_what_was_held_back(inbox):
    text, published = collecting(inbox)
    stream = text._streams[0]
    stream.markers_due = 1
    assert stream.feed(b"x\0") == "x"
    text.finish()
    assert published == [("stdout", "\0")]
