"""`install --remote ENGINE`: kernelspecs that Enterprise Gateway and gateway_provisioners launch.

The gateway_provisioners spec is run for real: jupyter_client's AsyncKernelManager with the
`distributed-provisioner` from the installed spec, on host 127.0.0.1 (which that provisioner
launches without ssh), its response manager receiving the kernel's connection info.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from corefixtures import TIMEOUT, wait_pid_exit
from pykernel.kernelspec import launcher_argv

os.environ.setdefault("GP_RESPONSE_IP", "127.0.0.1")  # the engine listens on loopback only
os.environ.setdefault("GP_RESPONSE_PORT", str(20000 + os.getpid() % 20000))

LAUNCH = ["--kernel-id", "{kernel_id}", "--port-range", "{port_range}",
          "--response-address", "{response_address}", "--public-key", "{public_key}"]


def install(prefix, *argv) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pykernel", "install", "--prefix", str(prefix),
                           *argv], capture_output=True, text=True, timeout=TIMEOUT)


def spec(prefix, name) -> dict:
    return json.loads((prefix / "share" / "jupyter" / "kernels" / name / "kernel.json").read_text())


def test_enterprise_gateway_spec(tmp_path):
    out = install(tmp_path, "--name", "py-eg", "--remote", "enterprise-gateway",
                  "--remote-hosts", "node1, node2")
    assert out.returncode == 0, out.stderr
    s = spec(tmp_path, "py-eg")
    assert s["argv"] == [*launcher_argv("pykernel"), *LAUNCH]
    assert s["metadata"]["process_proxy"] == {
        "class_name": "enterprise_gateway.services.processproxies.distributed.DistributedProcessProxy",
        "config": {"remote_hosts": "node1,node2"}}
    assert s["metadata"]["debugger"] is True  # the language's own metadata stays
    assert s["interrupt_mode"] == "message" and s["kernel_protocol_version"] == "5.6"


def test_gateway_provisioners_spec(tmp_path):
    out = install(tmp_path, "--name", "py-gp", "--remote", "gateway-provisioners",
                  "--interrupt-mode", "signal")
    assert out.returncode == 0, out.stderr
    s = spec(tmp_path, "py-gp")
    assert s["argv"] == [*launcher_argv("pykernel"), *LAUNCH]
    assert s["metadata"]["kernel_provisioner"] == {"provisioner_name": "distributed-provisioner",
                                                   "config": {}}
    assert s["interrupt_mode"] == "signal"  # an explicit choice wins


def test_bash_kernel_gets_the_same_option(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pykernel_bash", "install", "--prefix",
                          str(tmp_path), "--remote", "gateway-provisioners"],
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr
    name = os.listdir(tmp_path / "share" / "jupyter" / "kernels")[0]
    s = spec(tmp_path, name)
    assert s["argv"] == [*launcher_argv("pykernel_bash"), *LAUNCH]
    assert s["language"] == "bash"


@pytest.mark.parametrize("argv, message", [
    (["--remote-hosts", "a"], "--remote-hosts needs --remote"),
    (["--remote", "yarn"], "invalid choice"),
])
def test_bad_remote_install(tmp_path, argv, message):
    out = install(tmp_path, *argv)
    assert out.returncode != 0 and message in out.stderr


def test_gateway_provisioners_launches_the_installed_spec(tmp_path):
    pytest.importorskip("gateway_provisioners", reason="gateway_provisioners is not installed")
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    out = install(tmp_path, "--name", "py-gp", "--remote", "gateway-provisioners",
                  "--remote-hosts", "127.0.0.1")
    assert out.returncode == 0, out.stderr
    path = tmp_path / "share" / "jupyter" / "kernels" / "py-gp" / "kernel.json"
    s = json.loads(path.read_text())
    s["argv"] += ["--ip", "127.0.0.1"]  # tests listen on loopback only (the spec binds 0.0.0.0)
    path.write_text(json.dumps(s))
    ksm = KernelSpecManager(kernel_dirs=[str(path.parent.parent)])

    async def run() -> int:
        km = AsyncKernelManager(kernel_name="py-gp", kernel_spec_manager=ksm)
        # the engine refuses to start kernels for root, which CI runs as
        env = dict(os.environ, KERNEL_USERNAME="pykernel-test")
        await asyncio.wait_for(km.start_kernel(env=env), TIMEOUT)
        try:
            assert type(km.provisioner).__name__ == "DistributedProvisioner"
            kc = km.client()
            kc.start_channels()
            try:
                await kc.wait_for_ready(timeout=TIMEOUT)
                reply = await kc.execute_interactive("print('on the cluster')", timeout=TIMEOUT,
                                                     output_hook=outputs.append)
                assert reply["content"]["status"] == "ok"
                pid = km.provisioner.pid
                assert await km.is_alive()  # the provisioner's poll: a signal 0 on the comm port
            finally:
                kc.stop_channels()
        finally:
            await asyncio.wait_for(km.shutdown_kernel(), TIMEOUT)
        return pid

    outputs: list = []
    pid = asyncio.run(run())
    text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
    assert text == "on the cluster\n"
    assert wait_pid_exit(pid)
