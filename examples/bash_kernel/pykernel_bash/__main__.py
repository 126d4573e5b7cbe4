"""`python -m pykernel_bash`: run the Bash kernel, or install/uninstall its kernelspec."""

from pykernel.wrapper import launch

from .kernel import BashKernel

if __name__ == "__main__":
    launch(BashKernel)
