"""pykernel: a fast Jupyter kernel for Python, and the base for kernels in other languages."""

__version__ = "0.1.0"
