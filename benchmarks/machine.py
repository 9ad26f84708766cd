"""What the benchmarks read about this process and the machine: memory, CPU time, and
the CPU time other processes took meanwhile (the box has 2 cores, so anything else
running shows in every figure and each step reports it)."""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from typing import Any


def rss_kib() -> int:
    """Current resident set size in KiB (from /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss_kib(who: int = resource.RUSAGE_SELF) -> int:
    """Peak RSS; ru_maxrss is KiB on Linux (bytes on macOS)."""
    peak = resource.getrusage(who).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def machine_info() -> dict[str, Any]:
    """The platform, Python, CPU count and torch's threads, for a result file."""
    import torch

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def own_cpu_seconds() -> float:
    """User + system CPU seconds of this process so far."""
    times = os.times()
    return times.user + times.system


def system_busy_seconds() -> float:
    """CPU seconds all processes on the machine have used since boot (0 without /proc)."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = handle.readline().split()[1:]
    except OSError:
        return 0.0
    # user nice system idle iowait irq softirq steal ...: everything but idle and iowait
    busy = sum(int(value) for i, value in enumerate(fields[:8]) if i not in (3, 4))
    return busy / os.sysconf("SC_CLK_TCK")


class Contention:
    """Wall time, this process's CPU time and the CPU time other processes used while a
    block ran: ``wall``, ``own`` and ``others`` after the block."""

    def __enter__(self) -> Contention:
        self._own = own_cpu_seconds()
        self._busy = system_busy_seconds()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.own = own_cpu_seconds() - self._own
        self.others = max(0.0, system_busy_seconds() - self._busy - self.own)
