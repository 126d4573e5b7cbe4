"""What the shell's `display` command shows: a file's bytes as a mime bundle.

The type comes from `--mime`, else from the content's first bytes, else from the file name. Binary
types travel base64-encoded, as the notebook format stores them; text types as text.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import os

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)
_TEXT_TYPES = {"image/svg+xml", "application/javascript", "application/json"}
_EXTENSIONS = {".md": "text/markdown", ".markdown": "text/markdown", ".tex": "text/latex",
               ".latex": "text/latex", ".svg": "image/svg+xml", ".json": "application/json",
               ".htm": "text/html", ".html": "text/html"}


class MediaError(ValueError):
    """The bytes cannot be shown as asked."""


def sniff(data: bytes, name: str = "") -> str:
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    head = data[:512].lstrip().lower()
    if b"<svg" in head and (head.startswith(b"<svg") or head.startswith(b"<?xml")):
        return "image/svg+xml"
    if head.startswith((b"<!doctype html", b"<html")):
        return "text/html"
    ext = os.path.splitext(name)[1].lower()
    guess = (_EXTENSIONS.get(ext) or mimetypes.guess_type(name)[0]) if name else None
    if guess:
        return guess
    if head.startswith(b"<"):
        return "text/html"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise MediaError("cannot tell what this is; give --mime TYPE") from None
    return "text/plain"


def bundle(data: bytes, mime: str | None = None, name: str = "") -> dict:
    """A mime bundle for `data`, with a text/plain stand-in for types that are not text."""
    mime = (mime or sniff(data, name)).strip().lower()
    if "/" not in mime:
        raise MediaError(f"{mime!r} is not a MIME type (like image/png)")
    if mime.startswith("text/") or mime in _TEXT_TYPES:
        text = data.decode("utf-8", "replace")
        if mime == "application/json":
            try:
                return {mime: json.loads(text), "text/plain": text}
            except ValueError as e:
                raise MediaError(f"not valid JSON: {e}") from None
        out = {mime: text}
        if mime != "text/plain":
            out["text/plain"] = f"<{mime}, {len(data)} bytes>"
        return out
    label = os.path.basename(name) if name else "data"
    return {mime: base64.b64encode(data).decode("ascii"),
            "text/plain": f"<{mime}: {label}, {len(data)} bytes>"}


def read_bundle(path: str, mime: str | None = None, temporary: bool = False) -> dict:
    """The bundle for the file at `path` (removed afterwards if `temporary`)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise MediaError(f"{path}: {e.strerror}") from None
    finally:
        if temporary:
            try:
                os.unlink(path)
            except OSError:
                pass
    return bundle(data, mime, "" if temporary else path)
