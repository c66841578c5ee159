"""One budget per code run, shared by the app (tools/config.py) and the sandbox service (sandbox/runner.py).

Standard library only: the sandbox image ships this module. The same names and defaults are read from the
environment on both paths (CODE_TIMEOUT_S, CODE_MEMORY_MB, ...), so a run has the same limits wherever it runs.

Without a delegated cgroup v2 the memory budget is enforced per process: every process (and thread: the kernel
counts tasks) gets an address-space limit of memory_mb / max_processes, and a run cannot have more than
max_processes of them, so together they stay within memory_mb.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MEMORY_MB = 1024
DEFAULT_MAX_PROCESSES = 4
DEFAULT_DISK_MB = 256
DEFAULT_OUTPUT_BYTES = 64_000
DEFAULT_OPEN_FILES = 256
DEFAULT_NICE = 10
SHM_MB = 16  # /dev/shm is its own small tmpfs (multiprocessing's semaphores live there), on top of disk_mb
# The sandbox's own two processes (bubblewrap's pid 1 and the run's supervisor, sandbox/supervisor.py) count
# against the kernel's process limit too; they are small (about 1 MB and 15 MB) and run no user code.
SUPERVISOR_PROCESSES = 2


@dataclass(frozen=True)
class SandboxBudget:
    """What one run may use in total: wall time, memory, processes, CPU, disk, output."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_mb: int = DEFAULT_MEMORY_MB
    max_processes: int = DEFAULT_MAX_PROCESSES
    disk_mb: int = DEFAULT_DISK_MB
    output_bytes: int = DEFAULT_OUTPUT_BYTES
    open_files: int = DEFAULT_OPEN_FILES
    nice: int = DEFAULT_NICE

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.memory_mb < 32 or self.max_processes < 1 or self.disk_mb < 1:
            raise ValueError(f"an unusable run budget: {self}")

    @property
    def memory_per_process_mb(self) -> int:
        """The address-space limit of each process when no cgroup holds the whole run."""
        return max(self.memory_mb // self.max_processes, 16)

    @property
    def cpu_s_per_process(self) -> int:
        """CPU seconds one process may use: the wall timeout, so one busy process cannot outlast it."""
        return math.ceil(self.timeout_s) + 1

    @property
    def process_limit(self) -> int:
        """RLIMIT_NPROC for the run's user namespace: the user's processes plus the sandbox's own two."""
        return self.max_processes + SUPERVISOR_PROCESSES

    def with_timeout(self, timeout_s: float) -> SandboxBudget:
        return SandboxBudget(
            timeout_s=timeout_s,
            memory_mb=self.memory_mb,
            max_processes=self.max_processes,
            disk_mb=self.disk_mb,
            output_bytes=self.output_bytes,
            open_files=self.open_files,
            nice=self.nice,
        )

    def describe(self) -> str:
        return (
            f"{self.timeout_s:g} s, {self.memory_mb} MB ({self.memory_per_process_mb} MB x {self.max_processes} "
            f"processes), {self.disk_mb} MB disk, {self.output_bytes:,} bytes of output"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SandboxBudget:
        """The budget from CODE_* variables (the names tools/config.py reads), defaults where unset."""
        env = os.environ if env is None else env
        return cls(
            timeout_s=float(env.get("CODE_TIMEOUT_S", DEFAULT_TIMEOUT_S)),
            memory_mb=int(env.get("CODE_MEMORY_MB", DEFAULT_MEMORY_MB)),
            max_processes=int(env.get("CODE_MAX_PROCESSES", DEFAULT_MAX_PROCESSES)),
            disk_mb=int(env.get("CODE_DISK_MB", DEFAULT_DISK_MB)),
            output_bytes=int(env.get("CODE_OUTPUT_MAX_BYTES", DEFAULT_OUTPUT_BYTES)),
        )
