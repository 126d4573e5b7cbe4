"""The fd pump: a small process between the pipes over fds 1/2 and the kernel's readers.

Theory of operation
- Why a process: C code that holds the GIL while writing to fd 1 (a PyDLL call, an extension that
  prints without releasing the GIL) blocks once the pipe is full, and a reader thread in the kernel
  cannot empty it, because it needs the GIL to go on. This process empties the capture pipes at once,
  whatever the kernel is doing, and keeps what the kernel has not taken yet in memory (no limit), so a
  writer never waits on the kernel.
- Run as `python -I -S fdpump.py CAP1 CAP2 OUT1 OUT2 SYNC ACK FLAG` (stdlib only, no site). CAPn are
  the read ends of the pipes dup'ed over fds 1 and 2, OUTn the write ends of the relay pipes the kernel
  reads. The kernel writes a byte to SYNC to ask for everything written so far: the pump reads its
  capture pipes empty, writes all it holds to the relays, then answers with a byte on ACK.
- FLAG is one shared byte: 1 from before the pump reads a capture pipe until all it holds is in the
  relays. With the capture pipes empty (a poll) and the flag 0, everything written so far is in the
  relays already, and the kernel needs no round trip to this process (stdio.FdCapture.drain).
- It ignores SIGINT (interrupts are for the user's code and children) and lives in its own session,
  so the kernel's signals to its process group do not reach it. It ends when the kernel's end of SYNC
  closes, or when a relay's reader is gone.
"""

import mmap
import os
import select
import signal
import sys


def main(argv):
    cap1, cap2, out1, out2, sync, ack, flag_fd = (int(a) for a in argv)
    flag = mmap.mmap(flag_fd, 1)
    route = {cap1: out1, cap2: out2}
    held = {out1: bytearray(), out2: bytearray()}
    for fd in (cap1, cap2, out1, out2):
        os.set_blocking(fd, False)
    poller = select.poll()
    for fd in (cap1, cap2, sync):
        poller.register(fd, select.POLLIN)
    reading = {cap1, cap2}
    waiting_out = set()

    def pull(fd):
        flag[0] = 1  # before the read: the kernel may see the pipe empty from now on
        while True:
            try:
                data = os.read(fd, 1 << 20)
            except BlockingIOError:
                return
            if not data:  # every writer is gone
                poller.unregister(fd)
                reading.discard(fd)
                return
            held[route[fd]] += data

    def push(out, block=False):
        buf = held[out]
        if block:
            os.set_blocking(out, True)
        try:
            while buf:
                try:
                    del buf[:os.write(out, buf)]
                except BlockingIOError:
                    return
        finally:
            if block:
                os.set_blocking(out, False)

    while True:
        for fd, events in poller.poll():
            if fd == sync:
                asked = os.read(sync, 64)
                if not asked:
                    return
                for cap in list(reading):
                    pull(cap)
                for out in held:
                    push(out, block=True)  # the kernel reads the relays while it waits
                os.write(ack, b"k" * len(asked))
            elif fd in route:
                pull(fd)
        for out in held:
            push(out)
            want = bool(held[out])
            if want and out not in waiting_out:
                poller.register(out, select.POLLOUT)
                waiting_out.add(out)
            elif not want and out in waiting_out:
                poller.unregister(out)
                waiting_out.discard(out)
        if not held[out1] and not held[out2]:
            flag[0] = 0
        if not reading and not waiting_out:
            return


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        main(sys.argv[1:])
    except BrokenPipeError:  # the kernel is gone
        pass
