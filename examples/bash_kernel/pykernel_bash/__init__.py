"""A Bash kernel for Jupyter, built on pykernel. Run `python -m pykernel_bash install --user`."""

__version__ = "0.1.0"
