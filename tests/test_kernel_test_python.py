"""jupyter_kernel_test's conformance checks against the Python kernel: every one of them, history too."""

import unittest

import jupyter_kernel_test as jkt

from corefixtures import OnIpc


class PythonKernelTests(OnIpc, jkt.KernelTests):
    kernel_name = "pykernel"
    language_name = "python"
    file_extension = ".py"

    code_hello_world = "print('hello, world')"
    code_stderr = "import sys; print('test', file=sys.stderr)"
    code_generate_error = "raise ValueError('expected')"
    code_page_something = "zip?"
    code_execute_result = [
        {"code": "1+2+3", "result": "6"},
        {"code": "[n * n for n in range(1, 4)]", "result": "[1, 4, 9]"},
        {"code": "'ünïcode'", "result": "'ünïcode'"},
    ]
    code_display_data = [
        {"code": "from IPython.display import HTML, display; display(HTML('<b>test</b>'))",
         "mime": "text/html"},
        {"code": "from IPython.display import Math, display; display(Math('\\\\frac{1}{2}'))",
         "mime": "text/latex"},
    ]
    code_clear_output = "from IPython.display import clear_output; clear_output()"
    code_inspect_sample = "zip"
    completion_samples = [
        {"text": "zi", "matches": {"zip"}},
        {"text": "import sys; sys.getrefc", "matches": {"getrefcount"}},
    ]
    complete_code_samples = ["1", "print('hello, world')", "def f(x):\n  return x*2\n\n\n"]
    incomplete_code_samples = ["print('''hello", "def f(x):\n  x*2"]
    invalid_code_samples = ["import = 7q"]
    code_history_pattern = "1?2*"
    supported_history_operations = ("tail", "range", "search")


class PythonIopubWelcome(OnIpc, jkt.IopubWelcomeTests):
    ready_client = False
    kernel_name = "pykernel"
    support_iopub_welcome = True


del unittest
