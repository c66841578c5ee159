"""What isolates the Developer's code on this server, found out once at start-up (and shown in /health).

`Isolation.executor` is "bubblewrap" (each run in its own namespaces, sandbox/run.py), "sandbox-service"
(the docker compose service, which runs the same thing), "unsafe-local" (the operator's explicit opt-in to
rlimits and Landlock only) or "unavailable" (no isolation tool: code runs are refused). `ok` is True only when
runs are isolated.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sandbox.budget import SandboxBudget
from sandbox.bwrap import SANDBOX_UID, SandboxPython, find_python
from sandbox.confine import landlock_abi
from sandbox.run import BwrapRunner

PROBE_CODE = "import os\nprint('isolated as', os.getuid())"


@dataclass(frozen=True)
class Isolation:
    executor: str
    ok: bool
    detail: str

    @property
    def runs_code(self) -> bool:
        """Whether code runs at all: isolated, or unisolated because the operator said so."""
        return self.ok or self.executor == "unsafe-local"


NOT_STARTED = Isolation("unavailable", False, "the code sandbox has not been started")


def refusal_message(isolation: Isolation) -> str:
    return (
        "Code execution is switched off on this server: no isolation tool is available "
        f"({isolation.detail}). Answer without running code, or tell the user the operator must install "
        "bubblewrap."
    )


def cgroup_v2_status() -> str:
    """Whether this process could give each run a cgroup v2 of its own (a delegated, writable cgroup with the
    memory and pids controllers), said plainly; runs use per-process limits when it cannot."""
    root = Path("/sys/fs/cgroup")
    controllers = root / "cgroup.controllers"
    if not controllers.is_file():
        unified = root / "unified" / "cgroup.controllers"
        if unified.is_file():
            found = unified.read_text().split()
            return f"cgroup v1 hierarchy with a v2 part that has only {found or 'no'} controllers"
        return "no cgroup v2 mounted"
    available = set(controllers.read_text().split())
    if not {"memory", "pids"} <= available:
        return f"cgroup v2 without the memory and pids controllers ({sorted(available)})"
    own = ""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            own = line[3:]
    directory = root / own.lstrip("/")
    if not os.access(directory, os.W_OK):
        return f"cgroup v2 at {directory} is not writable by this process (not delegated)"
    return f"cgroup v2 delegated at {directory}, not used yet: limits are per process"


def bwrap_version(bwrap: str) -> str:
    try:
        result = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10, env={})
    except (OSError, subprocess.SubprocessError):
        return "bubblewrap"
    return result.stdout.strip() or "bubblewrap"


async def probe_bubblewrap(
    bwrap_path: str, python: str | None, budget: SandboxBudget, *, landlock: bool
) -> tuple[Isolation, BwrapRunner | None]:
    """Find bwrap and an interpreter the sandbox can read, then run one snippet the real way; the runner only
    when all of that worked. Every refusal says what to do about it."""
    isolation, runner = await _probe(bwrap_path, python, budget, landlock=landlock)
    if not isolation.ok:
        isolation = Isolation(isolation.executor, False, isolation.detail + NO_ISOLATION_HINT)
    return isolation, runner


NO_ISOLATION_HINT = (
    ". Code runs are refused: install bubblewrap (Debian: apt-get install bubblewrap), use the sandbox service "
    "(CODE_EXECUTOR=sandbox), or accept unconfined runs with CODE_EXECUTOR=unsafe-local (see the README's risks)."
)


async def _probe(
    bwrap_path: str, python: str | None, budget: SandboxBudget, *, landlock: bool
) -> tuple[Isolation, BwrapRunner | None]:
    bwrap = shutil.which(bwrap_path)
    if bwrap is None:
        return Isolation("unavailable", False, f"bubblewrap not found at {bwrap_path!r}"), None
    root = os.geteuid() == 0
    interpreter: SandboxPython | None = find_python(python, other_uid=root)
    if interpreter is None:
        wanted = python or "this server's Python, /usr/local/bin/python3 or /usr/bin/python3"
        return Isolation("unavailable", False, f"no Python the sandbox user can read ({wanted})"), None
    runner = BwrapRunner(bwrap, interpreter, budget.with_timeout(20.0), landlock=landlock)
    result = await runner.run(PROBE_CODE)
    if result.exit_code != 0 or f"isolated as {SANDBOX_UID}" not in result.output:
        output = result.output.strip().replace("\n", " ")[:300]
        return Isolation("unavailable", False, f"{bwrap} could not start a sandbox: {output}"), None
    who = f"bwrap started as uid {SANDBOX_UID}" if root else f"bwrap started as this server's uid {os.geteuid()}"
    detail = (
        f"{bwrap_version(bwrap)}: each run in its own user, pid, network, IPC and UTS namespaces as uid "
        f"{SANDBOX_UID} ({who}), read-only system paths, {interpreter.executable}; budget per run: "
        f"{budget.describe()}; memory enforced per process ({cgroup_v2_status()}); "
        + (f"Landlock ABI {landlock_abi()} as an extra layer" if landlock and landlock_abi() else "no Landlock")
    )
    return Isolation("bubblewrap", True, detail), BwrapRunner(bwrap, interpreter, budget, landlock=landlock)
