"""`ipykernel.connect`: where this kernel's connection file is (a frontend attaches through it)."""

from __future__ import annotations

import json
import os


def get_connection_file(app: object = None) -> str:
    """The path of the connection file this kernel was started with."""
    from pykernel.python.dropin import running_kernel

    if app is None:
        kernel = running_kernel()
        app = getattr(kernel, "parent", None)
    path = getattr(app, "connection_file", "")
    if not path:
        raise RuntimeError("this process is not a pykernel kernel started from a connection file")
    return os.path.abspath(path)


def get_connection_info(connection_file: str | None = None, unpack: bool = False) -> str | dict:
    """This kernel's connection info: the file's JSON text, or with `unpack` a dict whose `key`
    is bytes (ready for a Session)."""
    with open(connection_file or get_connection_file()) as f:
        text = f.read()
    if not unpack:
        return text
    info = json.loads(text)
    info["key"] = info.get("key", "").encode()
    return info


__all__ = ["get_connection_file", "get_connection_info"]
