"""Reading a line of bash around the cursor: what to complete or inspect, and is the code complete.

No shell runs here except `bash -n` (parse only) in `is_complete`: the answers that need the user's
shell (its functions, variables, directory) are asked of it by the kernel.
"""

from __future__ import annotations

import os
import re
import subprocess
from typing import NamedTuple

_BREAKS = set(" \t\n;|&()<>`'\"")
# After these, the next word names a command.
_COMMAND_BEFORE = ("", ";", "|", "&", "(", "`", "{", "!", "$(")
_COMMAND_WORDS = {"then", "do", "else", "elif", "if", "while", "until", "time", "sudo", "exec",
                  "command", "builtin", "xargs", "env", "nohup", "nice", "which", "type", "man",
                  "help", "watch", "timeout", "strace"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# characters to escape in a file name inserted into a command line
_SPECIAL = re.compile(r"([ \t\\'\"`$&|;<>()\[\]*?!#{}~])")


class Completion(NamedTuple):
    kind: str  # commands | files | variables | users
    word: str  # what to ask the shell to complete
    start: int  # where the replaced text begins
    prefix: str  # put before each match ('$' or '${' for variables, a leading '~')


def word_bounds(code: str, pos: int) -> tuple[int, int]:
    start = pos
    while start > 0 and code[start - 1] not in _BREAKS:
        start -= 1
    end = pos
    while end < len(code) and code[end] not in _BREAKS:
        end += 1
    return start, end


def completion_at(code: str, pos: int) -> Completion:
    start, _ = word_bounds(code, pos)
    word = code[start:pos]
    dollar = word.rfind("$")
    if dollar >= 0 and (word[dollar + 1:] == "" or _NAME.fullmatch(word[dollar + 1:].lstrip("{"))):
        brace = word[dollar + 1:dollar + 2] == "{"
        return Completion("variables", word[dollar + 1 + brace:], start + dollar,
                          "${" if brace else "$")
    if "=" in word and not word.startswith("="):  # NAME=value or --option=value: a file name
        cut = word.rindex("=") + 1
        return Completion("files", word[cut:], start + cut, "")
    if word.startswith("~") and "/" not in word:
        return Completion("users", word[1:], start, "~")
    if "/" not in word and _command_position(code[:start]):
        return Completion("commands", word, start, "")
    return Completion("files", word, start, "")


def _command_position(before: str) -> bool:
    text = before.rstrip(" \t")
    if text.endswith("\n") or any(text.endswith(t) for t in _COMMAND_BEFORE if t):
        return True
    if not text:
        return True
    last = text.split()[-1]
    return last in _COMMAND_WORDS


def escape_file(name: str) -> str:
    """Quote a file name for the command line, keeping a leading ~ (it must expand)."""
    head = "~" if name.startswith("~") else ""
    return head + _SPECIAL.sub(r"\\\1", name[len(head):])


def is_complete(code: str, bash: str = "bash") -> tuple[str, str] | str:
    """Parse with `bash -n`: ('incomplete', indent) when bash wants more, 'invalid' on a syntax
    error, else 'complete'."""
    if not code.strip():
        return "complete"
    env = {"LC_ALL": "C", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    result = subprocess.run([bash, "--norc", "--noprofile", "-n", "-O", "extglob"],
                            input=code.encode("utf-8", "surrogateescape"), capture_output=True,
                            env=env, timeout=10)
    err = result.stderr.decode("utf-8", "replace")
    if "unexpected end of file" in err or "unexpected EOF" in err or \
            "delimited by end-of-file" in err:
        return "incomplete", _indent(code)
    if result.returncode != 0:
        return "invalid"
    trailing = len(code) - len(code.rstrip("\\"))
    if trailing % 2:  # an unescaped backslash at the very end continues the line
        return "incomplete", _indent(code)
    return "complete"


_OPENERS = re.compile(r"(\bthen|\bdo|\belse|\bin|\{|\(|\|)\s*$")


def _indent(code: str) -> str:
    last = code.rstrip("\n").rsplit("\n", 1)[-1]
    indent = last[:len(last) - len(last.lstrip())]
    return indent + "  " if _OPENERS.search(last) else indent
