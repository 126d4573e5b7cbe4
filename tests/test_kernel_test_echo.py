"""jupyter_kernel_test's conformance checks against the echo language: the core alone passes them."""

import unittest

import jupyter_kernel_test as jkt

from corefixtures import OnIpc


class EchoKernelTests(OnIpc, jkt.KernelTests):
    kernel_name = "echo"
    language_name = "echo"
    file_extension = ".txt"
    code_hello_world = "hello, world"
    code_stderr = "stderr oops"
    code_generate_error = "error raised"
    code_page_something = "page some text"
    code_execute_result = [{"code": "result 42", "result": "42"}]
    code_display_data = [{"code": "display shown", "mime": "text/plain"}]
    code_clear_output = "clear"
    completion_samples = [{"text": "s", "matches": {"sleep", "spin"}}]
    complete_code_samples = ["echo hi"]
    incomplete_code_samples = ["echo \\"]
    code_inspect_sample = "echo"


class EchoIopubWelcome(OnIpc, jkt.IopubWelcomeTests):
    ready_client = False
    kernel_name = "echo"
    support_iopub_welcome = True


del unittest
