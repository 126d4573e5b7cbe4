"""Loads pykernel/wire.py by its path, as the module `pykernel_wire`.

Theory: the bench's client and floor kernel need only the wire layer, and must not pay for (or break on)
whatever `pykernel/__init__.py` imports, nor need pykernel installed. wire.py is stdlib-only by design,
so loading the file alone is enough. It is registered in sys.modules because dataclasses look it up there.
"""

import importlib.util
import sys
from pathlib import Path

WIRE_PATH = Path(__file__).resolve().parent.parent / "pykernel" / "wire.py"


def load():
    if "pykernel_wire" in sys.modules:
        return sys.modules["pykernel_wire"]
    spec = importlib.util.spec_from_file_location("pykernel_wire", WIRE_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["pykernel_wire"] = module
    spec.loader.exec_module(module)
    return module


wire = load()
