"""`usage_request` on control: the kernel's CPU and memory and the host's, read from /proc.

Resource monitors (jupyter-resource-usage) ask kernels for this. CPU percentages are measured between
two calls, as `top` does: the first call reports 0. No psutil: Linux's /proc says all of it.
"""

from __future__ import annotations

import os
import socket
import time

from . import procs

_CLK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _proc_cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK  # utime + stime


def _proc_rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:
        return 0


def _host_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole host."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def _meminfo() -> dict:
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            name, value = line.split(":", 1)
            info[name] = int(value.split()[0]) * 1024
    total, available = info.get("MemTotal", 0), info.get("MemAvailable", info.get("MemFree", 0))
    used = total - available
    return {"total": total, "available": available, "used": used, "free": info.get("MemFree", 0),
            "percent": round(100 * used / total, 1) if total else 0.0}


class Usage:
    def __init__(self) -> None:
        self._last: tuple[float, float, tuple[float, float]] | None = None

    def reply(self) -> dict:
        pids = [os.getpid(), *procs.descendants()]
        now, cpu, host = time.monotonic(), sum(map(_proc_cpu_seconds, pids)), _host_cpu()
        kernel_cpu = host_cpu = 0.0
        if self._last is not None:
            then, cpu_then, host_then = self._last
            if now > then:
                kernel_cpu = round(100 * (cpu - cpu_then) / (now - then), 1)
            if host[1] > host_then[1]:
                host_cpu = round(100 * (host[0] - host_then[0]) / (host[1] - host_then[1]), 1)
        self._last = (now, cpu, host)
        return {"status": "ok", "hostname": socket.gethostname(), "pid": os.getpid(),
                "kernel_cpu": max(kernel_cpu, 0.0), "kernel_memory": sum(map(_proc_rss, pids)),
                "host_cpu_percent": host_cpu, "cpu_count": os.cpu_count(),
                "host_virtual_memory": _meminfo()}
