"""`ProcessREPL`: drive an interpreter child process cell by cell, for kernels that wrap one.

Theory of operation (each part's own rules are in its module)
- The child runs in its own session, so its process group is its own: an interrupt is a SIGINT to
  that group, and a frontend's SIGINT to the kernel's group never reaches it unasked. Its stdin is a
  pipe the kernel writes commands to; its stdout and stderr are two more pipes, read separately.
- Beside those, a private directory (`dir`, given to the child as $PYKERNEL_REPL_DIR) holds three
  FIFOs that the child's code opens by path: `ctl` (records from the child), `ack` (lines back to
  it) and `in` (the stdin of a cell). Paths rather than inherited descriptors: the programs a cell
  starts inherit nothing extra, and any of them can reach the kernel.
- The parts:
  - records.py: the record codec, `COUNT\\0FIELD\\0...FIELD\\0`, bytes in, records out (sans-IO);
  - process.py: `ProcessREPL`, a command at a time, its `started`/`done` records, and interrupts
    that are never lost, also before a command has started;
  - runs.py: a run's state, its Outcome, and the hand-over of events to the thread in `run`;
  - loop.py: the I/O thread, which reads output and records in order, sees the child's end, and
    polls with the nearest deadline of the watches;
  - interrupts.py: the interrupt watch, which sends a SIGINT lost in a starting program again;
  - stdin.py: the stdin watch, which sees that a cell's program wants input;
  - guard.py: the guard that ends the child's process groups should this process die.
- Platform: POSIX. Linux's procfs and pidfds make two things better, and their absence is handled:
  without procfs input is asked for only when the program says so (a `read` record) and a lost
  SIGINT is not sent again; without pidfds the child's state is polled.
"""

from .process import Ask, Outcome, ProcessREPL, Sink

__all__ = ["Ask", "Outcome", "ProcessREPL", "Sink"]
