"""pykernel: a fast Jupyter kernel for Python, and the base for kernels in other languages."""

__version__ = "0.1.0"


def embed_kernel(local_ns=None, module=None, **options):
    """Serve a Jupyter kernel inside this program, in the caller's namespace, until a frontend
    shuts it down; then return. Call it from the main thread. See pykernel.python.embed."""
    import sys

    from .python.embed import embed_kernel as embed

    caller = sys._getframe(1)
    if local_ns is None:
        local_ns = caller.f_locals
    if module is None:
        from .python.embed import _module_of

        module = _module_of(caller.f_globals)
    return embed(local_ns, module, **options)
