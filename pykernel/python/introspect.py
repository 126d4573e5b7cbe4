"""Completion, inspection, is_complete and history, answered by IPython's own machinery.

- Completion uses IPython's completer (jedi and IPython's matchers), through the provisional
  `completions` API that also yields each match's type and signature; those go to the frontend under
  `metadata._jupyter_types_experimental`, as JupyterLab expects. Positions are code points on both
  sides (IPython indexes Python strings; the protocol counts code points), so no conversion is needed.
- Inspection asks `object_inspect_mime` for the token at the cursor: text/plain and text/html.
- is_complete is IPython's `check_complete` (the same rules the terminal uses for continuation lines).
- History comes from IPython's HistoryManager (`--HistoryManager.hist_file=:memory:` keeps it in memory),
  with session numbers made consistent (see `_entry`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .shell import PythonShell

TYPES_KEY = "_jupyter_types_experimental"

log = logging.getLogger("pykernel")


def complete(shell: "PythonShell", code: str, cursor_pos: int) -> dict:
    from IPython.core.completer import provisionalcompleter, rectify_completions

    try:
        with provisionalcompleter():
            completions = list(rectify_completions(
                code, shell.Completer.completions(code, cursor_pos)))
    except Exception:  # a completer (jedi, a custom one) failing on odd code: no matches
        log.debug("completion failed", exc_info=True)
        completions = []
    if not completions:
        return {"matches": [], "cursor_start": cursor_pos, "cursor_end": cursor_pos,
                "metadata": {}}
    types = [{"start": c.start, "end": c.end, "text": c.text, "type": c.type,
              "signature": c.signature} for c in completions]
    return {"matches": [c.text for c in completions], "cursor_start": completions[0].start,
            "cursor_end": completions[0].end, "metadata": {TYPES_KEY: types}}


def inspect(shell: "PythonShell", code: str, cursor_pos: int, detail_level: int) -> dict:
    from IPython.utils.tokenutil import token_at_cursor

    name = token_at_cursor(code, cursor_pos)
    try:
        bundle = shell.object_inspect_mime(name, detail_level=min(max(detail_level, 0), 1))
    except KeyError:
        return {"found": False, "data": {}, "metadata": {}}
    except Exception:  # a property or __getattr__ that raises while being looked at
        return {"found": False, "data": {}, "metadata": {}}
    if not shell.enable_html_pager:
        bundle.pop("text/html", None)
    return {"found": True, "data": bundle, "metadata": {}}


def is_complete(shell: "PythonShell", code: str) -> dict:
    status, indent = shell.input_transformer_manager.check_complete(code)
    if status == "incomplete":
        return {"status": status, "indent": " " * (indent or 0)}
    return {"status": status}


def history(shell: "PythonShell", kind: str, content: dict) -> list:
    hm = shell.history_manager
    raw = content.get("raw", True)
    output = content.get("output", False)
    if kind == "tail":
        entries = hm.get_tail(content.get("n"), raw=raw, output=output, include_latest=True)
    elif kind == "range":
        entries = hm.get_range(content.get("session", 0), content.get("start", 1),
                               content.get("stop"), raw=raw, output=output)
    else:
        entries = hm.search(content.get("pattern", "*"), raw=raw, output=output,
                            n=content.get("n"), unique=content.get("unique", False))
    return [_entry(hm, *e, output) for e in entries]


def _entry(hm, session: int, line: int, data, output: bool) -> list:
    """One history entry, as the same session number whichever way it was found.

    IPython answers ranges of the current session from memory, numbered session 0, and everything
    else from its database, numbered with the real session: a client that asks for the range of a
    session `tail` named must get that session number back. Results of the current session are in
    memory even when the database does not store output.
    """
    if session == 0:
        session = hm.session_number
    if output and session == hm.session_number and data[1] is None:
        data = (data[0], hm.output_hist_reprs.get(line))
    return [session, line, list(data) if output else data]
