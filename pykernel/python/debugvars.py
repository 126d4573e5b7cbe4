"""The user's variables as DAP `variables`, for the debugger's view while no thread is stopped.

Theory of operation
- While code is stopped, debugpy describes the variables of the stopped frames. While nothing is
  stopped, the frontend still shows the kernel's globals (`inspectVariables`) and lets the user
  expand them (`variables` with a reference from that list): `VariableTable` answers both, from
  the user's namespace.
- A reference holds a live object until the next `reset()` (each `inspectVariables` starts one), so
  the table only ever holds what the latest listing showed and what the user expanded since.
- It runs on the control thread, possibly while user code runs on the main thread: it never
  iterates a live dict (it copies the items first), never calls `dir()` (properties could run),
  and a failing or huge `repr` becomes a short string, never an error.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Mapping
from typing import Any

#: names IPython and the kernel put in the user namespace: not the user's variables
HIDDEN = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open", "_", "__", "___", "_i",
                    "_ii", "_iii", "_ih", "_oh", "_dh"})
_NUMBERED = re.compile(r"_i?\d+$")

_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 200
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxdict = 20
_MAX_VALUE = 1000  # characters of a value shown (reprlib leaves custom reprs whole)


def from_ipython(name: str) -> bool:
    """Whether a global of that name is IPython's bookkeeping (In, Out, _i3, _5, ...)."""
    return name in HIDDEN or _NUMBERED.match(name) is not None


def visible(name: str) -> bool:
    """Whether a namespace entry is one of the user's variables."""
    return not (from_ipython(name) or (name.startswith("__") and name.endswith("__")))


def value_repr(value: Any) -> str:
    try:
        text = _repr.repr(value)
    except Exception as e:
        return f"<repr failed: {type(e).__name__}>"
    return text if len(text) <= _MAX_VALUE else text[:_MAX_VALUE] + "..."


class VariableTable:
    """DAP variable descriptions for a namespace, with references for expandable values."""

    def __init__(self) -> None:
        self._refs: dict[int, Any] = {}

    def reset(self) -> None:
        self._refs = {}

    def top(self, namespace: Mapping[str, Any]) -> list[dict]:
        """The visible variables of `namespace`, by name."""
        items = sorted(((k, v) for k, v in list(namespace.items())
                        if isinstance(k, str) and visible(k)), key=_first)
        return [self.describe(name, value, name) for name, value in items]

    def children(self, reference: int, start: int = 0, count: int = 0) -> list[dict] | None:
        """The members of the value behind `reference` (None: unknown reference)."""
        if reference not in self._refs:
            return None
        value, path = self._refs[reference]
        try:
            entries = _members(value, path)
        except Exception:  # a container that fails to iterate shows no members
            entries = []
        return [self.describe(*e) for e in (entries[start:start + count] if count else
                                           entries[start:])]

    def describe(self, name: str, value: Any, evaluate_name: str | None) -> dict:
        ref = 0
        if _has_members(value):
            ref = len(self._refs) + 1
            self._refs[ref] = (value, evaluate_name)
        var = {"name": name, "value": value_repr(value), "type": type(value).__name__,
               "variablesReference": ref}
        if evaluate_name is not None:
            var["evaluateName"] = evaluate_name
        return var


def _has_members(value: Any) -> bool:
    if isinstance(value, (str, bytes, bytearray, int, float, complex, bool, type(None))):
        return False
    try:
        if isinstance(value, (Mapping, list, tuple, set, frozenset)):
            return len(value) > 0
        return bool(_attributes(value))
    except Exception:  # a broken container or __dict__ is shown, not expanded
        return False


def _members(value: Any, path: str | None) -> list[tuple[str, Any, str | None]]:
    """(name, value, expression) for each member of a container or attribute of an object."""
    sub = (lambda s: f"{path}{s}") if path is not None else (lambda s: None)
    if isinstance(value, Mapping):
        return [(value_repr(k), v, sub(f"[{k!r}]")) for k, v in list(value.items())]
    if isinstance(value, (list, tuple)):
        return [(str(i), v, sub(f"[{i}]")) for i, v in enumerate(list(value))]
    if isinstance(value, (set, frozenset)):
        return [(str(i), v, None) for i, v in enumerate(list(value))]
    return [(k, v, sub(f".{k}")) for k, v in _attributes(value)]


def _attributes(value: Any) -> list[tuple[str, Any]]:
    try:
        attrs = vars(value)
    except TypeError:
        return []
    return sorted(((k, v) for k, v in list(attrs.items())
                   if isinstance(k, str) and not (k.startswith("__") and k.endswith("__"))),
                  key=_first)


def _first(pair: tuple) -> Any:
    return pair[0]
