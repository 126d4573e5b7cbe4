"""jupyter_kernel_test's conformance checks against kernels built on WrapperKernel: the Bash kernel
(examples/bash_kernel) and the calculator (tests/calc_kernel.py)."""

import jupyter_kernel_test as jkt

from corefixtures import OnIpc


class BashKernelTests(OnIpc, jkt.KernelTests):
    kernel_name = "bash-pykernel"
    language_name = "bash"
    file_extension = ".sh"

    code_hello_world = "echo 'hello, world'"
    code_stderr = "echo oops >&2"
    code_generate_error = "false"  # (a command's own stderr would be a second message)
    code_display_data = [
        {"code": "echo '<b>bold</b>' | display --mime text/html", "mime": "text/html"},
        {"code": "printf '%s' '<svg xmlns=\"http://www.w3.org/2000/svg\"/>' | display",
         "mime": "image/svg+xml"},
    ]
    completion_samples = [
        {"text": "compg", "matches": {"compgen"}},
        {"text": "echo $HOM", "matches": {"$HOME"}},
    ]
    complete_code_samples = ["echo hi", "if true; then\n  echo yes\nfi", "cat <<EOF\nx\nEOF"]
    incomplete_code_samples = ["if true; then", "echo 'open", "for i in 1 2; do", "cat <<EOF\nx"]
    invalid_code_samples = ["fi", "echo )"]
    code_inspect_sample = "echo"


class CalcKernelTests(OnIpc, jkt.KernelTests):
    kernel_name = "calc"
    language_name = "calc"
    file_extension = ".calc"

    code_hello_world = "say hello, world"
    code_stderr = "warn careful"
    code_generate_error = "fail on purpose"
    code_execute_result = [
        {"code": "1 + 2", "result": "3"},
        {"code": "12 * 2", "result": "24"},
        {"code": "10 - 4", "result": "6"},
    ]
    code_display_data = [{"code": "show 7", "mime": "text/html"}]
    code_clear_output = "clear"
    completion_samples = [{"text": "sq", "matches": {"sqrt"}}]
    complete_code_samples = ["1 + 2", "x = 3"]
    incomplete_code_samples = ["(1 + 2", "x = 1 +"]
    invalid_code_samples = ["1 $ 2"]
    code_inspect_sample = "sqrt"
    code_history_pattern = "1 + *"
    supported_history_operations = ("tail", "range", "search")


class BashIopubWelcome(OnIpc, jkt.IopubWelcomeTests):
    ready_client = False
    kernel_name = "bash-pykernel"
    support_iopub_welcome = True
