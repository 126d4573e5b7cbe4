"""Checks of a kernel's command line before anything starts, and the text of its --help.

A kernel's command line is read by traitlets, which accepts too much for a program that frontends
start and users type by hand: a stray word (`python -m pykernel instal`) becomes an "extra argument"
and the kernel starts anyway, waiting forever for a frontend with a fresh connection file; an option
traitlets does not know gets argparse's puzzling "expected one argument"; `--NoSuchClass.x=1` is
silently ignored. `problem(argv, app)` finds these before traitlets parses anything and says what is
wrong in words; `launch()` prints it and exits with status 2, the usual status for a usage error.

What counts as known: the app's aliases and flags (with one or two dashes), traitlets' own help and
version switches, and `--Class.trait` for a config trait of a class the app configures, or of one of
their base classes (traitlets applies a base class's section to its subclasses).
"""

from __future__ import annotations

import difflib
from typing import Sequence

COMMANDS = ("install", "uninstall")
_BUILTIN = {"h", "help", "help-all", "version"}


def description(prog: str, what: str) -> str:
    """The --help text's head: what the program is, and the kernelspec commands beside the kernel."""
    return (f"{what}\n\nCommands (each has its own --help):\n\n"
            f"    {prog} install [--user | --sys-prefix | --prefix P] [--name N] ...\n"
            f"        write this kernel's kernelspec where Jupyter finds it\n"
            f"    {prog} uninstall [--name N] [--user | --sys-prefix | --prefix P]\n"
            f"        remove it\n\n"
            f"Without a command, run the kernel: {prog} -f CONNECTION_FILE [options below]")


def problem(argv: Sequence[str], app) -> str | None:
    """What is wrong with `argv` for `app` (a traitlets Application), or None."""
    takes_value = {name for name in app.aliases if isinstance(name, str)}
    known = takes_value | {name for name in app.flags if isinstance(name, str)} | _BUILTIN
    sections = _sections(app.classes)
    words = iter(argv)
    for word in words:
        if not word.startswith("-") or word == "-":
            return leftover([word])
        name, equals, _ = word.lstrip("-").partition("=")
        if "." in name:
            error = _config_problem(name, sections)
            if error:
                return error
        elif name not in known:
            return f"unknown option {word.partition('=')[0]!r}{_suggest(name, known, '--')}"
        if not equals and (name in takes_value or "." in name):
            if next(words, None) is None:  # else that was its value, whatever it looks like
                return f"option {word!r} needs a value"
    return None


def leftover(words: Sequence[str]) -> str | None:
    """The error for words that are neither options nor a command, or None when there are none."""
    if not words:
        return None
    word = words[0]
    return (f"unknown command {word!r}{_suggest(word, COMMANDS, '')}; "
            f"the commands are {' and '.join(COMMANDS)}, and the kernel itself takes only options")


def _sections(classes) -> dict[str, set[str]]:
    """Config section name -> the config traits a `--Section.trait` may set."""
    out: dict[str, set[str]] = {}
    for cls in classes:
        for klass in cls.__mro__:
            if hasattr(klass, "class_trait_names"):
                out.setdefault(klass.__name__, set()).update(klass.class_trait_names(config=True))
    return out


def _config_problem(name: str, sections: dict[str, set[str]]) -> str | None:
    section, _, trait = name.rpartition(".")
    if section not in sections:
        return f"unknown option '--{name}': no class {section!r}{_suggest(section, sections, '')}"
    if trait not in sections[section]:
        return (f"unknown option '--{name}': {section} has no setting {trait!r}"
                f"{_suggest(trait, sections[section], section + '.')}")
    return None


def _suggest(word: str, choices, prefix: str) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean {prefix + close[0]!r}?)" if close else ""
