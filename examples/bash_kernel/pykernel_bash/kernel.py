"""The Bash kernel: one long-lived interactive bash, driven by `pykernel.wrapper.ProcessREPL`.

Theory of operation (the shell's side is init.bash; read its opening comment too)
- A cell's code is written to a file in the REPL's private directory and run by two command lines
  that evaluate it at the shell's top level with the cell's own stdin, stdout and stderr, then
  report `done TOKEN STATUS`. State (variables, functions, aliases, the directory, jobs) persists
  because it is always the same bash.
- The status of the cell's last command decides the reply: 0 is ok, anything else an error
  (`ExitStatus`) so that "run all" stops where a command failed, as a script with `set -e` would.
  An interrupted cell answers KeyboardInterrupt, like every pykernel language. An interrupt at any
  moment of the cell counts, also one that comes before the cell's command reaches bash: the REPL
  keeps it for the cell (named by its request's msg_id), whose command is then not sent.
- If bash ends (`exit`, `exec`, a fatal signal, an uncontained `set -e`) a new one is started at
  once and the cell says so; the reply is an error unless bash exited with status 0.
- Completion and inspection ask the same bash between cells (`compgen`, `type`, `help`), through
  a function that changes no variable, no option and not `$?` of the next cell. While a cell runs
  (a subshell asks), file names are completed from the shell's directory as seen in /proc.
- is_complete parses with `bash -n` in a separate process: it never runs anything.
- Output and `display` records arrive on the REPL's I/O thread: they are published in a copy of
  the cell's context, so they carry the cell's request as parent, even after it has ended.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import secrets
import shlex
import signal
import subprocess
import threading
from typing import Any

from traitlets import Float, Unicode

from pykernel.wrapper import KernelError, Outcome, ProcessREPL, WrapperKernel

from . import __version__, media, words

log = logging.getLogger("pykernel")

INIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "init.bash")

RUN = ('\\__pk_pre {t} {e} && :; \\builtin eval "$__pk_code" <"$__pk_d/in" >&61 2>&62 61>&- 62>&-;'
       ' \\__pk_done $? {t} && :\n\\__pk_done $? {t} && :\n')
FINISH = "\\__pk_done 130 {t} && :\n"  # sent after an interrupt; quote-free, see ProcessREPL.run
START = ("exec 61>&1 62>&2 >/dev/null 2>/dev/null; __pk_d=$PYKERNEL_REPL_DIR;"
         " builtin unset -v PYKERNEL_REPL_DIR; builtin source {init} >&61 2>&62\n")
RCFILE = "builtin source {rc} </dev/null >&61 2>&62 61>&- 62>&- && :\n"
READY = "\\__pk_ready {t} && :\n"
QUERY = "\\__pk_query {t} {kind} {word} && :\n"

# `set -e`, `set -eu`, `set -o errexit`...: contain errexit from the cell's first line on
_ERREXIT = re.compile(r"\bset\b[^\n;|&]*(\s-[a-zA-Z]*e|errexit)")
_MAN_NOISE = re.compile(r".\x08|\x1b\[[0-9;]*m")


def describe_status(status: int) -> str:
    if status == 127:
        return f"exit status {status} (command not found)"
    if status == 126:
        return f"exit status {status} (command not executable)"
    if status > 128:
        try:
            return f"exit status {status} (killed by {signal.Signals(status - 128).name})"
        except ValueError:
            pass
    return f"exit status {status}"


def _startup_output(name: str, text: str) -> None:
    # bash's greeting on a pipe (job control is off) and whatever the rc file prints
    log.info("bash %s at start: %s", name, text.rstrip())


class BashKernel(WrapperKernel):
    implementation = "pykernel_bash"
    implementation_version = __version__
    kernel_name = "bash_pykernel"
    display_name = "Bash (pykernel)"
    #: logo-32x32.png, logo-64x64.png and logo-svg.svg, copied beside kernel.json by `install`
    logo_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resources")
    language_info = {"name": "bash", "version": "", "mimetype": "text/x-sh",
                     "file_extension": ".sh", "pygments_lexer": "bash", "codemirror_mode": "shell"}
    banner = "Bash, on pykernel: `display FILE` shows images and HTML; Tab completes; Shift-Tab " \
             "shows help."
    help_links = [{"text": "Bash manual", "url": "https://www.gnu.org/software/bash/manual/"}]

    bash = Unicode("bash", help="The bash to run (bash 4.4 or newer).").tag(config=True)
    rcfile = Unicode("~/.bashrc", help="A file bash sources at start, as a terminal's bash would "
                     "(empty: none). If bash does not start with it, it starts without.").tag(
                         config=True)
    startup_timeout = Float(20.0, help="Seconds bash (and the rc file) may take to start.").tag(
        config=True)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._lock = threading.Lock()  # one command at a time in the one bash
        self._ctx: contextvars.Context | None = None  # the running (or last) cell's context
        self.repl = ProcessREPL([self.bash, "--norc", "--noprofile", "--noediting", "-i"],
                                env=self._environment(), on_record=self._on_record)
        self._cell = os.path.join(self.repl.dir, "cell")
        self._answers = os.path.join(self.repl.dir, "q")
        self._start_warning = self._start(use_rc=True)

    @staticmethod
    def _environment() -> dict:
        env = dict(os.environ)
        env["HISTFILE"] = "/dev/null"  # an interactive bash would load (and save) ~/.bash_history
        env.setdefault("PAGER", "cat")
        return env

    def _start(self, use_rc: bool) -> str | None:
        """Start bash and wait until it is ready; return a warning to show, if any."""
        self.repl.start(on_output=_startup_output)  # not into the cell that restarts bash
        token = secrets.token_hex(8)
        command = START.format(init=shlex.quote(INIT))
        rc = os.path.expanduser(self.rcfile) if use_rc and self.rcfile else ""
        if rc and os.path.isfile(rc):
            command += RCFILE.format(rc=shlex.quote(rc))
        command += READY.format(t=token)
        out = self.repl.run(command, token, stdin=False, timeout=self.startup_timeout,
                            on_output=_startup_output)
        if out.status == 0:
            version = out.fields[0] if out.fields else ""
            self.language_info = {**type(self).language_info, "version": version.split("(")[0]}
            return None
        self.repl.kill()
        reason = "it took too long" if out.timed_out else f"bash exited with status {out.exit_code}"
        if rc and os.path.isfile(rc):
            return (f"bash did not start with {rc} ({reason}), so it was started without it\n"
                    + (self._start(use_rc=False) or ""))
        raise RuntimeError(f"bash did not start: {reason}")

    def _restart(self, exit_code: int | None) -> str:
        if self.repl.closed:  # the kernel is shutting down: no new bash
            raise KernelError("ShuttingDown", "the kernel is shutting down")
        if self.repl.alive:
            self.repl.kill()
        warning = self._start(use_rc=True) or ""
        how = f"with status {exit_code}" if exit_code is not None else ""
        return (f"[bash exited {how}; a new bash has started: variables, functions, aliases and "
                f"the working directory are back to their start]\n{warning}")

    # ---- execute ---------------------------------------------------------------------------------

    def execute(self, code: str) -> None:
        ctx = contextvars.copy_context()
        cell = self._cell_key()
        with self._lock:
            if self._start_warning:
                self.stderr(self._start_warning)
                self._start_warning = None
            self._ctx = ctx
            if self.repl.closed:
                raise KernelError("ShuttingDown", "the kernel is shutting down")
            with open(self._cell, "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write(code)
            out = self._run_cell(code, ctx, cell)
            if self.repl.closed:
                raise KernelError("ShuttingDown", "the kernel is shutting down")
            if out.exit_code is not None and not out.started:
                # bash had ended before the cell began (a background `kill $$`, say)
                self.stderr(self._restart(out.exit_code))
                out = self._run_cell(code, ctx, cell)
            if out.exit_code is not None:
                self.stderr(self._restart(out.exit_code))
                if out.exit_code:
                    raise KernelError("ExitStatus", f"bash exited with status {out.exit_code}",
                                      [describe_status(out.exit_code)])
                return None
        # An interrupted cell that did not succeed was ended by the interrupt, whatever status
        # it got: a `read` may see its input closed (status 1) before the SIGINT (130) arrives.
        if out.interrupted and out.status != 0:
            raise KeyboardInterrupt
        if out.status:
            raise KernelError("ExitStatus", str(out.status), [describe_status(out.status)])
        return None

    def _run_cell(self, code: str, ctx: contextvars.Context, cell: str | None) -> Outcome:
        token = secrets.token_hex(8)
        contain = "1" if _ERREXIT.search(code) else "0"
        return self.repl.run(RUN.format(t=token, e=contain), token, ask=self._ask,
                             on_output=lambda name, text: ctx.run(self.publish_stream, name, text),
                             finisher=FINISH.format(t=token), cell=cell)

    def _cell_key(self) -> str | None:
        """What names the running execute_request, for the REPL to keep an interrupt that comes
        before the cell's command is sent (in this context: the request's msg_id)."""
        return self.parent_header().get("msg_id") or None

    def _ask(self, prompt: str, password: bool) -> str | None:
        ex = self.execution
        if ex is None or not ex.allow_stdin:
            self.stderr("[a command is reading stdin, but this frontend cannot send input: "
                        "it gets end of file]\n")
            return None
        return self.input(prompt, password)

    def _on_record(self, fields: list[str]) -> str | None:
        """A `display` record, on the REPL's I/O thread; the answer goes back to the shell."""
        if fields[0] != "display" or len(fields) < 7:
            return None
        nonce, mime, display_id, update, path, temporary = fields[1:7]
        try:
            data = media.read_bundle(path, mime or None, temporary == "1")
        except media.MediaError as e:
            return f"{nonce} {e}"
        ctx = self._ctx or contextvars.copy_context()
        ctx.run(self.display, data, None, display_id or None, update=update == "1")
        return f"{nonce} ok"

    def interrupt(self) -> None:
        # On the main thread, in the context of the execute_request being interrupted, at any
        # point of it: also before `execute` has sent the cell, or between two commands of it.
        self.repl.interrupt(cell=self._cell_key())

    def shutdown(self, restart: bool) -> None:
        self.repl.close()

    def cleanup(self) -> None:
        self.repl.close()
        super().cleanup()

    # ---- questions to the shell ------------------------------------------------------------------

    def _query(self, kind: str, word: str) -> str | None:
        """Ask the shell between cells; None when it is busy or gone."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if not self.repl.alive:
                return None
            token = secrets.token_hex(8)
            out = self.repl.run(QUERY.format(t=token, kind=kind, word=shlex.quote(word)), token,
                                stdin=False, timeout=10)
            if out.status is None:
                return None
            with open(self._answers, encoding="utf-8", errors="replace") as f:
                return f.read()
        finally:
            self._lock.release()

    def complete(self, code: str, cursor_pos: int) -> Any:
        where = words.completion_at(code, cursor_pos)
        word = re.sub(r"\\(.)", r"\1", where.word) if where.kind == "files" else where.word
        answer = self._query(where.kind, word)
        if answer is None:
            if where.kind != "files":
                return None
            answer = self._files_from_proc(word)
        if where.kind == "files":
            dirs, _, files = answer.partition("\0\n")
            dirs = set(dirs.splitlines())
            names = [words.escape_file(f) + ("/" if f in dirs else "")
                     for f in dict.fromkeys(files.splitlines())]
            return sorted(names), where.start, cursor_pos
        names = [n for n in dict.fromkeys(answer.splitlines()) if n and not n.startswith("__pk_")]
        close = "}" if where.prefix == "${" else ""
        return sorted(where.prefix + n + close for n in names), where.start, cursor_pos

    def _files_from_proc(self, word: str) -> str:
        """compgen -d / -f's answer, made here from the shell's directory while it is busy."""
        try:
            cwd = os.readlink(f"/proc/{self.repl.pid}/cwd")
        except OSError:
            return ""
        head, tail = os.path.split(os.path.expanduser(word))
        shown_head = os.path.split(word)[0]
        try:
            entries = [e for e in os.scandir(os.path.join(cwd, head)) if e.name.startswith(tail)]
        except OSError:
            return ""
        names = {e.name: e.is_dir() for e in entries}
        join = (lambda n: os.path.join(shown_head, n)) if shown_head else (lambda n: n)
        return "\n".join(join(n) for n, d in names.items() if d) + "\0\n" + \
            "\n".join(join(n) for n in names)

    def inspect(self, code: str, cursor_pos: int, detail_level: int) -> str | None:
        start, end = words.word_bounds(code, cursor_pos)
        word = code[start:end]
        if word.startswith("$"):
            name = word.strip("${}")
            answer = self._query("variable", name) if words._NAME.fullmatch(name) else None
            return answer if answer and not answer.startswith(("bash:", "-bash:")) else None
        if not word:
            return None
        kind = (self._query("type", word) or "").strip()
        if not kind:
            return None
        parts = [self._query("describe", word) or ""]
        if kind in ("builtin", "keyword"):
            parts.append(self._query("help", word) or "")
        elif kind == "file":
            parts.append(self._man(word, detail_level) or "")
        return "\n".join(p.rstrip("\n") for p in parts if p) + "\n"

    def _man(self, name: str, detail_level: int) -> str | None:
        env = dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="80")
        try:
            result = subprocess.run(["man", name], capture_output=True, env=env, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None  # no man here
        if result.returncode != 0:
            return None
        text = _MAN_NOISE.sub("", result.stdout.decode("utf-8", "replace"))
        if detail_level == 0:
            lines = text.splitlines()
            text = "\n".join(lines[:40]) + ("\n[...]" if len(lines) > 40 else "")
        return text

    def is_complete(self, code: str) -> Any:
        return words.is_complete(code, self.bash)
