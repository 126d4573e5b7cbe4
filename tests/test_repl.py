"""`pykernel.wrapper.repl`: the record codec with plain bytes, then `ProcessREPL` driving a plain
`sh` (no kernel): streams, the end-of-cell record, stdin, interrupts, the child's end, the guard,
and the paths taken where procfs and pidfds are missing.

The shell side is a few lines of sh: `rec KIND FIELD...` writes one record, and a cell is run as
`rec started T; { CODE; } <"$d/in"; rec done T $?`, as a language's own code would do it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest

from corefixtures import wait_pid_exit
from pykernel.wrapper.repl import ProcessREPL, stdin
from pykernel.wrapper.repl.records import MAX_FIELDS, RecordError, RecordParser, encode

TIMEOUT = 20

# sh ignores nothing here, but a trapped SIGINT lets the shell live on while its child dies of it
PRELUDE = ("d=$PYKERNEL_REPL_DIR; trap : INT\n"
           "rec() { printf '%s\\0' $# \"$@\" >\"$d/ctl\"; }\n")


# ---- the record codec -----------------------------------------------------------------------------

RECORDS = [["done", "t0k3n", "0"], ["display", "caf\u00e9", "", "a b\nc"], ["started", "x"],
           ["odd", "\udcff"]]  # a byte that is not UTF-8 survives the round trip


def _all(parser: RecordParser) -> list:
    out = []
    while (record := parser.next()) is not None:
        out.append(record)
    return out


def test_records_survive_any_split():
    data = b"".join(encode(r) for r in RECORDS)
    for size in (1, 2, 3, 5, 7, len(data)):
        parser, got = RecordParser(), []
        for i in range(0, len(data), size):
            parser.feed(data[i:i + size])
            got += _all(parser)
        assert got == RECORDS
        assert parser.pending == 0


def test_record_bytes_are_what_the_shell_writes():
    assert encode(["done", "t", "0"]) == b"3\0done\0t\0000\0"


def test_a_partial_record_waits_for_the_rest():
    parser = RecordParser()
    parser.feed(b"3\0done\0tok\0")
    assert parser.next() is None and parser.pending == 11
    parser.feed(b"1\0")
    assert parser.next() == ["done", "tok", "1"]


@pytest.mark.parametrize("garbage", [b"x\0done\0", b"0\0", b"-1\0a\0", b" 2\0a\0b\0",
                                     b"%d\0" % (MAX_FIELDS + 1)])
def test_garbage_is_dropped_once_and_parsing_goes_on(garbage):
    parser = RecordParser()
    parser.feed(garbage)
    with pytest.raises(RecordError):
        parser.next()
    assert parser.pending == 0
    parser.feed(encode(["started", "t"]))
    assert parser.next() == ["started", "t"]


@pytest.mark.parametrize("fields", [[], ["kind", "a\0b"]])
def test_unsendable_records_are_the_callers_error(fields):
    with pytest.raises(ValueError):
        encode(fields)


# ---- ProcessREPL with a plain sh --------------------------------------------------------------------


class Shell:
    """A ProcessREPL running sh, and what it printed."""

    def __init__(self, **options):
        self.output: list[tuple[str, str]] = []
        self.records: list[list[str]] = []
        self.seen = threading.Condition()
        self.repl = ProcessREPL(["/bin/sh"], on_output=self._out, on_record=self._record,
                                **options)
        self.repl.start()
        self.repl.send(PRELUDE)
        self.cells = 0

    def _out(self, name: str, text: str) -> None:
        with self.seen:
            self.output.append((name, text))
            self.seen.notify_all()

    def _record(self, record: list[str]) -> None:
        with self.seen:
            self.records.append(record)
            self.output.append(("record", record[0]))
            self.seen.notify_all()

    def text(self, name: str = "stdout") -> str:
        with self.seen:
            return "".join(text for stream, text in self.output if stream == name)

    def wait_for(self, text: str) -> None:
        with self.seen:
            assert self.seen.wait_for(lambda: text in self.text(), TIMEOUT), self.output

    def run(self, code: str, **kwargs):
        self.cells += 1
        token = f"t{self.cells}"
        command = f'rec started {token}; {{ {code}\n}} <"$d/in"; rec done {token} $? extra\n'
        return self.repl.run(command, token, timeout=TIMEOUT, **kwargs)

    def close(self) -> None:
        self.repl.close()


@pytest.fixture()
def sh():
    shell = Shell()
    yield shell
    shell.close()


def test_both_streams_in_order_and_the_end_record(sh):
    out = sh.run("echo one; echo two >&2; rec mark; echo three >&2; echo four; exit_ok=0")
    assert (out.status, out.fields, out.started, out.exit_code) == (0, ["extra"], True, None)
    assert sh.text("stdout") == "one\nfour\n" and sh.text("stderr") == "two\nthree\n"
    # output written before a record is delivered before it (what follows may come earlier too)
    before = sh.output[:sh.output.index(("record", "mark"))]
    assert "".join(t for n, t in before if n == "stdout").startswith("one\n")
    assert "".join(t for n, t in before if n == "stderr").startswith("two\n")
    assert sh.run("false").status == 1


def test_output_that_looks_like_a_record_does_not_end_the_cell(sh):
    out = sh.run("printf '%s\\0' 3 done t1 0; rec done t0 7; echo after")  # this cell's is t1
    assert (out.status, sh.text()) == (0, "3\0done\0t1\0000\0after\n")


def test_stdin_on_demand_for_any_reader(sh):
    prompts = []

    def ask(prompt, password):
        prompts.append((prompt, password))
        return f"answer{len(prompts)}"
    out = sh.run("read a; read b; echo \"$a $b\"", ask=ask)
    assert out.status == 0 and sh.text() == "answer1 answer2\n"
    assert prompts == [("", False), ("", False)]


def test_stdin_asked_by_a_read_record_with_its_prompt(sh):
    prompts = []
    out = sh.run("rec read 'Secret: ' 1; read a; echo \"[$a]\"",
                 ask=lambda p, pw: prompts.append((p, pw)) or "s3")
    assert (out.status, sh.text(), prompts) == (0, "[s3]\n", [("Secret: ", True)])


def test_no_answer_is_end_of_file(sh):
    out = sh.run("cat; echo done-reading", ask=lambda p, pw: None)
    assert out.status == 0 and sh.text() == "done-reading\n"


def _interrupt_when(sh: Shell, text: str, **kwargs):
    result = {}
    runner = threading.Thread(target=lambda: result.update(out=sh.run(
        f"sh -c 'echo {text}; exec sleep 30' && echo not-reached", **kwargs)))
    runner.start()
    sh.wait_for(text)
    assert sh.repl.interrupt()
    runner.join(TIMEOUT)
    assert not runner.is_alive(), "the interrupt did not end the command"
    return result["out"]


def test_interrupt_ends_sleep_and_the_shell_lives_on(sh):
    out = _interrupt_when(sh, "sleeping")
    assert out.interrupted and out.status == 130 and "not-reached" not in sh.text()
    assert sh.run("echo alive").status == 0 and sh.text().endswith("alive\n")


def test_interrupt_before_the_run_of_its_cell_is_kept_for_it(sh, tmp_path):
    assert not sh.repl.interrupt()  # nothing running, no cell named: nothing to do
    assert sh.repl.interrupt(cell="cell-1")
    out = sh.run(f"touch {tmp_path}/ran", cell="cell-1")
    assert out.interrupted and out.status is None and not out.started
    assert not (tmp_path / "ran").exists()
    assert sh.run(f"touch {tmp_path}/ran", cell="cell-2").status == 0  # used up, not kept
    assert (tmp_path / "ran").exists()


def test_the_child_exiting_ends_the_run_and_it_can_start_again(sh):
    pid = sh.repl.pid
    out = sh.run("exit 3")
    assert (out.exit_code, out.status, sh.repl.alive) == (3, None, False)
    assert sh.run("echo late").exit_code == 3  # no child: nothing runs
    sh.repl.start()
    sh.repl.send(PRELUDE)
    assert sh.repl.pid != pid and sh.run("echo again").status == 0


def test_a_killed_child_reports_its_signal(sh):
    assert sh.run("kill -9 $$").exit_code == 128 + signal.SIGKILL


OWNER = """
import sys
from pykernel.wrapper.repl import ProcessREPL, stdin
repl = ProcessREPL(["/bin/sh"], on_output=lambda name, text: print(text, end="", flush=True))
repl.start()
repl.send('(trap "" HUP; exec sleep 300) & echo $$ $!\\n')
sys.stdin.read()
"""


def test_the_guard_ends_the_group_when_its_owner_is_killed():
    owner = subprocess.Popen([sys.executable, "-c", OWNER], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        shell, job = map(int, owner.stdout.readline().split())
    finally:
        owner.kill()  # no cleanup of its own: only the guard is left to end the group
        owner.wait()
        owner.stdin.close()
        owner.stdout.close()
    assert wait_pid_exit(shell), "the shell outlived its killed owner"
    assert wait_pid_exit(job), "a job that ignores hangups outlived its killed owner"


# ---- without procfs, without pidfds --------------------------------------------------------------


@pytest.fixture()
def no_proc(tmp_path):
    return str(tmp_path / "no-proc")


@pytest.fixture()
def bare(no_proc):
    shell = Shell(proc=no_proc, pidfd=False)
    yield shell
    shell.close()


def test_without_procfs_or_pidfds_cells_input_interrupts_and_exits_work(bare, no_proc):
    assert stdin.supported() and not stdin.supported(no_proc)  # the fallback is what runs
    out = bare.run("echo out; echo err >&2; rec read 'Name: ' 0; read n; echo \"hi $n\"",
                   ask=lambda p, pw: p + "x")
    assert out.status == 0 and bare.text() == "out\nhi Name: x\n" and bare.text("stderr") == "err\n"
    out = _interrupt_when(bare, "waiting")
    assert out.interrupted and out.status == 130
    assert bare.run("exit 5").exit_code == 5  # seen by polling the child, no pidfd
