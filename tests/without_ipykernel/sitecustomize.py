"""Loaded at start-up by kernels of the `pykernel-without-ipykernel` spec (conftest.py puts this
folder on their PYTHONPATH): the real ipykernel, installed in the test environment, cannot be
imported, as in an environment where it is not installed."""

import sys


class HideIpykernel:
    """Every import of `ipykernel` (or its launcher) that reaches this hook fails."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("ipykernel", "ipykernel_launcher"):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden for this test)", name=name)
        return None


sys.meta_path.insert(0, HideIpykernel())
