"""`python -m pykernel`: run the Python kernel, or install/uninstall its kernelspec."""

from .app import launch


def main() -> None:
    from .python.kernel import PythonKernel

    launch(PythonKernel)


if __name__ == "__main__":
    main()
