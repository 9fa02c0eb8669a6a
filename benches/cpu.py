"""CPU time of a process, for the benchmarks that say where a run's time went."""

from __future__ import annotations

import os
from pathlib import Path


def own_cpu_s() -> float:
    """User + system CPU seconds this process has used so far (all its threads)."""
    t = os.times()
    return t.user + t.system


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds another process has used so far (Linux ``/proc/<pid>/stat``)."""
    after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(after_name[11]) + int(after_name[12])) / os.sysconf("SC_CLK_TCK")
