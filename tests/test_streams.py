"""The stream coalescer (pykernel/streams.py) on its own: its flusher thread sends what is written
without anyone calling flush, in order, in few messages."""

from __future__ import annotations

import threading
import time

from pykernel.streams import StreamCoalescer

WAIT = 10.0  # seconds; a flusher that works answers in milliseconds


class Sink:
    """Collects what the coalescer sends; `wait_for(text)` blocks until that much has come."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, dict]] = []
        self._cond = threading.Condition()

    def send(self, name: str, text: str, parent: dict) -> None:
        with self._cond:
            self.messages.append((name, text, parent))
            self._cond.notify_all()

    def text(self, name: str = "stdout") -> str:
        return "".join(t for n, t, _ in self.messages if n == name)

    def wait_for(self, length: int, name: str = "stdout") -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.text(name)) >= length, WAIT), \
                f"{len(self.text(name))} of {length} characters came"


def test_a_lone_write_goes_out_without_a_flush():
    sink = Sink()
    streams = StreamCoalescer(sink.send)
    try:
        streams.write("stdout", "hello\n", {})
        sink.wait_for(6)
        assert sink.messages == [("stdout", "hello\n", {})]
        # and again, once the buffer has been emptied: the flusher is woken anew
        streams.write("stdout", "again\n", {})
        sink.wait_for(12)
    finally:
        streams.close()


def test_a_burst_from_many_threads_arrives_whole_in_order_in_few_messages():
    sink = Sink()
    streams = StreamCoalescer(sink.send)
    parents = [{"n": i} for i in range(8)]

    def writer(i: int) -> None:
        for j in range(5000):
            streams.write("stdout", f"{i}:{j}\n", parents[i])

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = sum(len(f"{i}:{j}\n") for i in range(8) for j in range(5000))
        sink.wait_for(total)  # no flush: the last writes go out by themselves
        for i, parent in enumerate(parents):
            mine = "".join(t for _, t, p in sink.messages if p is parent)
            assert mine == "".join(f"{i}:{j}\n" for j in range(5000))
        assert len(sink.messages) < 40_000 / 10
    finally:
        streams.close()


def test_streams_and_parents_are_never_merged():
    sink = Sink()
    streams = StreamCoalescer(sink.send)
    a, b = {"a": 1}, {"b": 2}
    try:
        streams.write("stdout", "1", a)
        streams.write("stderr", "2", a)
        streams.write("stderr", "3", b)
        streams.write("stderr", "4", b)
        streams.flush()
        runs: list[list] = []  # consecutive messages of one stream and parent, joined
        for name, text, parent in sink.messages:
            if runs and runs[-1][0] == name and runs[-1][1] is parent:
                runs[-1][2] += text
            else:
                runs.append([name, parent, text])
        assert runs == [["stdout", a, "1"], ["stderr", a, "2"], ["stderr", b, "34"]]
    finally:
        streams.close()


def test_big_text_goes_out_in_messages_of_at_most_max_chunk():
    sink = Sink()
    streams = StreamCoalescer(sink.send, max_chunk=1000)
    try:
        streams.write("stdout", "x" * 2500, {})
        streams.flush()
        assert [len(t) for _, t, _ in sink.messages] == [1000, 1000, 500]
    finally:
        streams.close()


def test_the_buffer_is_bounded_the_writer_sends_when_it_is_full():
    # a flusher that cannot keep up (held up by a slow frontend) must not let the buffer grow:
    # here it is stuck in its first send until the writer has filled the buffer
    written = [0]
    cond = threading.Condition()
    sink = Sink()

    def slow_send(name, text, parent):
        if threading.current_thread().name == "pykernel-streams":
            with cond:
                assert cond.wait_for(lambda: written[0] >= 100, WAIT)
        sink.send(name, text, parent)

    streams = StreamCoalescer(slow_send, max_chunk=100, max_buffer=1000)
    sizes = []
    try:
        for _ in range(300):
            streams.write("stdout", "y" * 10, {})
            sizes.append(streams._size)
            with cond:
                written[0] += 1
                cond.notify_all()
        streams.flush()
        assert sink.text() == "y" * 3000
        assert max(sizes) <= 1000
    finally:
        streams.close()


def test_a_line_written_in_two_parts_goes_out_whole():
    """`print` writes its text and its line end separately; a writer that loses the GIL between the
    two (the flusher then finds half a line) still gets one message for the line."""
    sink = Sink()
    streams = StreamCoalescer(sink.send, line_wait=WAIT)  # however slow this test's thread is
    parent: dict = {}
    try:
        streams.write("stdout", "half", parent)
        deadline = time.monotonic() + WAIT
        while not streams._line_wanted:  # the flusher is now waiting for the line's end
            assert time.monotonic() < deadline, "the flusher never looked at the buffer"
            time.sleep(0)
        streams.write("stdout", " and the end\n", parent)
        sink.wait_for(len("half and the end\n"))
        assert sink.messages == [("stdout", "half and the end\n", parent)]
    finally:
        streams.close()


def test_text_without_a_line_end_still_goes_out():
    sink = Sink()
    streams = StreamCoalescer(sink.send)
    try:
        streams.write("stdout", "Password: ", {})
        sink.wait_for(len("Password: "))
        assert sink.messages == [("stdout", "Password: ", {})]
    finally:
        streams.close()
