"""The public base for kernels in other languages.

    from pykernel.wrapper import WrapperKernel, launch

    class MyKernel(WrapperKernel):
        implementation = "mylang"
        language_info = {"name": "mylang", "mimetype": "text/plain", "file_extension": ".my"}
        def execute(self, code):
            return run_my_language(code)

    if __name__ == "__main__":
        launch(MyKernel)

`ProcessREPL` drives an interpreter child process for kernels that wrap one. Nothing here imports
IPython. See docs/write-a-kernel.md.
"""

from ..app import launch
from ..kernel import Execution, StdinNotAllowed
from .kernel import KernelError, WrapperKernel, mime_bundle
from .repl import Outcome, ProcessREPL

__all__ = ["Execution", "KernelError", "Outcome", "ProcessREPL", "StdinNotAllowed",
           "WrapperKernel", "launch", "mime_bundle"]
