"""A tiny language written only against the kernel core: it echoes code back as output."""

from pykernel.app import launch
from pykernel.kernel import Kernel, error_content


class EchoKernel(Kernel):
    implementation = "echo"
    kernel_name = "echo"
    display_name = "Echo"
    language_info = {"name": "echo", "mimetype": "text/plain", "file_extension": ".txt"}
    banner = "Echo kernel"

    def do_execute(self, ex):
        if ex.code.startswith("error"):
            self.stream("stderr", "bad\n")
            return error_content("EchoError", ex.code)
        if ex.code.startswith("input"):
            self.stream("stdout", self.input("? ") + "\n")
        elif not ex.silent:
            self.stream("stdout", ex.code)
        return {"status": "ok"}


if __name__ == "__main__":
    launch(EchoKernel)
