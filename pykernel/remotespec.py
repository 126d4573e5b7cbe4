"""Kernelspecs for remote launch: `python -m LANGUAGE install --remote ENGINE [--remote-hosts H,...]`.

What each engine reads from kernel.json to launch a kernel on another host:
- Enterprise Gateway: `metadata.process_proxy.class_name` names the process proxy; the distributed
  (ssh) one takes its hosts from `metadata.process_proxy.config.remote_hosts` (a comma-separated
  string), else from its own `--EnterpriseGatewayApp.remote_hosts`.
- gateway_provisioners: `metadata.kernel_provisioner.provisioner_name` is `distributed-provisioner`;
  its `config.remote_hosts` is a list, else `--DistributedProvisioner.remote_hosts`.
Both substitute `{kernel_id}`, `{response_address}`, `{public_key}` and `{port_range}` in argv and
start it on the chosen host over ssh, so argv runs the kernel itself in remote mode (remote.py): the
same Python path and pykernel must exist on every host. These specs use message-mode interrupts, which
reach the kernel over its control socket with no ssh or comm-port round trip.

Container and YARN launches go through the engines' own launcher scripts and an image: not here.
"""

from __future__ import annotations

ENGINES = ("enterprise-gateway", "gateway-provisioners")
LAUNCH_ARGV = ["--kernel-id", "{kernel_id}", "--port-range", "{port_range}",
               "--response-address", "{response_address}", "--public-key", "{public_key}"]
_EG_DISTRIBUTED = "enterprise_gateway.services.processproxies.distributed.DistributedProcessProxy"


def engine_metadata(engine: str, hosts: list[str]) -> dict:
    """The kernelspec metadata that hands the kernel to `engine`'s distributed launcher."""
    if engine == "enterprise-gateway":
        proxy: dict = {"class_name": _EG_DISTRIBUTED}
        if hosts:
            proxy["config"] = {"remote_hosts": ",".join(hosts)}
        return {"process_proxy": proxy}
    if engine == "gateway-provisioners":
        config = {"remote_hosts": list(hosts)} if hosts else {}
        return {"kernel_provisioner": {"provisioner_name": "distributed-provisioner",
                                       "config": config}}
    raise ValueError(f"--remote must be one of {', '.join(ENGINES)}, not {engine!r}")


def spec_options(engine: str, hosts_text: str, metadata: dict | None) -> dict:
    """Keyword arguments for `kernelspec.install` that make a remote-launch spec."""
    hosts = [h.strip() for h in (hosts_text or "").split(",") if h.strip()]
    return {"launch_argv": LAUNCH_ARGV, "interrupt_mode": "message",
            "metadata": {**(metadata or {}), **engine_metadata(engine, hosts)}}
