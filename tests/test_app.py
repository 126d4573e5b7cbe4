"""The kernel process's command line and config: every switch does what it says."""

import os
import subprocess
import sys

from corefixtures import execute, kernel_manager, running_kernel, stdout_of

TESTS = os.path.dirname(os.path.abspath(__file__))
ECHO = [sys.executable, os.path.join(TESTS, "echo_kernel.py")]


def echo_with(extra_argv, **km_kwargs):
    """The echo kernel started by jupyter_client with extra command-line arguments."""
    return running_kernel("echo", extra_arguments=extra_argv, **km_kwargs)


def greeting_of(kc) -> str:
    return stdout_of(execute(kc, "x")[1])[:-1]


def test_trait_on_the_command_line():
    with echo_with(["--EchoKernel.greeting=hi "]) as (km, kc):
        assert greeting_of(kc) == "hi "


def test_config_file_in_the_jupyter_config_dir(tmp_path, monkeypatch):
    (tmp_path / "pykernel_config.py").write_text("c.EchoKernel.greeting = 'file '\n")
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path))
    with echo_with([]) as (km, kc):
        assert greeting_of(kc) == "file "


def test_json_config_file(tmp_path, monkeypatch):
    (tmp_path / "pykernel_config.json").write_text('{"EchoKernel": {"greeting": "json "}}')
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path))
    with echo_with([]) as (km, kc):
        assert greeting_of(kc) == "json "


def test_config_option_and_command_line_precedence(tmp_path):
    cfg = tmp_path / "mine.py"
    cfg.write_text("c.EchoKernel.greeting = 'mine '\n")
    with echo_with([f"--config={cfg}"]) as (km, kc):
        assert greeting_of(kc) == "mine "
    with echo_with([f"--config={cfg}", "--EchoKernel.greeting=cli "]) as (km, kc):
        assert greeting_of(kc) == "cli "


def test_debug_logs_every_message(tmp_path):
    log = open(tmp_path / "err", "w")
    km = kernel_manager("echo")
    km.start_kernel(extra_arguments=["--debug"], stderr=log)
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=20)
        msg_id = execute(kc, "x")[0]["parent_header"]["msg_id"]
        kc.stop_channels()
    finally:
        km.shutdown_kernel(now=True)
        log.close()
    assert f"shell execute_request {msg_id}" in (tmp_path / "err").read_text()


def test_help_lists_the_switches():
    out = subprocess.run([*ECHO, "--help"], capture_output=True, text=True, timeout=20)
    assert out.returncode == 0
    for switch in ("-f", "--ip", "--transport", "--debug", "--config", "--no-parent-watch"):
        assert switch in out.stdout
    assert "EchoKernel.greeting" in subprocess.run(
        [*ECHO, "--help-all"], capture_output=True, text=True, timeout=20).stdout


def test_unknown_switch_is_an_error():
    out = subprocess.run([*ECHO, "--no-such-switch"], capture_output=True, text=True, timeout=20)
    assert out.returncode != 0
