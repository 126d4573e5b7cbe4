"""The Python language for pykernel: IPython's shell on the kernel core. See kernel.py."""
